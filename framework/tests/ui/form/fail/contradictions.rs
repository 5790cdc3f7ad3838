use manouche::forms::Form;

#[derive(Form)]
struct Price {
    #[form(min_length = 5, max_length = 2)]
    label: String,
    #[form(max_digits = 2, decimal_places = 4)]
    amount: manouche::db::fields::Decimal,
    #[form(min_value = 10, max_value = 1)]
    stock: i32,
    #[form(email, url)]
    contact: String,
}

fn main() {}
