use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(
    app = "blog",
    permissions = [
        ("Publish-Article", "Can publish articles"),
        ("9lives", "Can live again"),
        ("feature_article", "Can feature articles"),
        ("feature_article", "Can feature articles again"),
        ("add_article", "Can add an article"),
        ("archive_article", " "),
    ]
)]
pub struct Article {
    pub id: Auto<i64>,
}

#[derive(Model)]
#[model(app = "blog", default_permissions = ["add", "publish", "Change", "add"])]
pub struct ArticleTag {
    pub id: Auto<i64>,
}

// Without `change` among the defaults, `change_note` is free.
#[derive(Model)]
#[model(app = "blog", default_permissions = ["view"], permissions = [("change_note", "Can change notes"), ("view_note", "Can view")])]
pub struct Note {
    pub id: Auto<i64>,
}

fn main() {}
