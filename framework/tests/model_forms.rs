//! Model forms built from `ModelMeta`: the fields and widgets a model
//! gives, foreign keys and choices as `<select>`s, the unique checks
//! (before saving and when the database refuses), saving new and existing
//! rows with their many-to-many relations, and escaping on re-render.
//! Django's `tests/model_forms` cases, on SQLite and on PostgreSQL when
//! `DATABASE_URL` is set.

#[path = "support/library.rs"]
mod library;

use library::{Book, Label, Status, Writer, book, label, setup, writer};
use manouche::db::testing::for_each_database;
use manouche::db::{Error, ForeignKey, Model, Slug};
use manouche::forms::{FormData, ModelForm};

fn data(pairs: &[(&str, &str)]) -> FormData {
    FormData::from_pairs(pairs.iter().copied())
}

/// A failed expectation as a database error, so that `for_each_database`
/// names the backend.
fn fail(message: impl Into<String>) -> Error {
    Error::Definition(message.into())
}

#[tokio::test]
async fn fields_and_widgets_come_from_the_model() {
    for_each_database(|db| async move {
        setup(&db).await?;
        writer(&db, "Ursula").await?;
        writer(&db, "Octavia").await?;
        label(&db, "sf").await?;
        let form = ModelForm::new(Book::default()).load(&db).await?;
        let names: Vec<&str> = form.bound_fields().map(|f| f.name()).collect();
        // No generated key, no auto_now_add date, no reverse relation.
        assert_eq!(
            names,
            [
                "title", "slug", "writer", "status", "price", "pages", "in_print", "labels"
            ]
        );
        let html = form.as_div().to_string();
        assert!(
            html.contains(r#"<input type="text" name="title" maxlength="100" required id="id_title">"#),
            "{html}"
        );
        assert!(html.contains(r#"<input type="text" name="slug" maxlength="50" required id="id_slug">"#));
        // The foreign key: a <select> of the writers, in their ordering,
        // after the blank choice.
        assert!(
            html.contains(
                "<select name=\"writer\" required id=\"id_writer\">\n  <option value=\"\">---------</option>\n  \
                 <option value=\"2\">Octavia</option>\n  <option value=\"1\">Ursula</option>\n</select>"
            ),
            "{html}"
        );
        // Choices with a default: no blank choice, the default selected.
        assert!(
            html.contains(
                "<select name=\"status\" required id=\"id_status\">\n  <option value=\"draft\" selected>Draft</option>\n  \
                 <option value=\"published\">Published</option>\n</select>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                r#"<input type="number" name="price" step="0.01" id="id_price">"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"<input type="number" name="pages" required id="id_pages">"#));
        // A declared default is shown; a bool is never required.
        assert!(html.contains(r#"<input type="checkbox" name="in_print" id="id_in_print" checked>"#));
        assert!(
            html.contains(
                "<select name=\"labels\" id=\"id_labels\" multiple>\n  <option value=\"1\">sf</option>\n</select>"
            ),
            "{html}"
        );
        // An Option<Email>: an email input, not required.
        let writer_form = ModelForm::new(Writer::default());
        assert!(
            writer_form
                .as_div()
                .as_str()
                .contains(r#"<input type="email" name="email" maxlength="254" id="id_email">"#)
        );
        Ok(())
    })
    .await;
}

#[test]
fn fields_and_exclude_choose_and_order_the_fields() {
    let form = ModelForm::new(Book::default())
        .fields(&["pages", "title"])
        .expect("both are fields");
    let names: Vec<&str> = form.bound_fields().map(|f| f.name()).collect();
    assert_eq!(names, ["pages", "title"]);
    let form = ModelForm::new(Book::default())
        .exclude(&["writer", "labels", "price"])
        .expect("all are fields");
    let names: Vec<&str> = form.bound_fields().map(|f| f.name()).collect();
    assert_eq!(names, ["title", "slug", "status", "pages", "in_print"]);
    // Not a field, or not one a form edits: a mistake in the view's code.
    let err = ModelForm::new(Book::default())
        .fields(&["title", "nope"])
        .unwrap_err();
    assert_eq!(err.to_string(), "the form has no field `nope`");
    assert!(
        ModelForm::new(Book::default())
            .fields(&["created"])
            .is_err()
    );
    assert!(ModelForm::new(Book::default()).fields(&["id"]).is_err());
}

#[tokio::test]
async fn save_creates_a_row_with_its_many_to_many() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let ursula = writer(&db, "Ursula").await?;
        let sf = label(&db, "sf").await?;
        let classic = label(&db, "classic").await?;
        let form = ModelForm::new(Book::default())
            .bind(
                &db,
                data(&[
                    ("title", "  The Dispossessed "),
                    ("slug", "the-dispossessed"),
                    ("writer", &ursula.id.to_string()),
                    ("status", "published"),
                    ("price", "12.50"),
                    ("pages", "387"),
                    ("labels", &sf.id.to_string()),
                    ("labels", &classic.id.to_string()),
                ]),
            )
            .await?;
        assert!(form.is_valid(), "{:?}", form.errors());
        let saved = form
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        let id = saved.pk().ok_or_else(|| fail("no key"))?;
        let row = Book::objects().filter(Book::id.eq(id)).get(&db).await?;
        assert_eq!(row.title, "The Dispossessed");
        assert_eq!(row.writer.id(), ursula.pk().as_ref());
        assert_eq!(row.status, Status::Published);
        assert_eq!(row.price, Some("12.50".parse().expect("a decimal")));
        assert_eq!(row.pages, 387);
        // The box was not ticked: false, though the default is true.
        assert!(!row.in_print);
        let mut labels: Vec<String> = row
            .labels
            .all(&db)
            .await?
            .into_iter()
            .map(|l| l.name)
            .collect();
        labels.sort();
        assert_eq!(labels, ["classic", "sf"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn save_updates_a_row_and_replaces_its_many_to_many() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let ursula = writer(&db, "Ursula").await?;
        let octavia = writer(&db, "Octavia").await?;
        let sf = label(&db, "sf").await?;
        let classic = label(&db, "classic").await?;
        let existing = book(&db, "Kindred", "kindred", &ursula).await?;
        existing.labels.add(&db, &[&sf]).await?;
        // The edit form shows the row as stored.
        let form = ModelForm::new(existing.clone()).load(&db).await?;
        let html = form.as_div().to_string();
        assert!(html.contains(r#"value="Kindred""#), "{html}");
        assert!(
            html.contains(&format!(
                r#"<option value="{}" selected>Ursula</option>"#,
                ursula.id
            )),
            "{html}"
        );
        assert!(
            html.contains(&format!(
                r#"<option value="{}" selected>sf</option>"#,
                sf.id
            )),
            "{html}"
        );
        assert!(html.contains(r#"name="pages" value="100""#), "{html}");
        let form = ModelForm::new(existing.clone())
            .bind(
                &db,
                data(&[
                    ("title", "Kindred"),
                    // Its own slug: not a duplicate of itself.
                    ("slug", "kindred"),
                    ("writer", &octavia.id.to_string()),
                    ("status", "draft"),
                    ("pages", "264"),
                    ("in_print", "on"),
                    ("labels", &classic.id.to_string()),
                ]),
            )
            .await?;
        assert!(form.is_valid(), "{:?}", form.errors());
        let saved = form
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        assert_eq!(saved.pk(), existing.pk());
        assert_eq!(Book::objects().count(&db).await?, 1);
        let row = Book::objects().get(&db).await?;
        assert_eq!((row.pages, row.in_print), (264, true));
        assert_eq!(row.writer.id(), octavia.pk().as_ref());
        assert_eq!(row.created, existing.created, "auto_now_add is kept");
        let labels: Vec<String> = row
            .labels
            .all(&db)
            .await?
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(labels, ["classic"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_bad_or_unknown_key_is_a_field_error() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let ursula = writer(&db, "Ursula").await?;
        let sf = label(&db, "sf").await?;
        let base = |writer: &str, labels: &[&str]| {
            let mut pairs = vec![
                ("title", "T".to_owned()),
                ("slug", "t".to_owned()),
                ("writer", writer.to_owned()),
                ("status", "draft".to_owned()),
                ("pages", "1".to_owned()),
            ];
            for l in labels {
                pairs.push(("labels", (*l).to_owned()));
            }
            FormData::from_pairs(pairs)
        };
        let invalid_choice =
            "Select a valid choice. That choice is not one of the available choices.";
        for bad in ["999", "abc", "1.5", "-1", "99999999999999999999999"] {
            let form = ModelForm::new(Book::default())
                .bind(&db, base(bad, &[]))
                .await?;
            assert!(!form.is_valid());
            assert_eq!(
                form.errors().field("writer")[0].message(),
                invalid_choice,
                "{bad}"
            );
            assert_eq!(form.errors().field("writer")[0].code(), "invalid_choice");
        }
        let form = ModelForm::new(Book::default())
            .bind(&db, base("", &[]))
            .await?;
        assert_eq!(
            form.errors().field("writer")[0].message(),
            "This field is required."
        );
        let good = ursula.id.to_string();
        let form = ModelForm::new(Book::default())
            .bind(&db, base(&good, &[&sf.id.to_string(), "zzz"]))
            .await?;
        assert_eq!(
            form.errors().field("labels")[0].message(),
            "“zzz” is not a valid value."
        );
        let form = ModelForm::new(Book::default())
            .bind(&db, base(&good, &["404"]))
            .await?;
        assert_eq!(
            form.errors().field("labels")[0].message(),
            "Select a valid choice. 404 is not one of the available choices."
        );
        // Choices narrowed by the view: only those are accepted.
        let mut form = ModelForm::new(Book::default());
        form.field_mut("writer")
            .map_err(|e| fail(e.to_string()))?
            .set_choices(vec![("".into(), "---------".into())]);
        let form = form.bind(&db, base(&good, &[])).await?;
        assert_eq!(form.errors().field("writer")[0].message(), invalid_choice);
        assert_eq!(Book::objects().count(&db).await?, 0);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn values_are_checked_with_djangos_messages() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let ursula = writer(&db, "Ursula").await?;
        let long = "x".repeat(101);
        let form = ModelForm::new(Book::default())
            .bind(
                &db,
                data(&[
                    ("title", &long),
                    ("slug", "not a slug"),
                    ("writer", &ursula.id.to_string()),
                    ("status", "lost"),
                    ("price", "1.234"),
                    ("pages", "many"),
                ]),
            )
            .await?;
        let errors = form.errors();
        let first = |name: &str| errors.field(name).first().map(|e| e.message().to_owned());
        assert_eq!(
            first("title").as_deref(),
            Some("Ensure this value has at most 100 characters (it has 101).")
        );
        assert_eq!(
            first("slug").as_deref(),
            Some("Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.")
        );
        assert_eq!(
            first("status").as_deref(),
            Some("Select a valid choice. lost is not one of the available choices.")
        );
        assert_eq!(
            first("price").as_deref(),
            Some("Ensure that there are no more than 2 decimal places.")
        );
        assert_eq!(first("pages").as_deref(), Some("Enter a whole number."));
        let form = ModelForm::new(Book::default())
            .bind(&db, data(&[("pages", "3000000000")]))
            .await?;
        assert_eq!(
            form.errors().field("pages")[0].message(),
            "Ensure this value is less than or equal to 2147483647."
        );
        assert_eq!(
            form.errors().field("title")[0].message(),
            "This field is required."
        );
        // Optional fields: empty is NULL.
        let form = ModelForm::new(Writer::default())
            .bind(&db, data(&[("name", "Octavia"), ("email", "")]))
            .await?;
        let saved = form
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        assert_eq!(saved.email, None);
        let form = ModelForm::new(Writer::default())
            .bind(&db, data(&[("name", "Ann"), ("email", "ann@")]))
            .await?;
        assert_eq!(
            form.errors().field("email")[0].message(),
            "Enter a valid email address."
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_unique_value_taken_is_an_error_on_its_field() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let ursula = writer(&db, "Ursula").await?;
        let form = ModelForm::new(Writer::default())
            .bind(&db, data(&[("name", "Ursula")]))
            .await?;
        assert!(!form.is_valid());
        let errors = form.errors().field("name");
        assert_eq!(errors[0].message(), "Writer with this Name already exists.");
        assert_eq!(errors[0].code(), "unique");
        assert!(form.errors().non_field().is_empty());
        assert!(
            form.as_div()
                .as_str()
                .contains(r#"<ul class="errorlist" id="id_name_error"><li>Writer with this Name already exists.</li></ul>"#)
        );
        // Its own row is not a duplicate.
        let form = ModelForm::new(ursula.clone())
            .bind(&db, data(&[("name", "Ursula"), ("email", "u@example.com")]))
            .await?;
        assert!(form.is_valid(), "{:?}", form.errors());
        form.save(&db).await?.map_err(|f| fail(format!("{:?}", f.errors())))?;
        assert_eq!(Writer::objects().count(&db).await?, 1);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_unique_value_taken_meanwhile_is_an_error_not_a_500() {
    for_each_database(|db| async move {
        setup(&db).await?;
        // Two requests validate the same new name; the first saves.
        let first = ModelForm::new(Writer::default())
            .bind(&db, data(&[("name", "Ursula")]))
            .await?;
        let second = ModelForm::new(Writer::default())
            .bind(&db, data(&[("name", "Ursula")]))
            .await?;
        assert!(first.is_valid() && second.is_valid());
        first
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        // The database refuses the second: the same error, on the field.
        let Err(form) = second.save(&db).await? else {
            return Err(fail("a duplicate was saved"));
        };
        assert!(!form.is_valid());
        assert_eq!(
            form.errors().field("name")[0].message(),
            "Writer with this Name already exists."
        );
        assert!(
            form.instance().pk().is_none(),
            "the rolled-back insert left no key"
        );
        assert_eq!(Writer::objects().count(&db).await?, 1);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unique_together_as_django_reports_it() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let ursula = writer(&db, "Ursula").await?;
        let octavia = writer(&db, "Octavia").await?;
        book(&db, "Kindred", "kindred", &ursula).await?;
        let fields = |writer: &Writer| {
            FormData::from_pairs([
                ("title", "Kindred again".to_owned()),
                ("slug", "kindred".to_owned()),
                ("writer", writer.id.to_string()),
                ("status", "draft".to_owned()),
                ("pages", "10".to_owned()),
            ])
        };
        // Both fields in the form: an error on the whole form.
        let form = ModelForm::new(Book::default())
            .bind(&db, fields(&ursula))
            .await?;
        assert!(!form.is_valid());
        assert_eq!(
            form.errors().non_field()[0].message(),
            "Book with this Writer and Slug already exists."
        );
        assert_eq!(form.errors().non_field()[0].code(), "unique_together");
        assert!(form.errors().field("slug").is_empty());
        // Another writer may use the slug.
        let form = ModelForm::new(Book::default())
            .bind(&db, fields(&octavia))
            .await?;
        assert!(form.is_valid(), "{:?}", form.errors());
        // The writer set by the view, only the slug in the form: the error
        // is the slug's.
        let mine = Book {
            writer: ForeignKey::from(&ursula),
            ..Default::default()
        };
        let form = ModelForm::new(mine)
            .exclude(&["writer"])
            .map_err(|e| fail(e.to_string()))?
            .bind(&db, fields(&ursula))
            .await?;
        assert_eq!(
            form.errors().field("slug")[0].message(),
            "Book with this Writer and Slug already exists."
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unique_together_taken_meanwhile_lands_on_the_field_in_the_form() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let ursula = writer(&db, "Ursula").await?;
        let new_book = || Book {
            writer: ForeignKey::from(&ursula),
            ..Default::default()
        };
        let submission = data(&[
            ("title", "A"),
            ("slug", "same"),
            ("status", "draft"),
            ("pages", "1"),
        ]);
        let first = ModelForm::new(new_book())
            .exclude(&["writer"])
            .map_err(|e| fail(e.to_string()))?
            .bind(&db, submission.clone())
            .await?;
        let second = ModelForm::new(new_book())
            .exclude(&["writer"])
            .map_err(|e| fail(e.to_string()))?
            .bind(&db, submission)
            .await?;
        first
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        let Err(form) = second.save(&db).await? else {
            return Err(fail("a duplicate was saved"));
        };
        assert_eq!(
            form.errors().field("slug")[0].message(),
            "Book with this Writer and Slug already exists."
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn script_is_escaped_on_re_render() {
    for_each_database(|db| async move {
        setup(&db).await?;
        writer(&db, "<script>alert('w')</script>").await?;
        let evil = "<script>alert(1)</script>";
        let form = ModelForm::new(Book::default())
            .bind(
                &db,
                data(&[
                    ("title", evil),
                    ("slug", evil),
                    ("writer", evil),
                    ("status", evil),
                    ("price", evil),
                    ("pages", evil),
                    ("labels", evil),
                ]),
            )
            .await?;
        assert!(!form.is_valid());
        let html = form.to_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains(r#"value="&lt;script&gt;alert(1)&lt;/script&gt;""#), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#x27;w&#x27;)&lt;/script&gt;</option>"), "{html}");
        assert!(
            html.contains("Select a valid choice. &lt;script&gt;alert(1)&lt;/script&gt; is not one of the available choices."),
            "{html}"
        );
        Ok(())
    })
    .await;
}

#[test]
fn set_field_value_fills_an_instance_from_values() {
    let mut book = Book::default();
    book.set_field_value("title", "Dune".into()).expect("text");
    book.set_field_value("pages", 412_i32.into())
        .expect("an i32");
    book.set_field_value("writer", 7_i64.into()).expect("a key");
    book.set_field_value("status", "published".into())
        .expect("a choice");
    book.set_field_value("slug", "dune".into()).expect("a slug");
    assert_eq!(book.title, "Dune");
    assert_eq!(book.pages, 412);
    assert_eq!(book.writer.id(), Some(&7));
    assert_eq!(book.status, Status::Published);
    assert_eq!(book.slug, Slug::new("dune").expect("a slug"));
    assert!(book.set_field_value("slug", "not a slug".into()).is_err());
    assert!(book.set_field_value("status", "lost".into()).is_err());
    assert!(book.set_field_value("pages", "x".into()).is_err());
    assert!(matches!(
        book.set_field_value("labels", 1_i64.into()),
        Err(Error::UnknownField { .. })
    ));
    let _ = Label::default();
}
