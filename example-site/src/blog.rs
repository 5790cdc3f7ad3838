//! The blog app: its models, URLs and pages.
//!
//! The pages read published articles only; an unknown or unpublished
//! article is a 404, like Django's `get_object_or_404`.

mod data_migrations;
pub(crate) mod models;

use manouche::prelude::*;

use models::Article;

#[derive(Template, TemplateResponse)]
#[template(path = "blog/index.html")]
struct Index {
    articles: Vec<Article>,
}

#[derive(Template, TemplateResponse)]
#[template(path = "blog/article_detail.html")]
struct Detail {
    article: Article,
    /// This page's own address, from `reverse!`.
    url: String,
}

/// The front page: published articles, newest first, with their authors
/// (one JOIN) and tags (one extra query), whatever their number.
async fn index(db: Db) -> Result<Index> {
    let articles = Article::objects()
        .filter(Article::published.eq(true))
        .select_related(Article::author)
        .prefetch_related(Article::tags)
        .all(&db)
        .await?;
    Ok(Index { articles })
}

/// One published article with its author, tags and comments.
async fn detail(db: Db, Path(id): Path<i64>) -> Result<Detail> {
    let article = Article::objects()
        .filter(Article::id.eq(id) & Article::published.eq(true))
        .select_related(Article::author)
        .prefetch_related(Article::tags)
        .prefetch_related(Article::comments)
        .get(&db)
        .await?;
    let url = reverse!("blog:article-detail", id = id)?;
    Ok(Detail { article, url })
}

/// The app: its URLs, mounted under `blog/` in the `blog` namespace, and
/// the functions its data migrations run.
pub(crate) fn app() -> App {
    App::new("blog")
        .urls(
            "blog/",
            Urls::new().path("", get(index), "index").path(
                "articles/<int:id>/",
                get(detail),
                "article-detail",
            ),
        )
        .data_migration("add_starter_tags", data_migrations::add_starter_tags)
        .data_migration("remove_starter_tags", data_migrations::remove_starter_tags)
        .data_migration("add_welcome_article", data_migrations::add_welcome_article)
        .data_migration(
            "remove_welcome_article",
            data_migrations::remove_welcome_article,
        )
}

#[cfg(test)]
mod tests {
    use manouche::db::testing::for_each_database_with_url;
    use manouche::db::{Database, ForeignKey, Model, Slug};
    use manouche::prelude::*;
    use manouche::test::Client;

    use super::models::{Article, Author, Comment, Tag};

    /// The whole site (migrations, URLs, error pages) on the database at
    /// `url`.
    fn site(url: &str) -> Project {
        let mut settings = Settings::default();
        settings.database_url = url.to_owned();
        crate::site(Project::new(settings))
    }

    /// `manage migrate ARGS` on the site, with the database at `url`.
    async fn migrate(url: &str, args: &[&str]) {
        let argv = ["example-site", "migrate"].iter().chain(args);
        site(url).manage_from(argv.copied()).await.expect("migrate");
    }

    /// A test client on the site, its database migrated.
    async fn migrated_site(url: &str) -> Client {
        migrate(url, &[]).await;
        Client::new(site(url)).expect("site")
    }

    async fn draft(db: &Database) -> Article {
        let author = Author::objects().get(db).await.expect("the welcome author");
        let mut article = Article {
            title: "Unfinished <draft>".into(),
            slug: Slug::new("draft").expect("slug"),
            body: "Not yet.".into(),
            published: false,
            author: ForeignKey::from(&author),
            ..Default::default()
        };
        article.save(db).await.expect("draft");
        article
    }

    #[tokio::test]
    async fn the_front_page_lists_published_articles_with_authors_and_tags() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            let draft = draft(&db).await;
            let welcome = Article::objects()
                .filter(Article::published.eq(true))
                .get(&db)
                .await?;
            let response = client.get("/blog/").send().await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            let page = response.text();
            assert!(page.contains("Welcome to Manouche"), "{page}");
            let link = format!("href=\"/blog/articles/{}/\"", welcome.pk().expect("saved"));
            assert!(page.contains(&link), "{page}");
            assert!(page.contains("The Manouche team"), "{page}");
            assert!(page.contains("<span class=\"tag\">News</span>"), "{page}");
            assert!(page.contains("<span class=\"tag\">Rust</span>"), "{page}");
            assert!(
                !page.contains("Unfinished") && !page.contains(draft.slug.as_str()),
                "unpublished articles stay off: {page}"
            );
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn an_article_page_shows_its_body_tags_and_comments_escaped() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            let welcome = Article::objects().get(&db).await?;
            let id = welcome.pk().expect("saved");
            let mut comment = Comment {
                article: ForeignKey::from(&welcome),
                name: "Reader".into(),
                body: "<script>alert(1)</script>".into(),
                ..Default::default()
            };
            comment.save(&db).await?;
            let response = client.get(&format!("/blog/articles/{id}/")).send().await;
            assert_eq!(response.status(), StatusCode::OK);
            let page = response.text();
            assert!(page.contains("<h1>Welcome to Manouche</h1>"), "{page}");
            assert!(
                page.contains("<p>This site is the Manouche example project"),
                "{page}"
            );
            assert!(page.contains("<span class=\"tag\">Rust</span>"), "{page}");
            assert!(page.contains("Reader"), "{page}");
            assert!(
                page.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                    || page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "comments are escaped: {page}"
            );
            assert!(!page.contains("<script>"), "{page}");
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn the_welcome_article_migration_unapplies_and_reapplies() {
        for_each_database_with_url(|db, url| async move {
            migrate(&url, &[]).await;
            let counts = async || {
                (
                    Article::objects().count(&db).await.expect("articles"),
                    Author::objects().count(&db).await.expect("authors"),
                    Tag::objects().count(&db).await.expect("tags"),
                )
            };
            assert_eq!(counts().await, (1, 1, 2));
            migrate(&url, &["blog", "0002_starter_tags"]).await;
            assert_eq!(
                counts().await,
                (0, 0, 2),
                "article and author removed, tags kept"
            );
            migrate(&url, &[]).await;
            assert_eq!(counts().await, (1, 1, 2));
            // An author who wrote something else stays.
            draft(&db).await;
            migrate(&url, &["blog", "0002_starter_tags"]).await;
            assert_eq!(counts().await, (1, 1, 2), "the draft and its author stay");
            // Applying again adds the article back, by the same author.
            migrate(&url, &[]).await;
            assert_eq!(counts().await, (2, 1, 2));
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn unknown_and_unpublished_articles_are_404() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            let draft = draft(&db).await;
            for path in [
                format!("/blog/articles/{}/", draft.pk().expect("saved")),
                "/blog/articles/999999/".to_owned(),
            ] {
                let response = client.get(&path).send().await;
                assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
                // The site's own 404 page, which names the path.
                assert!(response.text().contains("Nothing here"), "{path}");
            }
            Ok(())
        })
        .await;
    }
}
