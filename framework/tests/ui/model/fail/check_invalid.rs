use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(
    app = "shop",
    check(name = "Bad Name", sql = "price >= 0"),
    check(name = "empty_condition", sql = " "),
    check(sql = "price < 100")
)]
pub struct Product {
    pub id: Auto<i64>,
    pub price: i32,
}

#[derive(Model)]
#[model(
    app = "shop",
    check(name = "twice", sql = "price >= 0"),
    check(name = "twice", sql = "price < 10; DROP TABLE shop_item")
)]
pub struct Item {
    pub id: Auto<i64>,
    pub price: i32,
}

fn main() {}
