//! `manage serve [--bind ADDR]`: the production server. Runs every system
//! check with the deploy ones first and refuses to start on an error (a
//! default secret key or no allowed hosts with debug off, a model whose app
//! is not installed, an app's own); warnings are logged.

use std::sync::Arc;

use crate::checks::Level;
use crate::project::{Project, Site};
use crate::server::{self, Bind, ServerStats};
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
    serve_until_signal(site, &bind, args.metrics).await
}

/// Serves the built site until SIGTERM/SIGINT.
pub(super) async fn serve_until_signal(
    mut site: Site,
    bind: &Bind,
    metrics: Option<std::net::SocketAddr>,
) -> Result<super::ExitCode, StartupError> {
    let stats = Arc::new(ServerStats::default());
    if let Some(addr) = metrics {
        site.enable_metrics();
        crate::metrics::start(addr, Arc::clone(&stats), site.database().cloned())
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
    let app = site.into_service();
    server::serve(
        app,
        &server_settings,
        bind,
        stats,
        server::shutdown_signal(),
    )
    .await
    .map_err(|e| StartupError::improperly_configured(e.to_string()))?;
    Ok(0)
}
