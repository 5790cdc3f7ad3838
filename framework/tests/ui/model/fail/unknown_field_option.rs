use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(app = "blog")]
pub struct Post {
    pub id: Auto<i64>,
    #[model(maxlength = 10)]
    pub title: String,
}

fn main() {}
