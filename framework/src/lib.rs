//! Manouche: a batteries-included web framework in the spirit of Django,
//! with a built-in server that takes production traffic by itself.
//!
//! A project is a [`Project`]: settings, [apps](app) and a URL tree. Its
//! binary is its own `manage` command (`runserver`, `serve`, `migrate`,
//! `check`, `help`, and the apps' own commands). The built-in apps are in
//! [`contrib`]; a third-party app crate uses the same hooks (see
//! `docs/apps.md`, "Writing an app").
//!
//! ```no_run
//! use manouche::prelude::*;
//!
//! async fn hello(Path(name): Path<String>) -> String {
//!     format!("Hello, {name}!")
//! }
//!
//! #[tokio::main]
//! async fn main() -> manouche::Result<()> {
//!     Project::from_settings("settings.toml")?
//!         .app(manouche::contrib::staticfiles::app())
//!         .urls(Urls::new().path("hello/<slug:name>/", get(hello), "hello"))
//!         .manage()
//!         .await
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

// Lets the derive macros name `::manouche::...` from inside this crate too.
#[allow(unused_extern_crates)]
extern crate self as manouche;

/// The process's allocator (the `jemalloc` feature, on by default): see
/// the feature's note in the crate's `Cargo.toml`.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod app;
pub mod checks;
pub mod contrib;
pub mod crypto;
pub mod csrf;
pub mod db;
mod error;
pub mod error_pages;
pub mod forms;
pub mod health;
pub mod logging;
pub mod mail;
mod manage;
pub mod metrics;
pub mod middleware;
pub mod migrations;
pub mod paginator;
pub mod project;
pub mod proxies;
pub mod request;
pub mod server;
pub mod services;
pub mod settings;
pub mod storage;
pub mod templates;
pub mod test;
pub mod urls;
pub mod web;

pub use app::App;
/// `#[derive(Model)]` and the [`db::Model`] trait.
pub use db::Model;
pub use error::{Error, Result, StartupError};
/// `#[derive(TemplateResponse)]`: an askama template that handlers return
/// as it is (`Result<Index>`), rendered with its `Content-Type` or turned
/// into a 500; see [`templates::render_response`].
pub use manouche_macros::TemplateResponse;
/// `embed_migrations!("../migrations")`: the project's migration files
/// compiled into its binary (see [`migrations`]).
pub use manouche_macros::embed_migrations;
pub use project::{Project, Site};
pub use settings::Settings;

// The crates of the public API, so that an app crate uses the same versions.
/// `#[manouche::async_trait]`, for the traits apps implement with async
/// methods (websocket consumers, channel layers, session stores).
pub use async_trait::async_trait;
pub use axum;
pub use clap;
pub use http;
pub use tower;

/// The names most handlers and projects need: `use manouche::prelude::*;`.
pub mod prelude {
    pub use crate::TemplateResponse;
    pub use crate::db::{Db, Model};
    pub use crate::paginator::Paginator;
    pub use crate::request::{ConnectionInfo, RequestId};
    pub use crate::reverse;
    pub use crate::services::Service;
    pub use crate::settings::Settings;
    pub use crate::urls::{UrlConf, Urls};
    pub use crate::web::{Form, Json, Path, Query};
    pub use crate::{App, Error, Project, Result};
    pub use askama::Template;
    pub use axum::body::Bytes;
    pub use axum::response::{Html, IntoResponse, Redirect, Response};
    pub use axum::routing::{delete, get, patch, post, put};
    pub use http::StatusCode;
}
