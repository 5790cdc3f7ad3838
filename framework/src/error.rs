//! The user-facing error types: [`Error`] (with [`Result`]) for requests,
//! and [`StartupError`] for a project that cannot start or a `manage`
//! command that fails.
//!
//! Every handler can return `manouche::Result<impl IntoResponse>`. An [`Error`]
//! carries an HTTP status; turned into a response it becomes the project's
//! error page for that status (see [`crate::error_pages`]), with the details
//! shown only when `debug` is on.
//!
//! ```
//! use manouche::{Error, Result};
//!
//! fn find(id: i64) -> Result<&'static str> {
//!     match id {
//!         1 => Ok("first"),
//!         _ => Err(Error::not_found(format!("no article with id {id}"))),
//!     }
//! }
//! assert_eq!(find(2).unwrap_err().status(), http::StatusCode::NOT_FOUND);
//! ```

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::error_pages::ErrorReport;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error with an HTTP status, a message for the person who has to fix it,
/// and optionally the error that caused it.
pub struct Error {
    status: StatusCode,
    message: String,
    source: Option<BoxError>,
}

impl Error {
    /// An error with the given status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            source: None,
        }
    }

    /// A 404: the thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// A 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A 403: the request is understood but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// A 500 caused by `source`.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        let source = source.into();
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: source.to_string(),
            source: Some(source),
        }
    }

    /// A 500 that is a configuration problem, e.g. a bad settings file. The
    /// message should say what to change.
    pub fn improperly_configured(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message, meant for the developer (shown on error pages in debug).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            let text = source.to_string();
            if text != self.message {
                write!(f, ": {text}")?;
            }
        }
        Ok(())
    }
}

// `main` functions print the `Debug` form of the error they return; keep it
// the readable message rather than a struct dump.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} ({})", self.status)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), error = %self, "request failed");
        }
        ErrorReport::new(self.status, self.to_string()).into_response()
    }
}

/// Why a project could not start, or a `manage` command failed: a bad
/// setting, a URL mistake, an app's hook, migrations, static files, the
/// database. `manage` prints it as `error: ...` and exits with 1. Unlike the
/// request [`Error`] it has no HTTP status; it converts into one (a 500) so
/// that `main` can return [`manouche::Result`](Result) and use `?` on both.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// A setting is missing, misspelt or unusable.
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    /// Mistakes in the URL tree, all of them.
    #[error("{}", .0.to_string().trim_end())]
    Urls(#[from] crate::urls::UrlErrors),
    /// Migrations that cannot be read, planned or applied.
    #[error(transparent)]
    Migrations(#[from] crate::migrations::MigrationError),
    /// Static files that cannot be read or collected.
    #[error(transparent)]
    Static(#[from] crate::contrib::staticfiles::StaticError),
    /// The database refused or failed.
    #[error(transparent)]
    Database(#[from] crate::db::Error),
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Anything else the project or an app's hook found wrong; the message
    /// says what to change.
    #[error("{0}")]
    ImproperlyConfigured(String),
    /// A request-side error met while starting or in a command (a template
    /// that does not render, a missing service).
    #[error(transparent)]
    Request(#[from] Error),
}

impl StartupError {
    /// A configuration problem, with a message that says what to change.
    pub fn improperly_configured(message: impl Into<String>) -> Self {
        Self::ImproperlyConfigured(message.into())
    }
}

impl From<StartupError> for Error {
    fn from(err: StartupError) -> Self {
        match err {
            StartupError::Request(err) => err,
            other => Self::improperly_configured(other.to_string()).with_source(other),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self::internal(err)
    }
}

impl From<askama::Error> for Error {
    fn from(err: askama::Error) -> Self {
        // The reason is the source's, shown once after the message.
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "template rendering failed",
        )
        .with_source(err)
    }
}

impl From<crate::settings::SettingsError> for Error {
    fn from(err: crate::settings::SettingsError) -> Self {
        Self::improperly_configured(err.to_string())
    }
}

impl From<crate::urls::UrlError> for Error {
    fn from(err: crate::urls::UrlError) -> Self {
        Self::improperly_configured(err.to_string())
    }
}

impl From<crate::urls::NoReverseMatch> for Error {
    fn from(err: crate::urls::NoReverseMatch) -> Self {
        Self::internal(err)
    }
}

impl From<crate::contrib::sessions::SessionError> for Error {
    fn from(e: crate::contrib::sessions::SessionError) -> Self {
        Self::internal(e)
    }
}

impl From<crate::db::Error> for Error {
    fn from(err: crate::db::Error) -> Self {
        let status = crate::web::status_of(&err);
        Self::new(status, err.to_string()).with_source(err)
    }
}
