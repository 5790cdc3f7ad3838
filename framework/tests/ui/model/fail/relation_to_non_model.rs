use manouche::db::{Auto, ForeignKey, Model};

pub struct NotAModel;

#[derive(Model)]
#[model(app = "blog")]
pub struct Post {
    pub id: Auto<i64>,
    pub author: ForeignKey<NotAModel>,
}

fn main() {}
