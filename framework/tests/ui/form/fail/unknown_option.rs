use manouche::forms::Form;

#[derive(Form)]
struct Signup {
    #[form(max_len = 10)]
    name: String,
}

fn main() {}
