use manouche::prelude::*;

#[derive(Template, TemplateResponse)]
enum Notice {
    #[template(source = "<b>saved</b>", ext = "html")]
    Saved,
    #[template(source = "deleted", ext = "txt")]
    Deleted,
}

fn main() {}
