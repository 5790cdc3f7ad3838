use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(app = 7)]
pub struct Post {
    pub id: Auto<i64>,
    #[model(max_length = "long")]
    pub title: String,
}

fn main() {}
