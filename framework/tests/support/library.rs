//! Models shared by the model form and formset tests: writers, their
//! books (with a unique slug per writer, a status, tags) and the books'
//! chapters.
#![allow(dead_code, unreachable_pub)]

use manouche::db::{
    Auto, Choices, Database, DateTime, Decimal, Email, ForeignKey, ManyToMany, Model, Result,
    Reverse, Slug, schema,
};

#[derive(Debug, Clone, Model)]
#[model(app = "library", ordering = "name", impl_default)]
pub struct Writer {
    pub id: Auto<i64>,
    #[model(max_length = 50, unique)]
    pub name: String,
    pub email: Option<Email>,
    #[model(related_field = "writer")]
    pub books: Reverse<Book>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "library", ordering = "name", impl_default)]
pub struct Label {
    pub id: Auto<i64>,
    #[model(max_length = 30, unique)]
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Choices)]
pub enum Status {
    Draft,
    #[choice(label = "Published")]
    Published,
}

#[derive(Debug, Clone, Model)]
#[model(app = "library", impl_default, unique_together = ["writer", "slug"])]
pub struct Book {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub title: String,
    pub slug: Slug,
    pub writer: ForeignKey<Writer>,
    #[model(choices, default = "draft")]
    pub status: Status,
    #[model(max_digits = 6, decimal_places = 2)]
    pub price: Option<Decimal>,
    pub pages: i32,
    #[model(default = true)]
    pub in_print: bool,
    #[model(blank)]
    pub labels: ManyToMany<Label>,
    #[model(auto_now_add)]
    pub created: DateTime,
    #[model(related_field = "book")]
    pub chapters: Reverse<Chapter>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "library", impl_default, unique_together = ["book", "number"])]
pub struct Chapter {
    pub id: Auto<i64>,
    pub book: ForeignKey<Book>,
    #[model(max_length = 100)]
    pub title: String,
    pub number: i32,
}

pub async fn setup(db: &Database) -> Result<()> {
    schema::create_tables(
        db,
        &[
            Writer::schema(),
            Label::schema(),
            Book::schema(),
            Chapter::schema(),
        ],
    )
    .await
}

pub async fn writer(db: &Database, name: &str) -> Result<Writer> {
    let mut w = Writer {
        name: name.into(),
        ..Default::default()
    };
    w.save(db).await?;
    Ok(w)
}

pub async fn label(db: &Database, name: &str) -> Result<Label> {
    let mut l = Label {
        name: name.into(),
        ..Default::default()
    };
    l.save(db).await?;
    Ok(l)
}

pub async fn book(db: &Database, title: &str, slug: &str, writer: &Writer) -> Result<Book> {
    let mut b = Book {
        title: title.into(),
        slug: Slug::new(slug).expect("a slug"),
        writer: ForeignKey::from(writer),
        pages: 100,
        ..Default::default()
    };
    b.save(db).await?;
    Ok(b)
}

pub async fn chapter(db: &Database, book: &Book, number: i32, title: &str) -> Result<Chapter> {
    let mut c = Chapter {
        book: ForeignKey::from(book),
        title: title.into(),
        number,
        ..Default::default()
    };
    c.save(db).await?;
    Ok(c)
}
