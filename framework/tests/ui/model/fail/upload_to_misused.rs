use manouche::db::fields::{FileField, ImageField};
use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(app = "docs")]
pub struct Doc {
    pub id: Auto<i64>,
    #[model(upload_to = "files/")]
    pub title: String,
    #[model(upload_to = "../outside/")]
    pub attachment: FileField,
    #[model(upload_to = "/etc/")]
    pub cover: Option<ImageField>,
}

fn main() {}
