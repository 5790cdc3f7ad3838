//! Logging through `tracing`: the `log` setting (or `RUST_LOG`) as the
//! filter, lines written by a background thread so that a burst of access-log
//! lines never makes a request wait on the terminal or a pipe.
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
    let filter = EnvFilter::try_new(quiet_h2(&filter)).unwrap_or_else(|err| {
        eprintln!("warning: invalid log filter {filter:?} ({err}); using \"info\"");
        EnvFilter::new(quiet_h2("info"))
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
