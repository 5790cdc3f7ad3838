//! Logging through `tracing`: the `log` setting (or `RUST_LOG`) as the
//! filter, lines written by a background thread so that a burst of access-log
//! lines never makes a request wait on the terminal or a pipe.
//!
//! Targets worth knowing: `manouche::access` (one line per request),
//! `manouche::server`, `manouche::security`, `manouche::panic`,
//! `manouche::timeout`. Silence the access log with
//! `log = "info,manouche::access=off"`.

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Keeps the log writer alive; dropping it flushes the last lines.
#[derive(Debug)]
pub struct LogGuard {
    _guard: Option<WorkerGuard>,
}

/// Installs the subscriber unless one is already installed (tests, or a
/// project that set up its own).
pub fn init(filter: &str) -> LogGuard {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| filter.to_owned());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|err| {
        eprintln!("warning: invalid log filter {filter:?} ({err}); using \"info\"");
        EnvFilter::new("info")
    });
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stdout());
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer)
        .try_init()
        .is_ok();
    LogGuard {
        _guard: installed.then_some(guard),
    }
}
