//! `manage runserver [ADDR]`: the development server. The same server as
//! `serve`, without the deploy checks, with a banner that says where it is,
//! a warning when `debug` is off, and pending migrations applied on start in
//! debug (otherwise counted, with a hint).

use crate::project::Project;
use crate::server::Bind;
use crate::{Result, StartupError};

/// Start the development server.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// PORT, HOST:PORT or unix:/path/to.sock.
    #[arg(default_value = "127.0.0.1:8000")]
    addr: String,
}

pub(crate) async fn run(project: Project, args: Args) -> Result<super::ExitCode, StartupError> {
    let addr = if args.addr.bytes().all(|b| b.is_ascii_digit()) {
        format!("127.0.0.1:{}", args.addr)
    } else {
        args.addr
    };
    let bind: Bind = addr.parse().map_err(StartupError::improperly_configured)?;
    let debug = project.settings().debug;
    println!("Manouche {}, development server", env!("CARGO_PKG_VERSION"));
    match &bind {
        Bind::Tcp(addr) => println!("Starting development server at http://{addr}/"),
        other => println!("Starting development server at {other}"),
    }
    if !debug {
        println!("Note: debug is off, so error pages show no details (set MANOUCHE_DEBUG=true).");
    }
    println!("Quit with CONTROL-C.");
    super::migrate::on_runserver(&project).await;
    let options = super::serve::Options {
        migrations: super::serve::migration_set(&project),
        ..super::serve::Options::default()
    };
    super::serve::serve_until_signal(project.build()?, &bind, options).await
}
