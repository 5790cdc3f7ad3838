use manouche::db::Model;

#[derive(Model)]
#[model(app = "blog")]
pub struct Post {
    pub title: String,
}

fn main() {}
