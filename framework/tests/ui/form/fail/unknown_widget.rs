use manouche::forms::Form;

#[derive(Form)]
struct Note {
    #[form(widget = rich_text)]
    body: String,
}

fn main() {}
