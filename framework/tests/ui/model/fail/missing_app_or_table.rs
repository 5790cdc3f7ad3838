use manouche::db::{Auto, Model};

#[derive(Model)]
pub struct Post {
    pub id: Auto<i64>,
}

fn main() {}
