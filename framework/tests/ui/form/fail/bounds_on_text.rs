use manouche::forms::Form;

#[derive(Form)]
struct Review {
    #[form(min_value = 1)]
    title: String,
}

fn main() {}
