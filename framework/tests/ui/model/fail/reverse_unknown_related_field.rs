use manouche::db::{Auto, ForeignKey, Model, Reverse};

#[derive(Model)]
#[model(app = "blog")]
pub struct Author {
    pub id: Auto<i64>,
    #[model(related_field = "writer")]
    pub posts: Reverse<Post>,
}

#[derive(Model)]
#[model(app = "blog")]
pub struct Post {
    pub id: Auto<i64>,
    pub author: ForeignKey<Author>,
}

fn main() {}
