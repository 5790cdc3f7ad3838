use manouche::contrib::admin::Admin;
use manouche::db::{Auto, Model};

#[derive(Debug, Default, Model, Admin)]
#[model(app = "blog")]
#[admin(per_page = 0)]
pub struct Zero {
    pub id: Auto<i64>,
}

#[derive(Debug, Default, Model, Admin)]
#[model(app = "blog")]
#[admin(list_display = "title")]
pub struct NotAList {
    pub id: Auto<i64>,
    pub title: String,
}

#[derive(Debug, Default, Model, Admin)]
#[model(app = "blog")]
#[admin(title = article_title, title = article_title)]
pub struct Twice {
    pub id: Auto<i64>,
}

fn article_title(_: &Twice) -> String {
    String::new()
}

fn main() {}
