use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(app = "blog", colour = "red")]
pub struct Post {
    pub id: Auto<i64>,
}

fn main() {}
