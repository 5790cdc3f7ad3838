//! Logging through `tracing`: the `log` setting (or `RUST_LOG`) as the
//! filter, lines written by a background thread so that a burst of access-log
//! lines never makes a request wait on the terminal or a pipe. When that
//! thread falls behind by [`BUFFERED_LINES`] lines (stdout blocked: a full
//! pipe, a stopped log collector), new lines are dropped rather than
//! stalling requests, and counted: `manouche_log_lines_dropped_total` in the
//! metrics.
//!
//! Targets worth knowing: `manouche::access` (one line per request),
//! `manouche::server`, `manouche::security`, `manouche::panic`,
//! `manouche::timeout`. Silence the access log with
//! `log = "info,manouche::access=off"`.
//!
//! A client must not be able to fill the log: warnings it causes are
//! rate-limited per client address ("suppressed N similar"), values it
//! sent are cut to a few hundred bytes, and the `h2` crate's own warnings
//! about protocol abuse (rapid reset: one line per connection) are off
//! unless the filter names `h2`; the server counts those in the metrics
//! (`manouche_client_errors_total`) instead.

mod throttle;

pub(crate) use throttle::{Throttle, throttled};

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines waiting for the writer thread before new ones are dropped.
pub const BUFFERED_LINES: usize = 128_000;

/// The drop count of the installed writer.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Log lines dropped so far because stdout could not keep up.
pub(crate) fn dropped_lines() -> usize {
    DROPPED.get().map_or(0, ErrorCounter::dropped_lines)
}

/// A writer that hands lines to a thread writing them to `out`, dropping
/// (and counting) lines once `lines` are waiting.
fn lossy_writer<W: std::io::Write + Send + 'static>(
    out: W,
    lines: usize,
) -> (NonBlocking, WorkerGuard) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(lines)
        .finish(out)
}

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
    let filter = EnvFilter::try_new(quiet_h2(&filter)).unwrap_or_else(|err| {
        eprintln!("warning: invalid log filter {filter:?} ({err}); using \"info\"");
        EnvFilter::new(quiet_h2("info"))
    });
    let (writer, guard) = lossy_writer(std::io::stdout(), BUFFERED_LINES);
    let counter = writer.error_counter();
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer)
        .try_init()
        .is_ok();
    if installed {
        let _ = DROPPED.set(counter);
    }
    LogGuard {
        _guard: installed.then_some(guard),
    }
}

/// The filter with `h2=error` added unless it says something about `h2`
/// itself: h2 warns once per connection that resets streams too fast, and
/// the server counts those connections instead.
fn quiet_h2(filter: &str) -> String {
    let names_h2 = filter
        .split(',')
        .any(|d| d.trim().split(['=', '[', ':']).next() == Some("h2"));
    if names_h2 {
        filter.to_owned()
    } else if filter.trim().is_empty() {
        "h2=error".to_owned()
    } else {
        format!("{filter},h2=error")
    }
}

/// A client's value in a log line: at most `max` bytes of it (cut at a
/// character boundary), then its full length.
pub(crate) struct Clip<'a> {
    value: &'a str,
    max: usize,
}

/// `value` for a log line, cut at 200 bytes (see [`Clip`]).
pub(crate) fn clip(value: &str) -> Clip<'_> {
    clip_at(value, 200)
}

/// `value` for a log line, cut at `max` bytes (see [`Clip`]).
pub(crate) fn clip_at(value: &str, max: usize) -> Clip<'_> {
    Clip { value, max }
}

impl std::fmt::Display for Clip<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = self.value;
        if value.len() <= self.max {
            return f.write_str(value);
        }
        let mut end = self.max;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        write!(f, "{}… ({} bytes)", &value[..end], value.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that blocks until it is let go, as a full pipe does.
    struct Blocked(std::sync::mpsc::Receiver<()>);

    impl std::io::Write for Blocked {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_output_drops_and_counts_lines_instead_of_blocking() {
        use std::io::Write as _;
        use tracing_subscriber::fmt::MakeWriter as _;
        let (release, wait) = std::sync::mpsc::channel();
        let (writer, guard) = lossy_writer(Blocked(wait), 8);
        let counter = writer.error_counter();
        let start = std::time::Instant::now();
        for i in 0..1_000 {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .expect("a lossy writer never fails");
        }
        // A thousand lines against an output that takes none: the writes
        // returned at once, and all but the few buffered ones were dropped.
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        let dropped = counter.dropped_lines();
        assert!((990..=1_000).contains(&dropped), "{dropped} dropped");
        // Let the output go: the buffered lines are written, nothing hangs.
        for _ in 0..100 {
            let _ = release.send(());
        }
        drop(release);
        drop(guard);
    }

    #[test]
    fn h2_warnings_are_off_unless_the_filter_names_h2() {
        assert_eq!(quiet_h2("info"), "info,h2=error");
        assert_eq!(quiet_h2(""), "h2=error");
        assert_eq!(quiet_h2("info,h2=debug"), "info,h2=debug");
        assert_eq!(quiet_h2("h2::proto=trace"), "h2::proto=trace");
        assert_eq!(quiet_h2("info,h2o=warn"), "info,h2o=warn,h2=error");
    }

    #[test]
    fn clip_keeps_short_values_and_cuts_long_ones_at_a_character() {
        assert_eq!(clip("/blog/").to_string(), "/blog/");
        let long = format!("{}é{}", "a".repeat(199), "b".repeat(300_000));
        let clipped = clip(&long).to_string();
        assert!(clipped.len() < 260, "{}", clipped.len());
        assert!(clipped.ends_with("… (300201 bytes)"), "{clipped}");
        assert!(clipped.starts_with(&"a".repeat(199)));
        let path = "/".repeat(1000);
        assert_eq!(clip_at(&path, 1024).to_string(), path);
    }
}
