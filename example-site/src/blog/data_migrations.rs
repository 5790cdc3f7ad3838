//! The blog's data migrations: Rust functions that `run_rust` operations in
//! `migrations/blog/` call by name, registered in [`super::app`].
//!
//! The model types are today's, not the models as they were when the
//! migration was written: a function reads and writes only the columns
//! that exist at its point in the history (`values(...)` and raw SQL for a
//! model that gained columns since, as `Author` gained `user_id` in
//! `0004` and `Article` its `cover` in `0005`), so that a new database
//! still migrates from the start.

use manouche::db::fields::AutoNow;
use manouche::db::{DateTime, Model, Slug, Transaction, raw};
use manouche::migrations::DataMigrationResult;

use super::models::{Article, Author, Tag};

/// The tags a new site starts with: `(name, slug)`.
const STARTER_TAGS: [(&str, &str); 2] = [("News", "news"), ("Rust", "rust")];

/// `0002_starter_tags`: adds the starter tags (those a site already has
/// are left alone).
pub(crate) async fn add_starter_tags(tx: &Transaction) -> DataMigrationResult {
    for (name, slug) in STARTER_TAGS {
        let slug = Slug::new(slug)?;
        if Tag::objects()
            .filter(Tag::slug.eq(slug.clone()))
            .exists(tx)
            .await?
        {
            continue;
        }
        let mut tag = Tag {
            name: name.to_owned(),
            slug,
            ..Default::default()
        };
        tag.save(tx).await?;
    }
    Ok(())
}

/// Undoes `0002_starter_tags`: removes the starter tags.
pub(crate) async fn remove_starter_tags(tx: &Transaction) -> DataMigrationResult {
    for (_, slug) in STARTER_TAGS {
        Tag::objects()
            .filter(Tag::slug.eq(Slug::new(slug)?))
            .delete(tx)
            .await?;
    }
    Ok(())
}

/// The welcome article's slug, which identifies it when unapplying.
const WELCOME_SLUG: &str = "welcome-to-manouche";

/// Who signs the welcome article.
const WELCOME_AUTHOR: &str = "The Manouche team";

const WELCOME_BODY: &str = "This site is the Manouche example project: a blog \
whose pages, models and migrations are ordinary Manouche code.\n\n\
The front page lists published articles with their authors and tags in two \
queries, however many articles there are. This page loads the article, its \
author, tags and comments in three.\n\n\
Look at example-site/src/blog.rs for the views and \
migrations/blog/ for the migrations that made these tables and this article.";

/// `0003_welcome_article`: a first published article, tagged with the
/// starter tags, so that a new site has something to show (left alone when
/// its slug is already taken).
pub(crate) async fn add_welcome_article(tx: &Transaction) -> DataMigrationResult {
    let slug = Slug::new(WELCOME_SLUG)?;
    if Article::objects()
        .filter(Article::slug.eq(slug.clone()))
        .exists(tx)
        .await?
    {
        return Ok(());
    }
    // Author's columns as of 0003 (id, name, email): not whole rows.
    let found = Author::objects()
        .filter(Author::name.eq(WELCOME_AUTHOR))
        .values((Author::id,))
        .all(tx)
        .await?;
    let author = match found.first() {
        Some((id,)) => id.get().ok_or("a stored author without an id")?,
        None => {
            let made: Vec<(i64,)> = raw("INSERT INTO blog_author (name) VALUES ($1) RETURNING id")
                .bind(WELCOME_AUTHOR.to_owned())
                .fetch_all(tx)
                .await?;
            made.first().map(|(id,)| *id).ok_or("the new author's id")?
        }
    };
    // Article's columns as of 0003 (not `cover`, added by 0005): no whole
    // rows either.
    let now = <DateTime as AutoNow>::now();
    let made: Vec<(i64,)> = raw(
        "INSERT INTO blog_article (title, slug, body, published, created, updated, author_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind("Welcome to Manouche".to_owned())
    .bind(slug)
    .bind(WELCOME_BODY.to_owned())
    .bind(true)
    .bind(now)
    .bind(now)
    .bind(author)
    .fetch_all(tx)
    .await?;
    let article = made
        .first()
        .map(|(id,)| *id)
        .ok_or("the new article's id")?;
    let tags = Tag::objects()
        .filter(
            Tag::slug.in_(
                STARTER_TAGS
                    .iter()
                    .map(|(_, slug)| Slug::new(*slug))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        )
        .values((Tag::id,))
        .all(tx)
        .await?;
    for (tag,) in tags {
        let tag = tag.get().ok_or("a stored tag without an id")?;
        raw("INSERT INTO blog_article_tags (article_id, tag_id) VALUES ($1, $2)")
            .bind(article)
            .bind(tag)
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// Undoes `0003_welcome_article`: removes the article (its comments and
/// tag links go with it) and its author, unless the author wrote others.
pub(crate) async fn remove_welcome_article(tx: &Transaction) -> DataMigrationResult {
    Article::objects()
        .filter(Article::slug.eq(Slug::new(WELCOME_SLUG)?))
        .delete(tx)
        .await?;
    Author::objects()
        .filter(Author::name.eq(WELCOME_AUTHOR))
        .filter(Author::articles.then(Article::id).isnull(true))
        .delete(tx)
        .await?;
    Ok(())
}
