use manouche::contrib::admin::Admin;
use manouche::db::{Auto, Model};

#[derive(Debug, Default, Model, Admin)]
#[model(app = "blog")]
#[admin(list_display = ["title"], list_per_page = 20)]
pub struct Article {
    pub id: Auto<i64>,
    pub title: String,
}

fn main() {}
