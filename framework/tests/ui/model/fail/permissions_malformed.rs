use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(app = "blog", permissions = "publish_article")]
pub struct Article {
    pub id: Auto<i64>,
}

#[derive(Model)]
#[model(app = "blog", permissions = [("publish_post"), ("feature_post", 1), "archive_post", ("a", "b", "c")])]
pub struct Post {
    pub id: Auto<i64>,
}

#[derive(Model)]
#[model(app = "blog", default_permissions = "add")]
pub struct Tag {
    pub id: Auto<i64>,
}

#[derive(Model)]
#[model(app = "blog", default_permissions = [add, "view"])]
pub struct Comment {
    pub id: Auto<i64>,
}

#[derive(Model)]
#[model(app = "blog", permissions = [], permissions = [("a", "b")])]
pub struct Draft {
    pub id: Auto<i64>,
}

fn main() {}
