use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(app = "blog", ordering = "-created", unique_together = ["title", "slug"])]
pub struct Post {
    pub id: Auto<i64>,
    pub title: String,
}

fn main() {}
