//! Models shared by the database tests.
#![allow(dead_code, unreachable_pub)]

use manouche::db::fields::Json;
use manouche::db::{
    Auto, Choices, Database, Date, DateTime, Decimal, Email, ForeignKey, ManyToMany, Model,
    OneToOne, Result, Reverse, Slug, Time, Url, Uuid, schema,
};

#[derive(Debug, Clone, Model, serde::Serialize, serde::Deserialize)]
#[model(app = "blog", ordering = "username")]
pub struct User {
    pub id: Auto<i64>,
    #[model(max_length = 100, unique)]
    pub username: String,
    pub email: Option<Email>,
    #[model(related_field = "author")]
    pub articles: Reverse<Article>,
}

impl User {
    pub fn new(username: &str) -> Self {
        Self {
            id: Auto::new(),
            username: username.into(),
            email: None,
            articles: Reverse::new(),
        }
    }
}

#[derive(Debug, Clone, Model, serde::Serialize, serde::Deserialize)]
#[model(app = "blog", ordering = "name")]
pub struct Tag {
    pub id: Auto<i64>,
    #[model(max_length = 50, unique)]
    pub name: String,
    #[model(related_field = "tags")]
    pub articles: Reverse<Article>,
}

impl Tag {
    pub fn new(name: &str) -> Self {
        Self {
            id: Auto::new(),
            name: name.into(),
            articles: Reverse::new(),
        }
    }
}

#[derive(Debug, Clone, Model, serde::Serialize, serde::Deserialize)]
#[model(table = "blog_article", ordering = "-created, title", unique_together = ["author", "slug"], index = ["published", "created"])]
pub struct Article {
    pub id: Auto<i64>,
    #[model(max_length = 200)]
    pub title: String,
    pub slug: Slug,
    pub body: String,
    #[model(default = false)]
    pub published: bool,
    #[model(auto_now_add)]
    pub created: DateTime,
    #[model(auto_now)]
    pub updated: DateTime,
    #[model(default = 0, db_index)]
    pub views: i64,
    pub author: ForeignKey<User>,
    #[model(on_delete = set_null)]
    pub editor: Option<ForeignKey<User>>,
    pub tags: ManyToMany<Tag>,
    #[model(related_field = "article")]
    pub comments: Reverse<Comment>,
}

impl Article {
    pub fn new(title: &str, author: &User) -> Self {
        let slug = title
            .to_lowercase()
            .replace(|c: char| !c.is_alphanumeric(), "-");
        Self {
            id: Auto::new(),
            title: title.into(),
            slug: Slug::new(if slug.is_empty() {
                "x".to_owned()
            } else {
                slug
            })
            .expect("built from alphanumerics"),
            body: String::new(),
            published: false,
            created: DateTime::default(),
            updated: DateTime::default(),
            views: 0,
            author: ForeignKey::from(author),
            editor: None,
            tags: ManyToMany::new(),
            comments: Reverse::new(),
        }
    }
}

#[derive(Debug, Clone, Model, serde::Serialize, serde::Deserialize)]
#[model(app = "blog", ordering = "id")]
pub struct Comment {
    pub id: Auto<i64>,
    pub article: ForeignKey<Article>,
    pub text: String,
}

#[derive(Debug, Clone, Model)]
#[model(app = "blog")]
pub struct Category {
    pub id: Auto<i32>,
    #[model(max_length = 50)]
    pub name: String,
    pub parent: Option<ForeignKey<Category>>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "shop")]
pub struct Invoice {
    pub id: Auto<i64>,
    #[model(on_delete = protect)]
    pub customer: ForeignKey<User>,
    #[model(max_digits = 8, decimal_places = 2)]
    pub amount: Decimal,
}

#[derive(Debug, Clone, Model)]
#[model(app = "shop")]
pub struct Profile {
    pub id: Auto<i64>,
    #[model(on_delete = restrict)]
    pub user: OneToOne<User>,
    #[model(help_text = "Shown on the profile page", blank)]
    pub bio: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub theme: String,
    pub sizes: Vec<i32>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "kitchen", table = "kitchen_sink")]
pub struct Sink {
    #[model(primary_key)]
    pub uuid: Uuid,
    pub flag: bool,
    pub small: i16,
    pub medium: i32,
    pub big: i64,
    pub ratio: f64,
    pub price: Decimal,
    #[model(max_length = 10)]
    pub code: String,
    pub text: String,
    pub day: Date,
    pub at: Time,
    pub stamp: DateTime,
    pub settings: Json<Settings>,
    pub blob: Vec<u8>,
    pub email: Email,
    pub url: Url,
    pub slug: Slug,
    pub maybe: Option<i32>,
    pub maybe_text: Option<String>,
    pub maybe_stamp: Option<DateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Choices)]
pub enum Status {
    Draft,
    #[choice(value = "pub", label = "Published")]
    Published,
    Archived,
}

#[derive(Debug, Clone, Model)]
#[model(app = "cms", verbose_name = "web page", impl_default)]
pub struct Page {
    pub id: Auto<i64>,
    #[model(default = Uuid::new_v4)]
    pub token: Uuid,
    #[model(choices, default = "draft")]
    pub status: Status,
    #[model(choices)]
    pub previous: Option<Status>,
    #[model(max_length = 5)]
    pub code: String,
    #[model(blank)]
    pub note: String,
    pub price: Decimal,
}

#[derive(Debug, Clone, Model)]
#[model(app = "club", ordering = "name")]
pub struct Person {
    pub id: Auto<i64>,
    pub name: String,
    #[model(through = Membership)]
    pub groups: ManyToMany<Group>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "club", ordering = "name")]
pub struct Group {
    pub id: Auto<i64>,
    pub name: String,
}

#[derive(Debug, Clone, Model)]
#[model(app = "club", unique_together = ["person", "group"])]
pub struct Membership {
    pub id: Auto<i64>,
    pub person: ForeignKey<Person>,
    pub group: ForeignKey<Group>,
    #[model(default = "member", max_length = 20)]
    pub role: String,
}

#[derive(Debug, Clone, Model)]
#[model(app = "blog")]
pub struct Note {
    pub id: Auto<i64>,
    #[model(on_delete = set_default, default = 1)]
    pub owner: ForeignKey<User>,
    #[model(on_delete = do_nothing)]
    pub watcher: Option<ForeignKey<User>>,
}

/// Field names that are also names inside the generated code.
#[derive(Debug, Clone, Model)]
#[model(app = "edge")]
pub struct Awkward {
    pub id: Auto<i64>,
    pub row: i32,
    pub offset: i32,
    pub path: String,
    pub name: String,
    pub skip: bool,
    pub r#type: String,
    pub this: i64,
    pub pk: i64,
    pub adding: bool,
}

pub fn schemas() -> Vec<schema::ModelSchema> {
    vec![
        User::schema(),
        Tag::schema(),
        Article::schema(),
        Comment::schema(),
        Category::schema(),
        Invoice::schema(),
        Profile::schema(),
        Sink::schema(),
        Page::schema(),
        Person::schema(),
        Group::schema(),
        Membership::schema(),
        Note::schema(),
        Awkward::schema(),
    ]
}

pub async fn setup(db: &Database) -> Result<()> {
    schema::create_tables(db, &schemas()).await
}

/// Two users, three articles (two by ada), tags.
pub async fn seed(db: &Database) -> Result<(User, User, Vec<Article>)> {
    let mut ada = User::new("ada");
    ada.save(db).await?;
    let mut bob = User::new("bob");
    bob.save(db).await?;
    let mut out = Vec::new();
    for (title, author, published, views) in [
        ("Rust ORMs", &ada, true, 10),
        ("Async Rust", &ada, false, 5),
        ("Python tips", &bob, true, 7),
    ] {
        let mut a = Article::new(title, author);
        a.published = published;
        a.views = views;
        a.save(db).await?;
        out.push(a);
    }
    Ok((ada, bob, out))
}
