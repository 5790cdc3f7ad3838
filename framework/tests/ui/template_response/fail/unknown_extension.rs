use manouche::prelude::*;

#[derive(Template, TemplateResponse)]
#[template(source = "\\section{ {{- title -}} }", ext = "tex", escape = "none")]
struct Chapter {
    title: String,
}

fn main() {}
