//! `manage reload --pidfile PATH`: reloads a running `serve` (the binary
//! now on disk takes its sockets over, see the server's `reload` module)
//! and waits for the outcome, for deploy scripts and systemd's
//! `ExecReload=`.
//!
//! It sends `SIGHUP` to the process named in the pidfile, then waits until
//! the pidfile names another process (exit 0), or the old process reports
//! a failed reload in `PATH.reload` or exits without a successor (exit 1,
//! with the reason), at most `server.reload_timeout` and ten seconds.
//!
//! ```text
//! $ mysite reload --pidfile /run/mysite/mysite.pid
//! reloaded: pid 4242 handed over to pid 4251
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::project::Project;
use crate::server::reload_report_path;
use crate::{Result, StartupError};

/// Reload the running server (SIGHUP) and wait until the new binary serves
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The pidfile the server writes (`serve --pidfile`).
    #[arg(long, value_name = "PATH", env = "MANOUCHE_PIDFILE")]
    pidfile: PathBuf,
}

/// The process id in a pidfile.
fn read_pid(path: &Path) -> Result<Pid, String> {
    let content = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the pidfile {}: {e} (is the server running with --pidfile?)",
            path.display()
        )
    })?;
    content
        .trim()
        .parse::<i32>()
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| {
            format!(
                "the pidfile {} holds {:?}, not a process id",
                path.display(),
                content.trim()
            )
        })
}

pub(crate) async fn run(project: Project, args: Args) -> Result<super::ExitCode, StartupError> {
    let limit = project.settings().server.reload_timeout + Duration::from_secs(10);
    match reload(&args.pidfile, limit).await {
        Ok((old, new)) => {
            println!("reloaded: pid {old} handed over to pid {new}");
            Ok(0)
        }
        Err(why) => {
            eprintln!("reload failed: {why}");
            Ok(1)
        }
    }
}

/// Signals the server and waits for the outcome: (old pid, new pid).
async fn reload(pidfile: &Path, limit: Duration) -> Result<(Pid, Pid), String> {
    let old = read_pid(pidfile)?;
    let report = reload_report_path(pidfile);
    let report_before = std::fs::read_to_string(&report).ok();
    rustix::process::kill_process(old, Signal::HUP)
        .map_err(|e| format!("cannot signal pid {old} (from {}): {e}", pidfile.display()))?;
    let deadline = Instant::now() + limit;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(now) = read_pid(pidfile)
            && now != old
        {
            return Ok((old, now));
        }
        let report_now = std::fs::read_to_string(&report).ok();
        if report_now.is_some() && report_now != report_before {
            let text = report_now.unwrap_or_default();
            return Err(format!("{}; pid {old} keeps serving", text.trim()));
        }
        if rustix::process::test_kill_process(old).is_err() {
            return Err(format!("pid {old} exited and no process took over"));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no new process took over from pid {old} within {limit:?}; see the server's log"
            ));
        }
    }
}
