//! The built-in apps. Each is an [`App`](crate::App) built only on the
//! public hooks a third-party app crate uses, and is installed the same
//! way:
//!
//! ```no_run
//! use manouche::prelude::*;
//!
//! # async fn run() -> manouche::Result<()> {
//! Project::from_settings("settings.toml")?
//!     .app(manouche::contrib::staticfiles::app())
//!     .manage()
//!     .await
//! # }
//! ```
//!
//! | app | what it brings |
//! |---|---|
//! | [`admin`] | the generated admin: list, search, filters, sort, pages, add, change and delete pages behind the staff login and permissions |
//! | [`channels`] | websocket consumers routed next to the views, groups, and a channel layer in memory or on Redis |
//! | [`staticfiles`] | static files served from memory at nginx speed, `static_url` in templates, `manage collectstatic`, checks |

pub mod admin;
pub mod auth;
pub mod channels;
pub mod messages;
pub mod sessions;
pub mod staticfiles;
