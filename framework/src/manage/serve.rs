//! `manage serve [--bind ADDR] [--metrics ADDR] [--pidfile PATH]`: the
//! production server. Runs every system check with the deploy ones first
//! and refuses to start on an error (a default secret key or no allowed
//! hosts with debug off, a model whose app is not installed, an app's
//! own); warnings are logged.
//!
//! `SIGHUP` starts the binary now on disk on the same sockets and drains
//! once it is ready (see the server's `reload` module); a process so
//! started also requires its migrations to be applied, uses the
//! inherited sockets whatever `--bind` says, and leaves the pidfile to
//! the old process to write.

use std::path::PathBuf;
use std::sync::Arc;

use crate::checks::Level;
use crate::health::Health;
use crate::migrations::MigrationSet;
use crate::project::{Project, Site};
use crate::server::{
    self, Bind, Drained, Hangups, PidFile, ReloadSockets, Reloader, ServerStats, Signals, Stop,
    Takeover,
};
use crate::settings::HealthEndpoints;
use crate::{Result, StartupError};

/// Serve the site in production.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// HOST:PORT, unix:/path/to.sock or fd://N. Default: the inherited socket
    /// when started with LISTEN_FDS, else server.bind from the settings.
    #[arg(long, value_name = "ADDR")]
    bind: Option<Bind>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9191).
    #[arg(long, value_name = "ADDR", env = "MANOUCHE_METRICS")]
    metrics: Option<std::net::SocketAddr>,
    /// Write the serving process's id to this file once listening (written
    /// atomically; removed on exit if it still holds this process's id).
    #[arg(long, value_name = "PATH", env = "MANOUCHE_PIDFILE")]
    pidfile: Option<PathBuf>,
}

/// What serving needs besides the site and the address.
#[derive(Debug, Default)]
pub(super) struct Options {
    /// The metrics (and maybe health) address.
    pub(super) metrics: Option<std::net::SocketAddr>,
    pub(super) pidfile: Option<PathBuf>,
    /// The binary's migrations, for the readiness probe.
    pub(super) migrations: Option<MigrationSet>,
    /// Whether `SIGHUP` reloads (`serve`, not `runserver`).
    pub(super) reload: bool,
    /// When a reload started this process: what it takes over.
    pub(super) takeover: Option<Takeover>,
}

pub(crate) async fn run(project: Project, args: Args) -> Result<super::ExitCode, StartupError> {
    let takeover = Takeover::from_env().map_err(StartupError::improperly_configured)?;
    if let Some(takeover) = &takeover {
        tracing::info!(target: "manouche::server", "started by a reload of pid {}: taking over its sockets", takeover.parent);
    }
    let bind = match (&takeover, args.bind) {
        (Some(takeover), _) => Bind::Inherited(takeover.main),
        (None, Some(bind)) => bind,
        (None, None) if server::inherited_sockets() > 0 => Bind::Inherited(0),
        (None, None) => project
            .settings()
            .server
            .bind
            .parse()
            .map_err(|e| StartupError::improperly_configured(format!("server.bind: {e}")))?,
    };
    if project.settings().server.health == HealthEndpoints::Metrics && args.metrics.is_none() {
        return Err(StartupError::improperly_configured(
            "server.health = \"metrics\" needs a metrics address: pass --metrics ADDR or set MANOUCHE_METRICS (or set server.health = \"main\")",
        ));
    }
    let migrations = migration_set(&project);
    let (site, findings) = project.build_checked(true)?;
    for finding in &findings {
        match finding.level {
            Level::Warning => tracing::warn!(target: "manouche::checks", "{finding}"),
            Level::Error => tracing::error!(target: "manouche::checks", "{finding}"),
        }
    }
    if findings.iter().any(|f| f.level == Level::Error) {
        return Err(StartupError::improperly_configured(
            "refusing to serve with the errors above; fix them, or run `check --deploy` to list them",
        ));
    }
    let options = Options {
        metrics: args.metrics,
        pidfile: args.pidfile,
        migrations,
        reload: true,
        takeover,
    };
    serve_until_signal(site, &bind, options).await
}

/// The project's migrations for the readiness probe; `None` (with an
/// error logged) when they cannot be read, or when there is no database.
pub(super) fn migration_set(project: &Project) -> Option<MigrationSet> {
    if project.settings().database_url.is_empty() {
        return None;
    }
    match project.migration_set() {
        Ok(set) => Some(set),
        Err(err) => {
            tracing::error!(target: "manouche::server", "migrations could not be read ({err}); /readyz will not check them");
            None
        }
    }
}

/// Serves the built site until SIGTERM/SIGINT.
pub(super) async fn serve_until_signal(
    mut site: Site,
    bind: &Bind,
    options: Options,
) -> Result<super::ExitCode, StartupError> {
    let stats = Arc::new(ServerStats::default());
    let health = Health::new(
        Arc::clone(&stats),
        site.database().cloned(),
        options.migrations,
    );
    let on_metrics = match site.settings().server.health {
        HealthEndpoints::Main => {
            for path in ["/healthz", "/readyz"] {
                if site.urls().serves(path) {
                    tracing::warn!(target: "manouche::server", "the route at {path} is answered by the built-in health probe (server.health = \"main\"); set server.health = \"metrics\" or \"off\" to reach it");
                }
            }
            site.serve_health(Arc::clone(&health));
            None
        }
        HealthEndpoints::Metrics => Some(Arc::clone(&health)),
        HealthEndpoints::Off => None,
    };
    let mut takeover = options.takeover;
    let mut metrics_fd = None;
    let (handed_over_tx, handed_over_rx) = tokio::sync::watch::channel(false);
    if let Some(addr) = options.metrics {
        let listener = match takeover.as_mut().and_then(|t| t.metrics.take()) {
            Some(inherited) => crate::metrics::adopt(inherited),
            None => crate::metrics::bind(addr).await,
        }
        .map_err(StartupError::improperly_configured)?;
        metrics_fd = Some(
            std::os::fd::AsFd::as_fd(&listener)
                .try_clone_to_owned()
                .map_err(|e| {
                    StartupError::improperly_configured(format!("the metrics socket: {e}"))
                })?,
        );
        site.enable_metrics();
        let mut handed_over = handed_over_rx.clone();
        crate::metrics::start(
            listener,
            Arc::clone(&stats),
            site.database().cloned(),
            on_metrics,
            async move {
                // Only a handover stops it (the sender is dropped when a
                // signal ends the serving, and metrics answer through the
                // drain then).
                if handed_over.wait_for(|over| *over).await.is_err() {
                    std::future::pending::<()>().await;
                }
            },
        )
        .map_err(StartupError::improperly_configured)?;
    }
    if let Some(db) = site.database() {
        match db.ping().await {
            Ok(()) => {
                tracing::info!(target: "manouche::server", "database: {:?} reachable", db.backend())
            }
            Err(err) => tracing::error!(
                target: "manouche::server",
                "database unreachable ({err}); pages that need it answer 503 until it is back"
            ),
        }
    }
    if takeover.is_some() {
        // The old process keeps serving unless this one can serve fully.
        health.ready_to_take_over().await.map_err(|why| {
            StartupError::improperly_configured(format!("not taking over: {why}"))
        })?;
    }
    let server_settings = site.settings().server.clone();
    // The handlers first: a signal that comes while binding is not lost,
    // and an early SIGHUP does not end the process.
    let signals = Signals::install();
    let hangups = options.reload.then(Hangups::install);
    // Written before the socket listens: whoever sees the port answer
    // finds the pidfile (removed again if binding fails).
    let _pidfile = match (&options.pidfile, &takeover) {
        // The old process writes this one's id once it is told ready.
        (Some(path), Some(_)) => Some(PidFile::adopt(path)),
        (Some(path), None) => Some(PidFile::write(path).map_err(|e| {
            StartupError::improperly_configured(format!(
                "cannot write the pidfile {}: {e}",
                path.display()
            ))
        })?),
        (None, _) => None,
    };
    let mut listening = server::listen(&server_settings, bind)
        .await
        .map_err(|e| StartupError::improperly_configured(e.to_string()))?;
    let (handover_tx, handover_rx) = tokio::sync::oneshot::channel();
    if let Some(hangups) = hangups {
        let sockets = Arc::new(ReloadSockets::default());
        let reloader = Reloader::new(
            listening.as_fd(),
            listening.socket_file().cloned(),
            metrics_fd.as_ref().map(std::os::fd::AsFd::as_fd),
            Arc::clone(&sockets),
            options.pidfile.clone(),
            server_settings.reload_timeout,
        );
        // Serving matters more than reloading: without reloads, say why.
        match reloader {
            Ok(reloader) => {
                listening.close_on_drain(sockets);
                reloader.spawn(hangups, signals.clone(), handover_tx);
            }
            Err(err) => hangups.ignore(format!("reloads are unavailable ({err})")),
        }
    }
    drop(metrics_fd);
    let app = site.into_service();
    match &takeover {
        Some(takeover) => takeover.report_ready().map_err(|e| {
            StartupError::improperly_configured(format!(
                "cannot tell the old process (pid {}) that this one is ready: {e}",
                takeover.parent
            ))
        })?,
        None => server::notify("READY=1"),
    }
    // Only now: a process that fails before it is ready must leave the
    // socket file to the old one, which serves on.
    if let Some(path) = takeover.as_ref().and_then(|t| t.socket_file.clone())
        && let Err(err) = listening.own_socket_file(path)
    {
        tracing::warn!(target: "manouche::server", "the inherited Unix socket: {err}; its file will be left in place on exit");
    }
    let first_signal = signals.clone().count(1);
    let shutdown = async move {
        tokio::select! {
            () = first_signal => {
                // Not after a handover: the new process is systemd's
                // main one then, and is not stopping.
                server::notify("STOPPING=1");
                Stop::Signal
            }
            Ok(pid) = handover_rx => {
                handed_over_tx.send_replace(true);
                Stop::HandedOver(pid)
            }
        }
    };
    let drained = server::serve(
        listening,
        app,
        &server_settings,
        stats,
        shutdown,
        signals.count(2),
    )
    .await;
    Ok(match drained {
        Drained::Clean | Drained::TimedOut => 0,
        Drained::Stopped => 1,
    })
}
