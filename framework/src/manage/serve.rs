//! `manage serve [--bind ADDR] [--metrics ADDR] [--pidfile PATH]`: the
//! production server. Runs every system check with the deploy ones first
//! and refuses to start on an error (a default secret key or no allowed
//! hosts with debug off, a model whose app is not installed, an app's
//! own); warnings are logged.

use std::path::PathBuf;
use std::sync::Arc;

use crate::checks::Level;
use crate::health::Health;
use crate::migrations::MigrationSet;
use crate::project::{Project, Site};
use crate::server::{self, Bind, Drained, PidFile, ServerStats, Signals};
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
}

pub(crate) async fn run(project: Project, args: Args) -> Result<super::ExitCode, StartupError> {
    let bind = match args.bind {
        Some(bind) => bind,
        None if server::inherited_sockets() > 0 => Bind::Inherited(0),
        None => project
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
        HealthEndpoints::Metrics => Some(health),
        HealthEndpoints::Off => None,
    };
    if let Some(addr) = options.metrics {
        site.enable_metrics();
        crate::metrics::start(
            addr,
            Arc::clone(&stats),
            site.database().cloned(),
            on_metrics,
        )
        .await
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
    let server_settings = site.settings().server.clone();
    // The handlers first: a signal that comes while binding is not lost.
    let signals = Signals::install();
    let listening = server::listen(&server_settings, bind)
        .await
        .map_err(|e| StartupError::improperly_configured(e.to_string()))?;
    let _pidfile = match &options.pidfile {
        Some(path) => Some(PidFile::write(path).map_err(|e| {
            StartupError::improperly_configured(format!(
                "cannot write the pidfile {}: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let app = site.into_service();
    let drained = server::serve(
        listening,
        app,
        &server_settings,
        stats,
        signals.clone().count(1),
        signals.count(2),
    )
    .await;
    Ok(match drained {
        Drained::Clean | Drained::TimedOut => 0,
        Drained::Stopped => 1,
    })
}
