//! The database handle as an extractor, and database errors as statuses.
//!
//! ```
//! use axum::{Extension, Router, routing::get};
//! use manouche::db::Db;
//!
//! async fn health(db: Db) -> String {
//!     format!("{:?}", db.backend())
//! }
//!
//! # async fn make(db: manouche::db::Database) {
//! // A project hands its database to every handler by itself; a bare axum
//! // router carries it as an extension.
//! let app: Router = Router::new().route("/health", get(health)).layer(Extension(db));
//! # let _ = app;
//! # }
//! ```

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::db::{self, Database};
use crate::error_pages::ErrorReport;

/// The rejection when a handler asks for a [`Db`](crate::db::Db) but the
/// project has no database configured: a 500 that says so.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct MissingDatabase;

impl std::fmt::Display for MissingDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "this handler needs a database but the project has none configured: set \
             DATABASE_URL (or `database.url` in the settings)",
        )
    }
}

impl std::error::Error for MissingDatabase {}

impl IntoResponse for MissingDatabase {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        // The project's 500 page; the reason shows in debug.
        ErrorReport::new(StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Database {
    type Rejection = MissingDatabase;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The project's database (see `crate::request`), or one a router
        // was given with `Extension(db)`.
        crate::request::with_context(|c| c.site.database.clone())
            .flatten()
            .or_else(|| parts.extensions.get::<Database>().cloned())
            .ok_or(MissingDatabase)
    }
}

/// The HTTP status a handler failing with `err` should answer: 404 for a
/// missing object, 409 for a conflicting write (unique, foreign key,
/// protected), 400 for an invalid value, 503 while the database is
/// unreachable, 500 otherwise.
///
/// ```
/// use http::StatusCode;
/// use manouche::db::Error;
///
/// let err = Error::DoesNotExist { model: "Article" };
/// assert_eq!(manouche::web::status_of(&err), StatusCode::NOT_FOUND);
/// ```
#[must_use]
pub fn status_of(err: &db::Error) -> StatusCode {
    use db::Error;
    match err {
        Error::DoesNotExist { .. } => StatusCode::NOT_FOUND,
        Error::UniqueViolation { .. }
        | Error::ForeignKeyViolation { .. }
        | Error::Protected { .. }
        | Error::Restricted { .. } => StatusCode::CONFLICT,
        Error::InvalidValue { .. }
        | Error::UnknownField { .. }
        | Error::RefusedField { .. }
        | Error::NotNullViolation { .. }
        | Error::CheckViolation { .. } => StatusCode::BAD_REQUEST,
        Error::Unavailable { .. }
        | Error::Connect { .. }
        | Error::StatementTimeout { .. }
        | Error::LockTimeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Error;

    #[test]
    fn statuses() {
        assert_eq!(
            status_of(&Error::DoesNotExist { model: "A" }),
            StatusCode::NOT_FOUND
        );
        let unique = Error::UniqueViolation {
            table: "t".into(),
            fields: vec!["a".into(), "b".into()],
        };
        assert_eq!(status_of(&unique), StatusCode::CONFLICT);
        let down = Error::Unavailable {
            source: sqlx::Error::PoolTimedOut,
        };
        assert_eq!(status_of(&down), StatusCode::SERVICE_UNAVAILABLE);
        let missing = Error::MissingTable { table: "t".into() };
        assert_eq!(status_of(&missing), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
