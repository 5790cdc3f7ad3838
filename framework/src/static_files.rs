//! Static files, served by the binary itself at nginx speed.
//!
//! - **Finding**: the project's folders (`[static] dirs`, default
//!   `["static"]`) then each app's ([`crate::App::static_dir`]); the first
//!   file with a given relative path wins.
//! - **`manage collectstatic`** copies them into `[static] root` under their
//!   own name and a content-hashed one (`site/app.3f2a1b9c0d4e.css`),
//!   rewrites `url(...)` and `@import` in CSS to the hashed names, writes
//!   gzip and brotli variants, and records the names in
//!   `staticfiles.json`.
//! - **Serving** (under `[static] url`, default `/static/`): without
//!   `debug`, every file up to `max_memory_file_size` is loaded into memory
//!   at startup with its headers ready (`ETag`, `Last-Modified`,
//!   `Content-Type`, `Cache-Control` — a year and `immutable` for hashed
//!   names, a minute for plain ones); larger files are streamed from disk.
//!   Requests get 304 on `If-None-Match`/`If-Modified-Since`, the br or gzip
//!   variant per `Accept-Encoding` (with `Vary`), 206/416 for `Range`, HEAD.
//!   Paths that could leave the static tree (`..`, `%2e%2e`, absolute, NUL,
//!   hidden files) get 404. With `debug` on, files are read from the static
//!   folders on every request, so edits show at once.
//!
//! Templates link to files with [`static_url`]:
//!
//! ```text
//! <link rel="stylesheet" href="{{ manouche::templates::static_url("site/app.css") }}">
//! ```
//!
//! which gives the hashed URL once `collectstatic` has run (the plain one in
//! debug).

mod collect;
mod finders;
mod serve;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub use collect::CollectReport;
pub(crate) use finders::Finder;
pub(crate) use serve::{StaticResponse, StaticStore};

use crate::settings::Settings;

/// A problem with static files; the message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StaticError {
    /// A file or folder could not be read or written.
    #[error("static files: {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// `staticfiles.json` is unreadable.
    #[error(
        "static files: {path} is not a valid manifest ({message}); run `manage collectstatic --clear`"
    )]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// The parser's reason.
        message: String,
    },
}

impl From<StaticError> for crate::Error {
    fn from(err: StaticError) -> Self {
        crate::Error::internal(err)
    }
}

/// The finder for a project: its own folders, then its apps'.
pub(crate) fn finder(settings: &Settings, app_dirs: &[PathBuf]) -> Finder {
    let mut dirs = settings.static_files.dirs.clone();
    dirs.extend(app_dirs.iter().cloned());
    Finder::new(dirs)
}

/// Builds what serves `/static/` for these settings (none when the URL
/// setting is empty) and records the names [`static_url`] gives; the
/// manifest is read once for both.
pub(crate) fn setup(
    settings: &Settings,
    finder: Finder,
) -> Result<Option<StaticStore>, StaticError> {
    let config = &settings.static_files;
    // Debug serves the folders under their plain names.
    let manifest = if settings.debug {
        None
    } else {
        collect::Manifest::load(&config.root)?
    };
    if let Ok(mut urls) = URLS.write() {
        *urls = Some(Arc::new(UrlMap {
            prefix: config.url.clone(),
            hashed: manifest
                .as_ref()
                .map(|m| m.paths.clone())
                .unwrap_or_default(),
        }));
    }
    if config.url.is_empty() {
        return Ok(None);
    }
    let store = if settings.debug {
        StaticStore::fresh(&config.url, finder)
    } else {
        let store = StaticStore::indexed(
            &config.url,
            &config.root,
            manifest.as_ref(),
            &finder,
            config.max_memory_file_size,
        )?;
        tracing::debug!(target: "manouche::static", "{} static file name(s) in memory", store.len());
        store
    };
    Ok(Some(store))
}

/// Runs `collectstatic` for a project's finder into its root.
pub(crate) fn collect(
    settings: &Settings,
    finder: &Finder,
    clear: bool,
) -> Result<CollectReport, StaticError> {
    collect::collect(finder, &settings.static_files.root, clear)
}

/// What [`static_url`] needs: the prefix and, once collected, the hashed
/// names.
#[derive(Debug, Default)]
struct UrlMap {
    prefix: String,
    hashed: BTreeMap<String, String>,
}

static URLS: RwLock<Option<Arc<UrlMap>>> = RwLock::new(None);

/// The URL of a static file (`"site/app.css"` → `/static/site/app.3f2a1b9c0d4e.css`
/// after `collectstatic`, `/static/site/app.css` in debug or before).
pub fn static_url(path: &str) -> String {
    let path = path.trim_start_matches('/');
    let urls = URLS.read().ok().and_then(|u| u.clone()).unwrap_or_default();
    let prefix = if urls.prefix.is_empty() {
        "/static/"
    } else {
        urls.prefix.as_str()
    };
    match urls.hashed.get(path) {
        Some(hashed) => format!("{prefix}{hashed}"),
        None => format!("{prefix}{path}"),
    }
}
