use manouche::db::{Auto, Decimal, Model};

#[derive(Model)]
#[model(app = "shop")]
pub struct Price {
    pub id: Auto<i64>,
    #[model(max_digits = 4, decimal_places = 6)]
    pub amount: Decimal,
    #[model(max_digits = 10)]
    pub tax: Decimal,
}

fn main() {}
