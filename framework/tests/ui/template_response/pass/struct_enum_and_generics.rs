use manouche::prelude::*;

#[derive(Template, TemplateResponse)]
#[template(source = "<b>{{ name }}</b>", ext = "html")]
struct Page<'a, T: std::fmt::Display> {
    name: &'a T,
}

/// One format for all the variants: the enum's own `ext`.
#[derive(Template, TemplateResponse)]
#[template(ext = "txt")]
enum Notice {
    #[template(source = "saved")]
    Saved,
    #[template(source = "deleted {{ count }}")]
    Deleted { count: u32 },
}

#[derive(Template, TemplateResponse)]
#[template(source = "{}", ext = "html")]
#[template_response(content_type = "application/vnd.api+json")]
struct Api;

fn content_type(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["content-type"].to_str().unwrap().to_owned()
}

fn main() {
    let page = Page { name: &"ana" }.into_response();
    assert_eq!(content_type(page), "text/html; charset=utf-8");
    assert_eq!(content_type(Notice::Saved.into_response()), "text/plain; charset=utf-8");
    assert_eq!(
        content_type(Notice::Deleted { count: 2 }.into_response()),
        "text/plain; charset=utf-8"
    );
    assert_eq!(content_type(Api.into_response()), "application/vnd.api+json");
}
