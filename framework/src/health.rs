//! Health probes for load balancers and orchestrators, answered by the
//! built-in server (`manage serve` and `runserver`):
//!
//! | path | answers |
//! |---|---|
//! | `/healthz` | liveness: `200 ok` while the process serves |
//! | `/readyz` | readiness: `200 ready` when the database answers and no migration is pending; `503` while draining (after SIGTERM), while the database does not answer within a second, or while migrations are pending |
//!
//! `server.health` says where: `"main"` (the default) answers them on the
//! site's own address, for `GET` and `HEAD`, before the host check (a load
//! balancer probing `http://10.0.0.5:8000/readyz` sends its own idea of
//! the host) and before load shedding (an overloaded process is still
//! alive); `"metrics"` answers them only on the `--metrics` address, off
//! the public port, where they also keep answering while the main
//! listener is closed during a drain; `"off"` answers them nowhere.
//!
//! The bodies say why (`draining`, `database unreachable`, `3 migrations
//! pending`) and nothing more: no settings, no error text.
//!
//! **Cost.** A liveness probe touches nothing. A readiness probe asks the
//! database for a connection and a round trip, and at most one check runs
//! at a time: probes arriving meanwhile, or within a second of the last
//! check, get its result (a dozen balancers probing every second cost one
//! round trip a second). Migrations are looked up only until a check finds
//! none pending: the set of migrations is compiled into the binary, and
//! once the database has them all it keeps them (un-applying them while
//! the site serves is not a state a probe has to follow), so from then on
//! a probe costs the round trip only. Until then, each check reads the
//! recorder table once; a release whose migrations are run after its
//! servers started (`manage migrate` once per release) turns ready on the
//! first check after they are applied.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use tokio::time::Instant;

use crate::db::Database;
use crate::migrations::MigrationSet;
use crate::server::ServerStats;

/// A database that does not answer within this long is unreachable, as
/// far as readiness goes (probes time out at a second or two).
const PROBE_BUDGET: Duration = Duration::from_secs(1);

/// How long a readiness check's result is reused.
const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// One probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// `/healthz`.
    Live,
    /// `/readyz`.
    Ready,
}

impl Probe {
    /// The probe a request asks for, if any.
    pub(crate) fn of(method: &Method, path: &str) -> Option<Self> {
        if *method != Method::GET && *method != Method::HEAD {
            return None;
        }
        match path {
            "/healthz" => Some(Self::Live),
            "/readyz" => Some(Self::Ready),
            _ => None,
        }
    }
}

/// Why the process is not ready, or that it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readiness {
    Ready,
    Draining,
    DatabaseUnreachable,
    MigrationsPending(usize),
}

/// What the probes read: the server's state, the database, and the
/// migrations the binary carries.
#[derive(Debug)]
pub(crate) struct Health {
    stats: Arc<ServerStats>,
    database: Option<Database>,
    /// `None`: not checked (no database, or the set could not be read,
    /// which `serve` reports at startup).
    migrations: Option<MigrationSet>,
    /// Set once a check found no migration pending.
    migrations_applied: AtomicBool,
    /// The last check's time and result; held while a check runs.
    last: tokio::sync::Mutex<Option<(Instant, Readiness)>>,
}

impl Health {
    pub(crate) fn new(
        stats: Arc<ServerStats>,
        database: Option<Database>,
        migrations: Option<MigrationSet>,
    ) -> Arc<Self> {
        Arc::new(Self {
            stats,
            migrations: database.as_ref().and(migrations),
            database,
            migrations_applied: AtomicBool::new(false),
            last: tokio::sync::Mutex::new(None),
        })
    }

    /// The response to `probe`.
    pub(crate) async fn answer(self: Arc<Self>, probe: Probe) -> Response {
        match probe {
            Probe::Live => text(StatusCode::OK, "ok".to_owned()),
            Probe::Ready => match self.readiness().await {
                Readiness::Ready => text(StatusCode::OK, "ready".to_owned()),
                Readiness::Draining => text(StatusCode::SERVICE_UNAVAILABLE, "draining".to_owned()),
                Readiness::DatabaseUnreachable => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database unreachable".to_owned(),
                ),
                Readiness::MigrationsPending(n) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{n} migration(s) pending"),
                ),
            },
        }
    }

    /// `/healthz` and `/readyz` as a router (for the metrics address).
    pub(crate) fn router(self: Arc<Self>) -> axum::Router {
        let live = Arc::clone(&self);
        axum::Router::new()
            .route(
                "/healthz",
                axum::routing::get(move || Arc::clone(&live).answer(Probe::Live)),
            )
            .route(
                "/readyz",
                axum::routing::get(move || Arc::clone(&self).answer(Probe::Ready)),
            )
    }

    async fn readiness(&self) -> Readiness {
        if self.stats.is_draining() {
            return Readiness::Draining;
        }
        let mut last = self.last.lock().await;
        if let Some((at, readiness)) = *last
            && at.elapsed() < RECHECK_AFTER
        {
            return readiness;
        }
        let readiness = self.check().await;
        *last = Some((Instant::now(), readiness));
        drop(last);
        // The drain may have started during the check.
        if self.stats.is_draining() {
            return Readiness::Draining;
        }
        readiness
    }

    /// What a reload's new process must see before it reports ready: the
    /// database answers and its migrations are applied.
    ///
    /// # Errors
    /// What is wrong, and what to do about it.
    pub(crate) async fn ready_to_take_over(&self) -> Result<(), String> {
        match self.check().await {
            Readiness::Ready | Readiness::Draining => Ok(()),
            Readiness::DatabaseUnreachable => Err(
                "the database does not answer, so whether its migrations are applied cannot be told"
                    .to_owned(),
            ),
            Readiness::MigrationsPending(0) => Err(
                "the database has migrations this binary does not know: is it an older release?"
                    .to_owned(),
            ),
            Readiness::MigrationsPending(n) => Err(format!(
                "{n} migration(s) pending: run `manage migrate`, then reload again"
            )),
        }
    }

    async fn check(&self) -> Readiness {
        use crate::migrations::executor::{self, Target};
        let Some(db) = &self.database else {
            return Readiness::Ready;
        };
        if !matches!(
            tokio::time::timeout(PROBE_BUDGET, db.ping()).await,
            Ok(Ok(()))
        ) {
            return Readiness::DatabaseUnreachable;
        }
        let Some(set) = &self.migrations else {
            return Readiness::Ready;
        };
        if self.migrations_applied.load(Ordering::Relaxed) {
            return Readiness::Ready;
        }
        let Ok(Ok(applied)) = tokio::time::timeout(PROBE_BUDGET, executor::applied(db)).await
        else {
            return Readiness::DatabaseUnreachable;
        };
        match executor::plan(set, &applied, &Target::All) {
            Ok(plan) if plan.is_empty() => {
                self.migrations_applied.store(true, Ordering::Relaxed);
                Readiness::Ready
            }
            Ok(plan) => Readiness::MigrationsPending(plan.len()),
            // The recorder names migrations this binary does not have (an
            // older binary on a newer database): what is pending for this
            // one cannot be told, and it is not ready.
            Err(_) => Readiness::MigrationsPending(0),
        }
    }
}

/// A short plain-text answer that no cache keeps.
fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, format!("{body}\n")).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_and_head_on_the_two_paths_are_probes() {
        assert_eq!(Probe::of(&Method::GET, "/healthz"), Some(Probe::Live));
        assert_eq!(Probe::of(&Method::HEAD, "/readyz"), Some(Probe::Ready));
        assert_eq!(Probe::of(&Method::POST, "/readyz"), None);
        assert_eq!(Probe::of(&Method::GET, "/readyz/"), None);
        assert_eq!(Probe::of(&Method::GET, "/healthz/x"), None);
    }

    #[tokio::test]
    async fn readiness_follows_the_drain_and_the_database() {
        let stats = Arc::new(ServerStats::default());
        // No database: ready until the drain.
        let health = Health::new(Arc::clone(&stats), None, None);
        let ready = Arc::clone(&health).answer(Probe::Ready).await;
        assert_eq!(ready.status(), StatusCode::OK);
        assert_eq!(ready.headers()["cache-control"], "no-store");
        stats.start_draining();
        let draining = Arc::clone(&health).answer(Probe::Ready).await;
        assert_eq!(draining.status(), StatusCode::SERVICE_UNAVAILABLE);
        // Liveness does not care.
        assert_eq!(health.answer(Probe::Live).await.status(), StatusCode::OK);
    }
}
