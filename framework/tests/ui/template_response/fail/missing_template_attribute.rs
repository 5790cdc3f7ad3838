use manouche::prelude::*;

#[derive(TemplateResponse)]
struct Page {
    title: String,
}

fn main() {}
