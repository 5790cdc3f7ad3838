use manouche::prelude::*;

#[derive(Template, TemplateResponse)]
#[template(source = "hi", ext = "html")]
#[template_response(content_type = "text/html\n", mime = "text/html")]
struct Page;

fn main() {}
