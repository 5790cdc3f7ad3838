//! Polls: a reusable app, as a third-party crate would ship one. A project
//! installs it with one line, `.app(polls::app())`, and gets:
//!
//! - the `Question` and `Choice` models, with their migrations compiled into
//!   this crate (`migrations/polls/`);
//! - the pages `polls:index` and `polls:detail`, with templates and a
//!   stylesheet (`polls/style.css`) of their own;
//! - a middleware that tells the views who is visiting (`Visitor`);
//! - `manage pollstats`, a `polls.W001` check and a `[polls]` settings
//!   section with which the project re-skins the pages.

pub mod models;
mod views;

use manouche::middleware::{Before, Middleware};
use manouche::{App, axum, clap, http};

pub use views::{DetailPage, IndexPage};

/// The `[polls]` settings section: how the project dresses the app's pages.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollsSettings {
    /// The pages' `<title>` and heading.
    pub title: String,
    /// Extra stylesheets (static paths such as `"site/polls.css"`).
    pub extra_css: Vec<String>,
    /// Questions per page, 1 to 100.
    pub per_page: u32,
}

impl Default for PollsSettings {
    fn default() -> Self {
        Self {
            title: "Polls".to_owned(),
            extra_css: Vec::new(),
            per_page: 20,
        }
    }
}

impl manouche::app::AppSettings for PollsSettings {
    fn validate(&self) -> Result<(), String> {
        if !(1..=100).contains(&self.per_page) {
            return Err(format!(
                "per_page = {} is out of range: use 1 to 100",
                self.per_page
            ));
        }
        Ok(())
    }
}

/// Who is visiting, as the middleware found it (the `X-Visitor` header, or
/// `anonymous`); the views extract it with `Extension<Visitor>`.
#[derive(Debug, Clone)]
pub struct Visitor(pub String);

/// Attaches a [`Visitor`] to every request, and marks the app's responses.
struct VisitorMiddleware;

impl Middleware for VisitorMiddleware {
    fn name(&self) -> &'static str {
        "polls-visitor"
    }

    fn before(&self, request: &mut http::Request<axum::body::Body>) -> Before {
        let name = request
            .headers()
            .get("x-visitor")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 40)
            .unwrap_or("anonymous")
            .to_owned();
        request.extensions_mut().insert(Visitor(name));
        Before::Continue
    }

    fn after(&self, response: &mut axum::response::Response) {
        response
            .headers_mut()
            .insert("x-polls", http::HeaderValue::from_static("1"));
    }
}

/// The app.
pub fn app() -> App {
    App::new("polls")
        .model::<models::Question>()
        .model::<models::Choice>()
        .migrations(manouche::embed_migrations!("migrations"))
        .urls("polls/", views::urls())
        .static_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/static"))
        .settings::<PollsSettings>()
        .middleware(VisitorMiddleware)
        .command(
            clap::Command::new("pollstats").about("Count the questions and their votes"),
            views::pollstats,
        )
        .check(|ctx| {
            let Some(settings) = ctx.services.get_ref::<PollsSettings>() else {
                return Vec::new();
            };
            settings
                .extra_css
                .iter()
                .filter(|path| !path.ends_with(".css") || path.starts_with('/'))
                .map(|path| {
                    manouche::checks::CheckMessage::warning(
                        "polls.W001",
                        format!(
                            "[polls] extra_css has {path:?}, which is not a relative .css path"
                        ),
                        "list static paths such as \"site/polls.css\"",
                    )
                })
                .collect()
        })
}
