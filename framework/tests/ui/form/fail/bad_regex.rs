use manouche::forms::Form;

#[derive(Form)]
struct Code {
    #[form(regex = "^[A-Z{2}$")]
    code: String,
}

fn main() {}
