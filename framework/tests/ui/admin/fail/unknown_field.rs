use manouche::contrib::admin::Admin;
use manouche::db::{Auto, Model};

#[derive(Debug, Default, Model, Admin)]
#[model(app = "blog")]
#[admin(list_display = ["title", "titel"], search_fields = ["^slug"], ordering = ["-pubished"])]
pub struct Article {
    pub id: Auto<i64>,
    pub title: String,
    pub published: bool,
}

fn main() {}
