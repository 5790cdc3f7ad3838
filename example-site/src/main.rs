//! The Manouche example site: built only on the framework's public API, as
//! a user's project would be. Run it with `cargo manage runserver`.

mod blog;
mod chat;
mod nav;
mod views;

use manouche::prelude::*;

#[tokio::main]
async fn main() -> manouche::Result<()> {
    site(Project::from_settings("settings.toml")?)
        .manage()
        .await
}

/// The site's URLs, apps, migrations and error pages on `project` (which
/// holds the settings); the tests build the same site on their own database.
fn site(project: Project) -> Project {
    project
        // Compiled in, so the deployed binary migrates without the source tree.
        .migrations(manouche::embed_migrations!("../migrations"))
        .urls(views::urls())
        .app(manouche::contrib::staticfiles::app())
        .app(manouche::contrib::sessions::app())
        .app(manouche::contrib::auth::app())
        .app(manouche::contrib::messages::app())
        .app(blog::app())
        .app(blog::admin().app())
        .app(manouche::contrib::channels::app())
        .app(chat::app())
        .error_page(StatusCode::NOT_FOUND, views::not_found)
        .error_page(StatusCode::FORBIDDEN, views::forbidden)
}
