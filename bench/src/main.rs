//! TechEmpower-style endpoints served by an ordinary Manouche project, with
//! the framework's full default middleware stack and the sessions, auth
//! and CSRF apps installed (sessions in the database, the default), for
//! load tests against the peers in the shared bench folder (see
//! BENCHMARKS.md).
//!
//! `/plaintext`, `/json`, `/db` (one random row by primary key through the
//! ORM), `/fortunes` (all rows, one added, sorted, rendered by askama),
//! `/session` (a counter in the session: one session read and one write),
//! `/whoami` (the logged-in user's name, 403 for anonymous visitors),
//! `/accounts/login/` (the auth app's views) and `/static/site/app.css`.
//!
//! Its database is its own, made from nothing, with Manouche's tables
//! (`bench migrate`), then filled with the peers' rows and the `admin` /
//! `benchpass123` superuser (`bench seed`). From the repository's root,
//! once the peers are built (`setup-peers.sh` in the shared bench folder):
//!
//! ```text
//! cargo build --release -p bench
//! bench/scripts/setup.sh                 # the three steps below, on /tmp/manouche-bench.sqlite3
//!   export DATABASE_URL=sqlite:///tmp/manouche-bench.sqlite3
//!   target/release/bench migrate
//!   target/release/bench seed --from /tmp/manouche-peers/django/db.sqlite3
//!   target/release/bench collectstatic --clear
//! target/release/bench serve --bind 127.0.0.1:8000 &
//! wrk -t1 -c64 -d6s -H "Cookie: sessionid=$(bench/scripts/session.sh)" http://127.0.0.1:8000/whoami
//! ```
//!
//! `bench/scripts/measure.sh` runs the whole comparison (see BENCHMARKS.md).

mod admin_latency;
mod seed;
#[cfg(test)]
mod tests;
mod views;

use manouche::contrib::{auth, sessions, staticfiles};
use manouche::prelude::*;

/// The bench project on `settings`: static files, sessions, auth, the
/// bench app and its URLs.
pub(crate) fn project(settings: Settings) -> Project {
    Project::new(settings)
        .app(staticfiles::app())
        .app(sessions::app())
        .app(auth::app())
        .app(views::app().command(admin_latency::cli(), admin_latency::run))
        .app(views::admin().app())
        .urls(views::urls())
}

#[tokio::main]
async fn main() -> manouche::Result<()> {
    // The settings are compiled in, so the binary runs from any folder;
    // environment variables still override them.
    let mut settings = Settings::from_toml_str(include_str!("../settings.toml"))?;
    settings.apply_env(std::env::vars())?;
    project(settings).manage().await
}
