use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(app = "blog")]
pub struct Post {
    pub id: Auto<i64>,
    #[model(auto_now)]
    pub stamp: String,
}

fn main() {}
