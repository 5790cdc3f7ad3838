//! The blog app: its models, URLs and pages. The pages are still static;
//! they read the models once the schema comes from migrations.

mod data_migrations;
pub(crate) mod models;

use manouche::prelude::*;

#[derive(Template)]
#[template(path = "blog/index.html")]
struct Index {
    articles: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "blog/article_detail.html")]
struct Detail {
    id: i64,
    url: String,
}

async fn index() -> Result<Html<String>> {
    let articles = (1..=3)
        .map(|id| (id, format!("Article number {id}")))
        .collect();
    Ok(Html(Index { articles }.render()?))
}

async fn detail(Path(id): Path<i64>) -> Result<Html<String>> {
    // `reverse!` in a handler; the template also calls `reverse`.
    let url = reverse!("blog:article-detail", id = id)?;
    Ok(Html(Detail { id, url }.render()?))
}

/// The app: its URLs, mounted under `blog/` in the `blog` namespace, and
/// the functions its data migrations run.
pub(crate) fn app() -> App {
    App::new("blog")
        .urls(
            "blog/",
            Urls::app("blog").path("", get(index), "index").path(
                "articles/<int:id>/",
                get(detail),
                "article-detail",
            ),
        )
        .data_migration("add_starter_tags", |tx| {
            Box::pin(data_migrations::add_starter_tags(tx))
        })
        .data_migration("remove_starter_tags", |tx| {
            Box::pin(data_migrations::remove_starter_tags(tx))
        })
}
