//! The project's own app: one model, and a home page.

use manouche::db::{Auto, Model};
use manouche::prelude::*;

/// A page of text.
#[derive(Debug, Clone, Model)]
#[model(app = "pages")]
pub(crate) struct Page {
    pub(crate) id: Auto<i64>,
    #[model(max_length = 100)]
    pub(crate) title: String,
}

async fn home(db: Db) -> Result<String> {
    let pages = Page::objects().count(&db).await?;
    Ok(format!(
        "{pages} page(s); polls at {}",
        reverse!("polls:index")?
    ))
}

pub(crate) fn app() -> App {
    App::new("pages").urls("", Urls::new().path("", get(home), "home"))
}
