//! `manage serve [--bind ADDR]`: the production server. Runs the deploy
//! checks first and refuses to start on an error (a default secret key or no
//! allowed hosts with debug off); warnings are logged.

use std::sync::Arc;

use crate::checks::{Level, deploy_checks};
use crate::project::Project;
use crate::server::{self, Bind, ServerStats};
use crate::{Error, Result};

/// Serve the site in production.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// HOST:PORT, unix:/path/to.sock or fd://N. Default: the inherited socket
    /// when started with LISTEN_FDS, else server.bind from the settings.
    #[arg(long, value_name = "ADDR")]
    bind: Option<Bind>,
}

pub(crate) async fn run(project: Project, args: Args) -> Result<super::ExitCode> {
    let findings = deploy_checks(project.settings());
    for finding in &findings {
        match finding.level {
            Level::Warning => tracing::warn!(target: "manouche::checks", "{finding}"),
            Level::Error => tracing::error!(target: "manouche::checks", "{finding}"),
        }
    }
    if findings.iter().any(|f| f.level == Level::Error) {
        return Err(Error::improperly_configured(
            "refusing to serve with the errors above; fix them, or run `check --deploy` to list them",
        ));
    }
    let bind = match args.bind {
        Some(bind) => bind,
        None if server::inherited_sockets() > 0 => Bind::Inherited(0),
        None => project
            .settings()
            .server
            .bind
            .parse()
            .map_err(|e| Error::improperly_configured(format!("server.bind: {e}")))?,
    };
    serve_until_signal(project, &bind).await
}

/// Builds the project and serves it until SIGTERM/SIGINT.
pub(super) async fn serve_until_signal(project: Project, bind: &Bind) -> Result<super::ExitCode> {
    let (app, settings) = project.build()?.into_service();
    server::serve(
        app,
        &settings.server,
        bind,
        Arc::new(ServerStats::default()),
        server::shutdown_signal(),
    )
    .await
    .map_err(|e| Error::improperly_configured(e.to_string()))?;
    Ok(0)
}
