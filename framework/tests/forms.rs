//! Forms end to end: every field type through parse → validate → render →
//! parse, each validator's message, escaping on re-render, and forms in
//! views through the test client (URL-encoded and multipart alike).

use std::collections::HashMap;

use manouche::db::Choices;
use manouche::db::fields::{Date, DateTime, Decimal, Email, Slug, Time, Url, Uuid};
use manouche::forms::{BoundForm, Form, FormData, FormErrors, ValidationError};
use manouche::prelude::*;
use manouche::test::Client;
use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Choices)]
enum Size {
    Small,
    #[choice(label = "Really big")]
    Large,
}

/// One field of every kind a form can hold.
#[derive(Debug, Clone, PartialEq, Form)]
struct Everything {
    #[form(max_length = 40)]
    text: String,
    #[form(widget = textarea)]
    long_text: String,
    email: Email,
    url: Url,
    slug: Slug,
    small: i16,
    whole: i32,
    big: i64,
    count: u32,
    ratio: f64,
    #[form(max_digits = 6, decimal_places = 2)]
    price: Decimal,
    agreed: bool,
    day: Date,
    at: Time,
    when: DateTime,
    key: Uuid,
    size: Size,
    maybe: Option<i32>,
    #[form(choices = [("red", "Red"), ("green", "Green"), ("blue", "Blue")])]
    colours: Vec<String>,
    #[form(choices = [("a", "Option A"), ("b", "Option B")], widget = radio_select)]
    pick: String,
    #[form(widget = hidden)]
    token: String,
    #[form(widget = password, required = false)]
    secret: String,
}

fn everything_data() -> Vec<(&'static str, &'static str)> {
    vec![
        ("text", "Hello"),
        ("long_text", "line one\r\nline two"),
        ("email", "ada@example.com"),
        ("url", "https://example.com/a?b=c&d=e"),
        ("slug", "hello-world"),
        ("small", "-12"),
        ("whole", "42"),
        ("big", "9007199254740993"),
        ("count", "7"),
        ("ratio", "0.25"),
        ("price", "1234.50"),
        ("agreed", "on"),
        ("day", "2024-02-29"),
        ("at", "13:45:10"),
        ("when", "2024-02-29T13:45:10"),
        ("key", "67e55044-10b1-426f-9247-bb680e5fe0c8"),
        ("size", "large"),
        ("maybe", ""),
        ("colours", "red"),
        ("colours", "blue"),
        ("pick", "b"),
        ("token", "t0k3n"),
        ("secret", "hunter2"),
    ]
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// What a browser would submit for the rendered form: inputs with their
/// value (checkboxes and radios only when checked), textareas, selected
/// options.
fn submit(html: &str) -> FormData {
    let attr = |tag: &str, name: &str| {
        Regex::new(&format!(r#"\s{name}="([^"]*)""#))
            .unwrap()
            .captures(tag)
            .map(|c| unescape(&c[1]))
    };
    let flag = |tag: &str, name: &str| {
        Regex::new(&format!(r"\s{name}[\s>]"))
            .unwrap()
            .is_match(tag)
    };
    let mut data = FormData::new();
    let element = Regex::new(
        r"(?s)<input[^>]*>|<textarea[^>]*>\n(.*?)</textarea>|<select[^>]*>(.*?)</select>",
    )
    .unwrap();
    let option = Regex::new(r#"<option value="([^"]*)"( selected)?>"#).unwrap();
    for m in element.captures_iter(html) {
        let tag = m.get(0).unwrap().as_str();
        if tag.starts_with("<input") {
            let ty = attr(tag, "type").unwrap();
            let name = attr(tag, "name").unwrap();
            match ty.as_str() {
                "checkbox" | "radio" => {
                    if flag(tag, "checked") {
                        data.append(name, attr(tag, "value").unwrap_or_else(|| "on".into()));
                    }
                }
                _ => data.append(name, attr(tag, "value").unwrap_or_default()),
            }
        } else if tag.starts_with("<textarea") {
            data.append(attr(tag, "name").unwrap(), unescape(&m[1]));
        } else {
            let name = attr(tag, "name").unwrap();
            for o in option.captures_iter(&m[2]) {
                if o.get(2).is_some() {
                    data.append(name.clone(), unescape(&o[1]));
                }
            }
        }
    }
    data
}

#[test]
fn every_field_type_round_trips() {
    let form = BoundForm::<Everything>::bind(FormData::from_pairs(everything_data()));
    assert!(form.is_valid(), "{:?}", form.errors());
    let first = form.cleaned().unwrap().clone();
    assert_eq!(first.size, Size::Large);
    assert_eq!(first.colours, ["red", "blue"]);
    assert_eq!(first.maybe, None);
    assert_eq!(first.long_text, "line one\r\nline two");
    assert_eq!(first.when.to_rfc3339(), "2024-02-29T13:45:10+00:00");

    // Shown again for editing, submitted as a browser would, cleaned again.
    let edit = BoundForm::with_initial(&first);
    let html = edit.as_div().to_string();
    let resubmitted = submit(&html);
    // The password is never sent back to the browser: the user types it.
    assert!(!html.contains("hunter2"), "{html}");
    assert_eq!(resubmitted.get("secret"), Some(""));
    let again = BoundForm::<Everything>::bind(resubmitted);
    assert!(again.is_valid(), "{:?}\n{html}", again.errors());
    let second = again.cleaned().unwrap().clone();
    assert_eq!(
        second,
        Everything {
            secret: String::new(),
            ..first.clone()
        }
    );

    // A bound form re-renders what was submitted, and submits the same.
    let html = form.as_div().to_string();
    let third = BoundForm::<Everything>::bind(submit(&html));
    assert_eq!(
        third.cleaned().cloned(),
        Some(Everything {
            secret: String::new(),
            ..first
        })
    );
}

#[test]
fn script_is_escaped_in_every_field_on_re_render() {
    let evil = "<script>alert('x')</script>\"";
    let mut data: Vec<(&str, &str)> = everything_data()
        .into_iter()
        .map(|(k, _)| (k, evil))
        .collect();
    data.push(("colours", evil));
    let form = BoundForm::<Everything>::bind(FormData::from_pairs(data));
    assert!(!form.is_valid());
    let html = form.as_div().to_string();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("alert('x')"), "{html}");
    // Shown back escaped where a value is shown: text, textarea, hidden.
    let escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&quot;";
    assert!(
        html.contains(&format!(r#"name="text" value="{escaped}""#)),
        "{html}"
    );
    assert!(html.contains(&format!("{escaped}</textarea>")), "{html}");
    assert!(
        html.contains(&format!(r#"name="token" value="{escaped}""#)),
        "{html}"
    );
    // The error messages that quote the value escape it too.
    assert!(
        html.contains(&format!("Select a valid choice. {} is not one", escaped)),
        "{html}"
    );
}

#[derive(Debug, Form)]
struct Checked {
    #[form(min_length = 3, max_length = 5)]
    code: String,
    #[form(min_value = 1, max_value = 10)]
    rating: i32,
    #[form(min_value = 0.5)]
    weight: Option<f64>,
    #[form(max_digits = 4, decimal_places = 2)]
    amount: Option<Decimal>,
    #[form(email)]
    contact: Option<String>,
    #[form(url)]
    site: Option<String>,
    #[form(slug)]
    handle: Option<String>,
    #[form(regex = "^[A-Z]{2}[0-9]{2}$")]
    plate: Option<String>,
    #[form(min_value = "2024-01-01", max_value = "2024-12-31")]
    day: Option<Date>,
    #[form(validators = [not_admin])]
    username: Option<String>,
    #[form(required)]
    terms: bool,
    #[form(choices = [("s", "Small"), ("l", "Large")])]
    size: Option<String>,
    size_enum: Option<Size>,
    #[form(input_formats = ["%d.%m.%Y"])]
    born: Option<Date>,
}

fn not_admin(value: &str) -> Result<(), ValidationError> {
    if value.eq_ignore_ascii_case("admin") {
        return Err(ValidationError::new("That name is reserved.").with_code("reserved"));
    }
    Ok(())
}

fn checked(pairs: &[(&str, &str)]) -> BoundForm<Checked> {
    let mut data = vec![("code", "abcd"), ("rating", "5"), ("terms", "on")];
    data.retain(|(k, _)| !pairs.iter().any(|(p, _)| p == k));
    data.extend_from_slice(pairs);
    BoundForm::bind(FormData::from_pairs(data))
}

#[test]
fn each_validator_says_what_is_wrong() {
    assert!(checked(&[]).is_valid(), "{:?}", checked(&[]).errors());
    let cases: &[(&str, &str, &str, &str)] = &[
        ("code", "", "This field is required.", "required"),
        ("code", "   ", "This field is required.", "required"),
        (
            "code",
            "ab",
            "Ensure this value has at least 3 characters (it has 2).",
            "min_length",
        ),
        (
            "code",
            "abcdef",
            "Ensure this value has at most 5 characters (it has 6).",
            "max_length",
        ),
        (
            "code",
            "a\0bc",
            "Null characters are not allowed.",
            "null_characters_not_allowed",
        ),
        (
            "rating",
            "0",
            "Ensure this value is greater than or equal to 1.",
            "min_value",
        ),
        (
            "rating",
            "11",
            "Ensure this value is less than or equal to 10.",
            "max_value",
        ),
        ("rating", "ten", "Enter a whole number.", "invalid"),
        ("rating", "1e1", "Enter a whole number.", "invalid"),
        (
            "weight",
            "0.25",
            "Ensure this value is greater than or equal to 0.5.",
            "min_value",
        ),
        ("weight", "heavy", "Enter a number.", "invalid"),
        (
            "amount",
            "123.45",
            "Ensure that there are no more than 4 digits in total.",
            "max_digits",
        ),
        (
            "amount",
            "1.234",
            "Ensure that there are no more than 2 decimal places.",
            "max_decimal_places",
        ),
        (
            "amount",
            "123.4",
            "Ensure that there are no more than 2 digits before the decimal point.",
            "max_whole_digits",
        ),
        ("contact", "ada@", "Enter a valid email address.", "invalid"),
        (
            "site",
            "javascript:alert(1)",
            "Enter a valid URL.",
            "invalid",
        ),
        (
            "handle",
            "a b",
            "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.",
            "invalid",
        ),
        ("plate", "AB123", "Enter a valid value.", "invalid"),
        (
            "day",
            "2023-12-31",
            "Ensure this value is greater than or equal to 2024-01-01.",
            "min_value",
        ),
        (
            "day",
            "2025-01-01",
            "Ensure this value is less than or equal to 2024-12-31.",
            "max_value",
        ),
        ("day", "yesterday", "Enter a valid date.", "invalid"),
        ("username", "Admin", "That name is reserved.", "reserved"),
        ("terms", "", "This field is required.", "required"),
        (
            "size",
            "m",
            "Select a valid choice. m is not one of the available choices.",
            "invalid_choice",
        ),
        (
            "size_enum",
            "huge",
            "Select a valid choice. huge is not one of the available choices.",
            "invalid_choice",
        ),
        ("born", "2024-13-45", "Enter a valid date.", "invalid"),
    ];
    for (field, value, message, code) in cases {
        let form = checked(&[(field, value)]);
        assert!(!form.is_valid(), "{field}={value:?} passed");
        let errors = form.errors().field(field);
        assert_eq!(errors.len(), 1, "{field}={value:?}: {errors:?}");
        assert_eq!(errors[0].message(), *message, "{field}={value:?}");
        assert_eq!(errors[0].code(), *code, "{field}={value:?}");
        assert_eq!(
            form.errors().len(),
            1,
            "only {field} is wrong: {:?}",
            form.errors()
        );
    }
    // Formats of one's own come first, Django's still work.
    let form = checked(&[("born", "25.10.2006")]);
    assert_eq!(
        form.cleaned().unwrap().born,
        Date::from_ymd_opt(2006, 10, 25)
    );
    let form = checked(&[("born", "2006-10-25")]);
    assert_eq!(
        form.cleaned().unwrap().born,
        Date::from_ymd_opt(2006, 10, 25)
    );
    // Empty optional values skip their validators.
    let form = checked(&[("plate", ""), ("contact", " "), ("day", "")]);
    assert!(form.is_valid(), "{:?}", form.errors());
}

#[derive(Debug, Form)]
#[form(clean = Self::check)]
struct Signup {
    #[form(max_length = 20, help_text = "Letters & digits <b>only</b>.")]
    username: String,
    #[form(widget = password)]
    password: String,
    #[form(widget = password, label = "Password (again)")]
    password2: String,
    #[form(disabled, initial = "free")]
    plan: String,
}

impl Signup {
    fn check(&mut self, errors: &mut FormErrors) {
        if self.password != self.password2 {
            errors.add(Some("password2"), "The two password fields didn’t match.");
        }
        if self.username == self.password {
            errors.add(None, "The password is too similar to the username.");
        }
    }
}

#[test]
fn the_forms_own_check_adds_errors_to_fields_and_to_the_form() {
    let form = BoundForm::<Signup>::bind(FormData::from_pairs([
        ("username", "ada"),
        ("password", "ada"),
        ("password2", "other"),
        ("plan", "enterprise"),
    ]));
    assert!(!form.is_valid());
    assert_eq!(
        form.errors().field("password2")[0].message(),
        "The two password fields didn’t match."
    );
    assert_eq!(
        form.errors().non_field()[0].message(),
        "The password is too similar to the username."
    );
    let html = form.as_div().to_string();
    assert!(
        html.starts_with(
            r#"<ul class="errorlist nonfield"><li>The password is too similar to the username.</li></ul>"#
        ),
        "{html}"
    );
    // A disabled field keeps its initial value, whatever was sent.
    let form = BoundForm::<Signup>::bind(FormData::from_pairs([
        ("username", "ada"),
        ("password", "s3cret-pass"),
        ("password2", "s3cret-pass"),
        ("plan", "enterprise"),
    ]));
    assert_eq!(form.cleaned().unwrap().plan, "free");
    assert!(
        form.as_div()
            .as_str()
            .contains(r#"name="plan" value="free" disabled id="id_plan""#)
    );
    // The errors as Django's get_json_data().
    let mut form = form;
    form.add_error(
        Some("username"),
        ValidationError::new("Taken.").with_code("unique"),
    );
    assert!(!form.is_valid());
    assert_eq!(
        serde_json::to_value(form.errors()).unwrap(),
        serde_json::json!({"username": [{"message": "Taken.", "code": "unique"}]})
    );
}

#[test]
fn fields_render_as_djangos_accessible_markup() {
    let form = BoundForm::<Signup>::bind(FormData::from_pairs([("username", "")]));
    let username = form.field("username").unwrap();
    assert_eq!(
        username.as_field_group().as_str(),
        "<label for=\"id_username\">Username:</label>\n\
         <div class=\"helptext\" id=\"id_username_helptext\">Letters &amp; digits &lt;b&gt;only&lt;/b&gt;.</div>\n\
         <ul class=\"errorlist\" id=\"id_username_error\"><li>This field is required.</li></ul>\n\
         <input type=\"text\" name=\"username\" maxlength=\"20\" required aria-invalid=\"true\" \
         aria-describedby=\"id_username_helptext id_username_error\" id=\"id_username\">"
    );
    assert_eq!(
        form.field("password2").unwrap().label_tag().as_str(),
        r#"<label for="id_password2">Password (again):</label>"#
    );
    assert!(form.field("nope").is_err());
    // Unbound: no errors, no aria-invalid, the help text still described.
    let form = BoundForm::<Signup>::new();
    assert_eq!(
        form.field("username").unwrap().widget().as_str(),
        r#"<input type="text" name="username" maxlength="20" required aria-describedby="id_username_helptext" id="id_username">"#
    );
    // A prefix names and ids every field.
    let form = BoundForm::<Signup>::new().prefixed("new");
    assert!(form.as_div().as_str().contains(r#"name="new-username""#));
    assert!(
        form.as_div()
            .as_str()
            .contains(r#"<label for="id_new-username">"#)
    );
    let form = BoundForm::<Signup>::bind(FormData::from_pairs([
        ("new-username", "ada"),
        ("new-password", "pw-one-two"),
        ("new-password2", "pw-one-two"),
    ]))
    .prefixed("new");
    assert!(form.is_valid(), "{:?}", form.errors());
}

#[derive(Debug, Form)]
struct Comment {
    #[form(max_length = 30)]
    name: String,
    #[form(widget = textarea, max_length = 500)]
    body: String,
    #[form(choices = [("1", "One"), ("2", "Two")])]
    tags: Vec<String>,
}

#[derive(Template)]
#[template(
    source = r#"<form method="post">{{ form }}<button>Send</button></form>"#,
    ext = "html"
)]
struct CommentPage {
    form: BoundForm<Comment>,
}

async fn comment(form: BoundForm<Comment>) -> Result<Response> {
    match form.into_cleaned() {
        Ok(c) => Ok(format!("{}|{}|{}", c.name, c.body, c.tags.join(",")).into_response()),
        Err(form) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(CommentPage { form }.render()?),
        )
            .into_response()),
    }
}

async fn search(form: BoundForm<Comment>) -> String {
    format!("{}:{}", form.is_bound(), form.errors().len())
}

fn client() -> Client {
    let urls = Urls::new().path("comment/", post(comment), "comment").path(
        "search/",
        get(search),
        "search",
    );
    Client::new(Project::new(Settings::default()).urls(urls)).unwrap()
}

fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "----manouche0123";
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nnot a field\r\n--{boundary}--\r\n"
    ));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_view_validates_urlencoded_and_multipart_alike() {
    let c = client();
    let fields = [
        ("name", "Ada <3"),
        ("body", ""),
        ("tags", "1"),
        ("tags", "3"),
    ];
    let r = c.post("/comment/").form(&fields).send().await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text();
    assert!(page.contains(r#"value="Ada &lt;3""#), "{page}");
    assert!(page.contains("<li>This field is required.</li>"), "{page}");
    assert!(
        page.contains("Select a valid choice. 3 is not one of the available choices."),
        "{page}"
    );
    let (content_type, body) = multipart(&fields);
    let r = c
        .post("/comment/")
        .header("content-type", &content_type)
        .body(body)
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.text(), page, "the same form, however it was encoded");

    let fields = [
        ("name", "Ada"),
        ("body", "Hi\r\nthere"),
        ("tags", "1"),
        ("tags", "2"),
    ];
    let r = c.post("/comment/").form(&fields).send().await;
    assert_eq!(r.text(), "Ada|Hi\r\nthere|1,2");
    let (content_type, body) = multipart(&fields);
    let r = c
        .post("/comment/")
        .header("content-type", &content_type)
        .body(body)
        .send()
        .await;
    assert_eq!(r.text(), "Ada|Hi\r\nthere|1,2");
}

#[tokio::test]
async fn bad_bodies_get_a_clear_status_never_a_500() {
    let c = client();
    let r = c
        .post("/comment/")
        .header("content-type", "application/json")
        .body(r#"{"name": "Ada"}"#)
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let many = "a=1&".repeat(1001);
    let r = c
        .post("/comment/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(many)
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .post("/comment/")
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda")
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Bad UTF-8 and stray percent signs are replaced, as Django does.
    let r = c
        .post("/comment/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(&b"name=%FF%zz&body=x&tags=1"[..])
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    assert_eq!(r.text(), "\u{fffd}%zz|x|1");
    // A GET form reads the query string.
    let r = c.get("/search/?name=x").send().await;
    assert_eq!(r.text(), "true:2");
}

#[test]
fn optional_required_and_checkbox_semantics() {
    #[derive(Debug, Form)]
    struct Prefs {
        #[form(required = false)]
        nickname: String,
        age: Option<u8>,
        newsletter: bool,
        #[form(required = false, choices = [("a", "A")])]
        extras: Vec<String>,
    }
    let form = BoundForm::<Prefs>::bind(FormData::new());
    assert!(form.is_valid(), "{:?}", form.errors());
    let prefs = form.cleaned().unwrap();
    assert_eq!(prefs.nickname, "");
    assert_eq!(prefs.age, None);
    assert!(!prefs.newsletter);
    assert!(prefs.extras.is_empty());
    let html = form.as_div().to_string();
    assert!(!html.contains("required"), "nothing is required: {html}");
    let form = BoundForm::<Prefs>::bind(FormData::from_pairs([
        ("nickname", "  Ada  "),
        ("age", "300"),
        ("newsletter", "on"),
    ]));
    assert_eq!(
        form.errors().field("age")[0].message(),
        "Ensure this value is less than or equal to 255."
    );
    let html = form.as_div().to_string();
    assert!(
        html.contains(r#"name="newsletter" id="id_newsletter" checked"#),
        "{html}"
    );
    let form = BoundForm::<Prefs>::bind(FormData::from_pairs([("nickname", "  Ada  ")]));
    assert_eq!(form.cleaned().unwrap().nickname, "Ada", "stripped");
    let labels: HashMap<&str, &str> = form.fields().map(|f| (f.name(), f.label())).collect();
    assert_eq!(labels["newsletter"], "Newsletter");
}
