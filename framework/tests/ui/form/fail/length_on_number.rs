use manouche::forms::Form;

#[derive(Form)]
struct Order {
    #[form(max_length = 3)]
    quantity: i32,
}

fn main() {}
