//! The static-files app: static files served by the binary itself at
//! nginx speed. Install it with
//! `.app(manouche::contrib::staticfiles::app())`; it is built only on the
//! public app hooks (a [`Middleware`] that serves, a `ready` hook, a
//! `manage` command and system checks).
//!
//! - **Finding**: the project's folders (`[static] dirs`, default
//!   `["static"]`) then each installed app's ([`crate::App::static_dir`]); the first
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
//! Templates link to files with [`static_url`] (of the project serving the
//! current request):
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

use axum::body::Body;
use http::Request;

pub use collect::CollectReport;
pub(crate) use finders::Finder;
use serve::{StaticResponse, StaticStore};

use crate::App;
use crate::app::{AppInfo, CheckContext, CommandContext, Purpose, Ready};
use crate::checks::CheckMessage;
use crate::middleware::{Before, Middleware};
use crate::settings::Settings;

/// The app: serving under `[static] url`, `static_url` in templates,
/// `manage collectstatic` and its checks.
pub fn app() -> App {
    App::new("staticfiles")
        .ready(ready)
        .command(
            clap::Command::new("collectstatic")
                .about("Collect static files into [static] root, hashed and compressed")
                .arg(
                    clap::Arg::new("clear")
                        .long("clear")
                        .action(clap::ArgAction::SetTrue)
                        .help("Empty the root first (removes files whose sources are gone)"),
                )
                .arg(
                    clap::Arg::new("noinput")
                        .long("noinput")
                        .visible_alias("no-input")
                        .action(clap::ArgAction::SetTrue)
                        .hide(true)
                        .help("Accepted for Django compatibility; this command never asks"),
                ),
            collectstatic,
        )
        .check(checks)
}

/// The project's finder and the names `static_url` gives, as services; the
/// serving middleware when the project serves.
fn ready(ready: &mut Ready<'_>) -> Result<(), crate::StartupError> {
    let settings = ready.settings();
    let finder = finder(settings, ready.apps());
    let config = &settings.static_files;
    let serving = ready.purpose() == Purpose::Serve;
    // Debug serves the folders under their plain names. A command (such as
    // `collectstatic --clear`, which repairs it) must not fail on a broken
    // manifest.
    let manifest = if settings.debug {
        None
    } else if serving {
        collect::Manifest::load(&config.root)?
    } else {
        collect::Manifest::load(&config.root).ok().flatten()
    };
    let urls = StaticUrls {
        prefix: config.url.clone(),
        hashed: manifest
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default(),
    };
    if serving && !config.url.is_empty() {
        let store = if settings.debug {
            StaticStore::fresh(&config.url, finder.clone())
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
        ready.add_middleware(ServeStatic { store });
    }
    let services = ready.services_mut();
    services.insert(urls);
    services.insert(finder);
    Ok(())
}

/// The serving middleware: answers every request under `[static] url`,
/// before the router, the timeout and the panic guard (the code that
/// serves is ours and answers at once).
struct ServeStatic {
    store: StaticStore,
}

impl Middleware for ServeStatic {
    fn name(&self) -> &'static str {
        "static"
    }

    fn before(&self, request: &mut Request<Body>) -> Before {
        let Some(rest) = request.uri().path().strip_prefix(self.store.prefix()) else {
            return Before::Continue;
        };
        match self.store.respond(request, rest) {
            StaticResponse::Ready(response) => Before::Respond(response),
            StaticResponse::Pending(fut) => Before::Pending(fut),
        }
    }
}

/// `manage collectstatic [--clear]`.
async fn collectstatic(ctx: CommandContext) -> Result<(), crate::StartupError> {
    let finder = ctx.service::<Finder>()?;
    let clear = ctx.matches().get_flag("clear");
    let root = &ctx.settings().static_files.root;
    let report = collect::collect(&finder, root, clear)?;
    println!(
        "{} static file(s) collected into {} ({} compressed variant(s)); names are in {}/staticfiles.json",
        report.files,
        root.display(),
        report.compressed,
        root.display()
    );
    if report.files == 0 {
        let dirs: Vec<String> = finder
            .dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        println!("Note: no files found in {dirs:?}.");
    }
    Ok(())
}

/// `staticfiles.W001`: a static folder that does not exist (Django's
/// `staticfiles.W004`), other than the default `static`; `staticfiles.W002`: in deploy, serving without a
/// collected root.
fn checks(ctx: &CheckContext<'_>) -> Vec<CheckMessage> {
    let mut found = Vec::new();
    // The default `static` folder may simply not exist yet; a folder the
    // settings or an app name must.
    let default_dirs = crate::settings::StaticSettings::default().dirs;
    if let Some(finder) = ctx.services.get_ref::<Finder>() {
        for dir in finder.dirs() {
            if !dir.is_dir() && !default_dirs.contains(dir) {
                found.push(CheckMessage::warning(
                    "staticfiles.W001",
                    format!("the static folder {} does not exist", dir.display()),
                    "create it, or remove it from `[static] dirs` (or the app's `static_dir`)",
                ));
            }
        }
    }
    let config = &ctx.settings.static_files;
    if ctx.deploy && !config.url.is_empty() && !config.root.join("staticfiles.json").is_file() {
        found.push(CheckMessage::warning(
            "staticfiles.W002",
            format!(
                "{} has no staticfiles.json: `serve` would find no static files",
                config.root.display()
            ),
            "run `manage collectstatic` before `serve` (in the deploy step)",
        ));
    }
    found
}

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
fn finder(settings: &Settings, apps: &[AppInfo]) -> Finder {
    let mut dirs = settings.static_files.dirs.clone();
    dirs.extend(apps.iter().filter_map(|a| a.static_dir.clone()));
    Finder::new(dirs)
}

/// What [`static_url`] needs: the prefix and, once collected, the hashed
/// names (a project service).
#[derive(Debug, Default)]
pub struct StaticUrls {
    prefix: String,
    hashed: BTreeMap<String, String>,
}

impl StaticUrls {
    /// The URL of `path` (see [`static_url`]).
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        let prefix = if self.prefix.is_empty() {
            "/static/"
        } else {
            self.prefix.as_str()
        };
        match self.hashed.get(path) {
            Some(hashed) => format!("{prefix}{hashed}"),
            None => format!("{prefix}{path}"),
        }
    }
}

/// The URL of a static file for the project serving the current request
/// (`"site/app.css"` → `/static/site/app.3f2a1b9c0d4e.css` after
/// `collectstatic`, `/static/site/app.css` in debug or before). Outside a
/// request, or without the app installed, the plain name under `/static/`.
pub fn static_url(path: &str) -> String {
    match crate::request::current_service::<StaticUrls>() {
        Some(urls) => urls.url(path),
        None => StaticUrls::default().url(path),
    }
}
