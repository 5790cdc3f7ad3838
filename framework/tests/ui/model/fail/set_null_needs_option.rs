use manouche::db::{Auto, ForeignKey, Model};

#[derive(Model)]
#[model(app = "blog")]
pub struct Author {
    pub id: Auto<i64>,
}

#[derive(Model)]
#[model(app = "blog")]
pub struct Post {
    pub id: Auto<i64>,
    #[model(on_delete = set_null)]
    pub author: ForeignKey<Author>,
    #[model(on_delete = explode)]
    pub editor: Option<ForeignKey<Author>>,
}

fn main() {}
