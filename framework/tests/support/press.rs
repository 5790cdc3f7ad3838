//! Models and data shaped like Django's own tests of multi-valued
//! relations: publications with several articles (`many_to_many`), articles
//! with several tags, and authors with books and ratings (`aggregation`).
#![allow(dead_code, unreachable_pub)]

use manouche::db::{Auto, Database, ForeignKey, ManyToMany, Model, Result, Reverse, schema};

#[derive(Debug, Clone, Model)]
#[model(app = "press", ordering = "title")]
pub struct Publication {
    pub id: Auto<i64>,
    #[model(max_length = 30)]
    pub title: String,
    #[model(related_field = "publications")]
    pub articles: Reverse<Article>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "press", ordering = "name")]
pub struct Tag {
    pub id: Auto<i64>,
    #[model(max_length = 30)]
    pub name: String,
}

#[derive(Debug, Clone, Model)]
#[model(app = "press", ordering = "headline")]
pub struct Article {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub headline: String,
    pub publications: ManyToMany<Publication>,
    pub tags: ManyToMany<Tag>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "press", ordering = "name")]
pub struct Author {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub name: String,
    pub age: i32,
    #[model(related_field = "authors")]
    pub books: Reverse<Book>,
    #[model(related_field = "contact")]
    pub contacted: Reverse<Book>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "press", ordering = "name")]
pub struct Book {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub name: String,
    pub pages: i32,
    pub rating: f64,
    pub authors: ManyToMany<Author>,
    pub contact: ForeignKey<Author>,
}

pub async fn setup(db: &Database) -> Result<()> {
    schema::create_tables(
        db,
        &[
            Publication::schema(),
            Tag::schema(),
            Article::schema(),
            Author::schema(),
            Book::schema(),
        ],
    )
    .await
}

/// Django's `many_to_many` data: four publications and four articles, the
/// second in every publication, plus a publication with no article.
pub struct Press {
    pub p1: Publication,
    pub p2: Publication,
    pub p3: Publication,
    pub p4: Publication,
    pub empty: Publication,
    pub a1: Article,
    pub a2: Article,
    pub a3: Article,
    pub a4: Article,
}

pub async fn press(db: &Database) -> Result<Press> {
    let mut publications = Vec::new();
    for title in [
        "The Python Journal",
        "Science News",
        "Science Weekly",
        "Highlights for Children",
        "Empty Quarterly",
    ] {
        let mut p = Publication {
            id: Auto::new(),
            title: title.into(),
            articles: Reverse::new(),
        };
        p.save(db).await?;
        publications.push(p);
    }
    let mut articles = Vec::new();
    for headline in [
        "Django lets you build Web apps easily",
        "NASA uses Python",
        "NASA finds intelligent life on Earth",
        "Oxygen-free diet works wonders",
    ] {
        let mut a = Article {
            id: Auto::new(),
            headline: headline.into(),
            publications: ManyToMany::new(),
            tags: ManyToMany::new(),
        };
        a.save(db).await?;
        articles.push(a);
    }
    let [p1, p2, p3, p4, empty] = <[Publication; 5]>::try_from(publications).expect("five");
    let [a1, a2, a3, a4] = <[Article; 4]>::try_from(articles).expect("four");
    a1.publications.add(db, &[&p1]).await?;
    a2.publications.add(db, &[&p1, &p2, &p3, &p4]).await?;
    a3.publications.add(db, &[&p2]).await?;
    a4.publications.add(db, &[&p2]).await?;
    Ok(Press {
        p1,
        p2,
        p3,
        p4,
        empty,
        a1,
        a2,
        a3,
        a4,
    })
}

/// Django's `aggregation` data: nine authors, six books with ratings, each
/// with its authors and the author to contact.
pub async fn library(db: &Database) -> Result<(Vec<Author>, Vec<Book>)> {
    let mut authors = Vec::new();
    for (name, age) in [
        ("Adrian Holovaty", 34),
        ("Jacob Kaplan-Moss", 35),
        ("Brad Dayley", 45),
        ("James Bennett", 29),
        ("Jeffrey Forcier", 37),
        ("Paul Bissex", 29),
        ("Wesley J. Chun", 25),
        ("Peter Norvig", 57),
        ("Stuart Russell", 46),
    ] {
        let mut a = Author {
            id: Auto::new(),
            name: name.into(),
            age,
            books: Reverse::new(),
            contacted: Reverse::new(),
        };
        a.save(db).await?;
        authors.push(a);
    }
    let mut books = Vec::new();
    for (name, pages, rating, by, contact) in [
        ("The Definitive Guide to Django", 447, 4.5, &[0, 1][..], 0),
        ("Sams Teach Yourself Django in 24 Hours", 528, 3.0, &[2], 2),
        ("Practical Django Projects", 300, 4.0, &[3], 3),
        (
            "Python Web Development with Django",
            350,
            4.0,
            &[4, 5, 6],
            4,
        ),
        (
            "Artificial Intelligence: A Modern Approach",
            1132,
            4.0,
            &[7, 8],
            7,
        ),
        ("Paradigms of AI Programming", 946, 5.0, &[7], 7),
    ] {
        let mut b = Book {
            id: Auto::new(),
            name: name.into(),
            pages,
            rating,
            authors: ManyToMany::new(),
            contact: ForeignKey::from(&authors[contact]),
        };
        b.save(db).await?;
        let by: Vec<&Author> = by.iter().map(|&i| &authors[i]).collect();
        b.authors.add(db, &by).await?;
        books.push(b);
    }
    Ok((authors, books))
}
