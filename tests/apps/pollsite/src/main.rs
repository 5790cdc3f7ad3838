//! A project that installs the reusable `polls` app with one line, has an
//! app of its own (`pages`, whose migrations are in this project's
//! `migrations/pages/`), re-skins the polls pages through `[polls]` in
//! `settings.toml`, and replaces the polls detail page with its own
//! template.

mod pages;

use manouche::prelude::*;

/// The project's own template for the polls app's detail page.
#[derive(Template)]
#[template(path = "pollsite/poll_detail.html")]
struct PollDetail<'a> {
    page: &'a polls::DetailPage,
}

fn project(project: Project) -> Project {
    project
        .migrations(manouche::embed_migrations!("migrations"))
        .app(manouche::contrib::staticfiles::app())
        .app(polls::app())
        .app(pages::app())
        .override_template(|page: &polls::DetailPage| PollDetail { page }.render())
}

#[tokio::main]
async fn main() -> manouche::Result<()> {
    project(Project::from_settings("settings.toml")?)
        .manage()
        .await
}
