//! Prometheus metrics on their own address (the role of `uwsgi --stats`):
//! `manage serve --metrics 127.0.0.1:9191`, then scrape
//! `http://127.0.0.1:9191/metrics`. Off by default, and free when off.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `manouche_requests_total` | counter | `route` (the route's name, `static`, or `unmatched`), `status` |
//! | `manouche_request_duration_seconds` | histogram | `route` |
//! | `manouche_requests_in_flight` | gauge | |
//! | `manouche_open_connections` | gauge | |
//! | `manouche_parked_connections` | gauge | (idle HTTP/1 connections holding only their socket; also counted in `manouche_open_connections`) |
//! | `manouche_db_pool_connections` | gauge | `state` (`in_use`, `idle`) |
//! | `manouche_db_statements_prepared_again_total` | counter | (PostgreSQL: statements run again after a column type changed under a connection's prepared statements, at most once per connection and change; see [`crate::db`]'s driver notes) |
//! | `manouche_static_bytes_total` | counter | |
//! | `manouche_log_lines_dropped_total` | counter | (log lines dropped because stdout could not keep up; see [`crate::logging`]) |
//! | `manouche_client_errors_total` | counter | `kind`: `head_too_large`, `malformed` (HTTP/1 heads the parser refused), `http2_too_many_resets` (rapid reset), `http2_protocol`, `http2_off`, `first_request_timeout`, `header_read_timeout`, `send_timeout`, `connections_per_client` |
//! | `manouche_websockets_open` | gauge | (websockets also count in `manouche_open_connections`) |
//! | `manouche_websockets_total` | counter | |
//! | `manouche_channel_layer_dropped_total` | counter | `reason`: `full` (a channel's queue), `expired`, `lagged` (the Redis layer fell behind) |
//!
//! The address should not be public: put it on loopback or a private
//! interface.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::db::Database;
use crate::health::Health;
use crate::server::ServerStats;

/// Latency buckets, in seconds: 0.5 ms to 10 s.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder (metrics are global in the `metrics` crate).
fn handle() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(
                        "manouche_request_duration_seconds".into(),
                    ),
                    &BUCKETS,
                )
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| format!("cannot install the metrics recorder: {e}"))
        })
        .clone()
}

/// Binds the metrics address.
///
/// # Errors
/// When the address cannot be bound.
pub(crate) async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))
}

/// Adopts the metrics socket a reload's old process passed.
///
/// # Errors
/// When the socket cannot be made non-blocking.
pub(crate) fn adopt(listener: std::net::TcpListener) -> Result<tokio::net::TcpListener, String> {
    listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(listener))
        .map_err(|e| format!("cannot use the inherited metrics socket: {e}"))
}

/// Installs the recorder (once) and serves `/metrics` on `listener` until
/// the process ends (through a drain too) or `handed_over` resolves (a
/// reload's new process serves the address then), with the health probes
/// when given.
///
/// # Errors
/// When the recorder cannot be installed.
pub(crate) fn start(
    listener: tokio::net::TcpListener,
    stats: Arc<ServerStats>,
    database: Option<Database>,
    health: Option<Arc<Health>>,
    handed_over: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let handle = handle()?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("the metrics socket: {e}"))?;
    let mut router = Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            let stats = Arc::clone(&stats);
            let database = database.clone();
            async move { render(&handle, &stats, database.as_ref()) }
        }),
    );
    if let Some(health) = health {
        router = router.merge(health.router());
        tracing::info!(target: "manouche::server", "health probes on http://{addr}/healthz and /readyz");
    }
    tracing::info!(target: "manouche::server", "metrics on http://{addr}/metrics");
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router)
            .with_graceful_shutdown(handed_over)
            .await
        {
            tracing::error!(target: "manouche::server", "metrics endpoint stopped: {err}");
        }
    });
    // Histograms need upkeep to stay bounded; scrapes also run it.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            if let Ok(handle) = self::handle() {
                handle.run_upkeep();
            }
        }
    });
    Ok(())
}

fn render(handle: &PrometheusHandle, stats: &ServerStats, database: Option<&Database>) -> String {
    metrics::gauge!("manouche_open_connections").set(stats.open_connections() as f64);
    metrics::gauge!("manouche_parked_connections").set(stats.parked_connections() as f64);
    metrics::counter!("manouche_log_lines_dropped_total")
        .absolute(crate::logging::dropped_lines() as u64);
    if let Some(db) = database {
        let (size, idle) = db.pool_status();
        metrics::gauge!("manouche_db_pool_connections", "state" => "in_use")
            .set((size as usize).saturating_sub(idle) as f64);
        metrics::gauge!("manouche_db_pool_connections", "state" => "idle").set(idle as f64);
    }
    handle.run_upkeep();
    handle.render()
}

/// Records one finished request.
pub(crate) fn record_request(
    route: metrics::SharedString,
    status: http::StatusCode,
    elapsed: Duration,
    static_bytes: Option<u64>,
) {
    metrics::counter!(
        "manouche_requests_total",
        "route" => route.clone(),
        "status" => status.as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!("manouche_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    metrics::gauge!("manouche_requests_in_flight").decrement(1.0);
    if let Some(bytes) = static_bytes {
        metrics::counter!("manouche_static_bytes_total").increment(bytes);
    }
}

/// Records the start of a request.
pub(crate) fn request_started() {
    metrics::gauge!("manouche_requests_in_flight").increment(1.0);
}

/// Records a connection cut because its client broke the protocol or a
/// limit (see [`crate::server`]).
pub(crate) fn record_client_error(kind: &'static str) {
    metrics::counter!("manouche_client_errors_total", "kind" => kind).increment(1);
}
