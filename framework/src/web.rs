//! The HTTP side of the framework's services: what a handler extracts and
//! how their errors become responses.
//!
//! The layers below (the ORM in [`crate::db`], migrations) know nothing of
//! HTTP; this module is where they meet axum:
//!
//! - [`Db`](crate::db::Db) is an extractor: a handler that takes `db: Db` gets
//!   the project's [`Database`](crate::db::Database), or answers a 500
//!   ([`MissingDatabase`]) when the project has none configured.
//! - [`Service<T>`](crate::services::Service) is an extractor: a project
//!   service registered in an app's `ready` hook, or a 500 naming the type.
//! - [`status_of`] maps a database error to the status a failing handler
//!   answers with (404 for a missing object, 409 for a unique violation,
//!   503 while the database is down, ...); `?` on a [`db::Error`](crate::db::Error)
//!   in a handler returning [`crate::Result`] uses it.
//!
//! ```
//! use manouche::db::{Db, Error};
//! use manouche::prelude::*;
//!
//! async fn health(db: Db) -> Result<&'static str> {
//!     db.ping().await?; // 503 while the database is unreachable
//!     Ok("ok")
//! }
//!
//! let taken = Error::UniqueViolation { table: "blog_article".into(), fields: vec!["slug".into()] };
//! assert_eq!(manouche::web::status_of(&taken), StatusCode::CONFLICT);
//! let urls = Urls::new().path("health/", get(health), "health");
//! # let _ = urls;
//! ```

pub mod cookies;
mod database;
mod extract;
pub(crate) mod form_body;
pub(crate) mod media;
mod redirects;
mod services;

pub use database::{MissingDatabase, status_of};
pub use extract::{Form, Json, Path, Query};
pub use redirects::url_has_allowed_host_and_scheme;

/// A `302 Found` redirect to `url` (Django's `HttpResponseRedirect`; axum's
/// `Redirect::to` answers 303). A `url` that is not a valid header value
/// gives 500 naming it.
#[must_use]
pub fn found(url: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    match http::HeaderValue::try_from(url) {
        Ok(location) => (
            http::StatusCode::FOUND,
            [(http::header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => {
            crate::Error::internal(format!("cannot redirect to {url:?}: not a valid Location"))
                .into_response()
        }
    }
}
