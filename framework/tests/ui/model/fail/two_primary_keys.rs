use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(app = "blog")]
pub struct Post {
    pub id: Auto<i64>,
    #[model(primary_key)]
    pub code: String,
}

fn main() {}
