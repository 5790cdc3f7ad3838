//! The blog's models: authors write articles, articles have tags and
//! comments. The pages in `blog.rs` read them; the migrations in
//! `migrations/blog/` make their tables (the tests below create them directly).
//! Each model has `impl_default`, so a new value names only the fields it
//! sets and ends with `..Default::default()`.

use manouche::contrib::auth::User;
use manouche::db::{
    Auto, DateTime, Email, ForeignKey, ImageField, ManyToMany, Model, OneToOne, Reverse, Slug,
};

/// Someone who writes articles, under the name readers see.
///
/// An author is tied to at most one user account, and an account writes
/// as at most one author: a one-to-one link (a unique column), which lets
/// the new-article page find "the author of the logged-in user" with no
/// ambiguity. It is nullable because authors exist without an account
/// (the welcome article's "The Manouche team", and any author made before
/// accounts existed), and deleting an account keeps its articles: the
/// link is cleared (`set_null`), the author stays.
#[derive(Debug, Clone, Model)]
#[model(app = "blog", ordering = "name", impl_default)]
pub(crate) struct Author {
    pub(crate) id: Auto<i64>,
    #[model(max_length = 100)]
    pub(crate) name: String,
    pub(crate) email: Option<Email>,
    /// The account this author writes from, if any.
    #[model(on_delete = set_null)]
    pub(crate) user: Option<OneToOne<User>>,
    #[model(related_field = "author")]
    pub(crate) articles: Reverse<Article>,
}

/// A label shared by articles.
#[derive(Debug, Clone, Model)]
#[model(app = "blog", ordering = "name", impl_default)]
pub(crate) struct Tag {
    pub(crate) id: Auto<i64>,
    #[model(max_length = 50, unique)]
    pub(crate) name: String,
    #[model(unique)]
    pub(crate) slug: Slug,
}

/// A blog post.
#[derive(Debug, Clone, Model)]
#[model(app = "blog", ordering = "-created", index = ["published", "created"], impl_default)]
pub(crate) struct Article {
    pub(crate) id: Auto<i64>,
    #[model(max_length = 200)]
    pub(crate) title: String,
    #[model(unique)]
    pub(crate) slug: Slug,
    pub(crate) body: String,
    #[model(default = false)]
    pub(crate) published: bool,
    #[model(auto_now_add)]
    pub(crate) created: DateTime,
    #[model(auto_now)]
    pub(crate) updated: DateTime,
    pub(crate) author: ForeignKey<Author>,
    #[model(blank)]
    pub(crate) tags: ManyToMany<Tag>,
    /// The picture shown above the text, if any: its name in the project's
    /// storage (under `covers/`).
    #[model(upload_to = "covers/")]
    pub(crate) cover: Option<ImageField>,
    #[model(related_field = "article")]
    pub(crate) comments: Reverse<Comment>,
}

/// A reader's comment on an article.
#[derive(Debug, Clone, Model)]
#[model(app = "blog", ordering = "created", impl_default)]
pub(crate) struct Comment {
    pub(crate) id: Auto<i64>,
    pub(crate) article: ForeignKey<Article>,
    #[model(max_length = 100)]
    pub(crate) name: String,
    pub(crate) body: String,
    #[model(auto_now_add)]
    pub(crate) created: DateTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use manouche::contrib::auth::{Group, Permission};
    use manouche::db::{Database, schema};

    async fn database() -> Database {
        let db = Database::connect("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        schema::create_tables(
            &db,
            &[
                Permission::schema(),
                Group::schema(),
                User::schema(),
                Author::schema(),
                Tag::schema(),
                Article::schema(),
                Comment::schema(),
            ],
        )
        .await
        .unwrap();
        db
    }

    fn slug(s: &str) -> Slug {
        Slug::new(s).unwrap()
    }

    #[tokio::test]
    async fn the_front_page_query_loads_authors_and_tags_in_two_queries() {
        let db = database().await;
        let mut ada = Author {
            name: "Ada".into(),
            ..Default::default()
        };
        ada.save(&db).await.unwrap();
        let mut rust = Tag {
            name: "Rust".into(),
            slug: slug("rust"),
            ..Default::default()
        };
        rust.save(&db).await.unwrap();
        for (i, published) in [(1, true), (2, false), (3, true)] {
            let mut article = Article {
                title: format!("Post {i}"),
                slug: slug(&format!("post-{i}")),
                body: "…".into(),
                published,
                author: ForeignKey::from(&ada),
                ..Default::default()
            };
            article.save(&db).await.unwrap();
            article.tags.add(&db, &[&rust]).await.unwrap();
            let mut comment = Comment {
                article: ForeignKey::from(&article),
                name: "Reader".into(),
                body: "Nice".into(),
                ..Default::default()
            };
            comment.save(&db).await.unwrap();
        }
        let before = db.query_count();
        let front = Article::objects()
            .filter(Article::published.eq(true))
            .select_related(Article::author)
            .prefetch_related(Article::tags)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(db.query_count() - before, 2);
        assert_eq!(front.len(), 2);
        assert!(
            front
                .iter()
                .all(|a| a.author.get().map(|w| w.name.as_str()) == Some("Ada"))
        );
        assert!(
            front
                .iter()
                .all(|a| a.tags.prefetched().is_some_and(|t| t.len() == 1))
        );
        // Newest first, as the model's ordering says.
        assert!(front[0].id.get() > front[1].id.get());
        // Deleting an article takes its comments with it (cascade).
        let post = front[0].clone();
        post.delete(&db).await.unwrap();
        assert_eq!(Comment::objects().count(&db).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_duplicate_slug_is_a_validation_error_naming_the_field() {
        let db = database().await;
        let mut ada = Author {
            name: "Ada".into(),
            ..Default::default()
        };
        ada.save(&db).await.unwrap();
        let article = |title: &str| Article {
            title: title.into(),
            slug: slug("same"),
            body: String::new(),
            published: true,
            author: ForeignKey::from(&ada),
            ..Default::default()
        };
        article("one").save(&db).await.unwrap();
        let err = article("two").save(&db).await.unwrap_err();
        assert!(err.to_string().contains("slug"), "{err}");
        assert_eq!(manouche::web::status_of(&err).as_u16(), 409);
    }
}
