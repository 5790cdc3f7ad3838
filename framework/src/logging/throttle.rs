//! Rate limits for warnings a client can cause (a bad `Host`, a head over
//! the limits, a broken connection): a few lines per client address and
//! kind in each window, then silence, then one "suppressed N similar"
//! line before the next one that is written. One client sending thousands
//! of bad requests a second then costs the log a handful of lines.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines written per source and kind in one window.
const BURST: u32 = 10;
/// The window.
const WINDOW: Duration = Duration::from_secs(10);
/// Sources remembered at once; past that, new sources share one entry per
/// kind, so that an attacker with many addresses cannot grow the map.
const MAX_SOURCES: usize = 4096;

/// Counts warnings per (client address, kind).
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    sources: Mutex<HashMap<(Option<IpAddr>, &'static str), Entry>>,
}

#[derive(Debug)]
struct Entry {
    since: Instant,
    written: u32,
    suppressed: u64,
}

/// What to do with one warning.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Write it; `suppressed` similar ones were dropped since the last one
    /// written (say so first when it is not 0).
    Write { suppressed: u64 },
    /// Drop it (it is counted).
    Drop,
}

impl Throttle {
    /// Whether a warning of `kind` caused by `source` is written now.
    pub(crate) fn admit(&self, source: Option<IpAddr>, kind: &'static str) -> Admit {
        self.admit_at(source, kind, Instant::now())
    }

    fn admit_at(&self, source: Option<IpAddr>, kind: &'static str, now: Instant) -> Admit {
        let mut sources = self
            .sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut key = (source, kind);
        if !sources.contains_key(&key) && sources.len() >= MAX_SOURCES {
            sources.retain(|_, e| now.duration_since(e.since) < WINDOW && e.suppressed == 0);
            if sources.len() >= MAX_SOURCES {
                key = (None, kind);
            }
        }
        let entry = sources.entry(key).or_insert(Entry {
            since: now,
            written: 0,
            suppressed: 0,
        });
        if now.duration_since(entry.since) >= WINDOW {
            entry.since = now;
            entry.written = 0;
        }
        if entry.written < BURST {
            entry.written += 1;
            Admit::Write {
                suppressed: std::mem::take(&mut entry.suppressed),
            }
        } else {
            entry.suppressed += 1;
            Admit::Drop
        }
    }
}

/// Runs `write` (which logs one warning of `kind` caused by the client at
/// `peer`, named in the argument) unless `throttle` drops it; first writes
/// how many similar ones were dropped since the last one written.
pub(crate) fn throttled(
    throttle: &Throttle,
    peer: Option<IpAddr>,
    kind: &'static str,
    write: impl FnOnce(&str),
) {
    if let Admit::Write { suppressed } = throttle.admit(peer, kind) {
        let source = peer.map_or_else(|| "unix socket".to_owned(), |ip| ip.to_string());
        if suppressed > 0 {
            tracing::warn!(
                target: "manouche::security",
                "suppressed {suppressed} similar warnings ({kind}) from {source}"
            );
        }
        write(&source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_silence_then_the_count_of_what_was_dropped() {
        let throttle = Throttle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let start = Instant::now();
        for _ in 0..BURST {
            assert_eq!(
                throttle.admit_at(Some(ip), "host", start),
                Admit::Write { suppressed: 0 }
            );
        }
        for _ in 0..1000 {
            assert_eq!(throttle.admit_at(Some(ip), "host", start), Admit::Drop);
        }
        // Another client and another kind are counted apart.
        assert_eq!(
            throttle.admit_at(Some(other), "host", start),
            Admit::Write { suppressed: 0 }
        );
        assert_eq!(
            throttle.admit_at(Some(ip), "head", start),
            Admit::Write { suppressed: 0 }
        );
        let later = start + WINDOW;
        assert_eq!(
            throttle.admit_at(Some(ip), "host", later),
            Admit::Write { suppressed: 1000 }
        );
        assert_eq!(
            throttle.admit_at(Some(ip), "host", later),
            Admit::Write { suppressed: 0 }
        );
    }

    #[test]
    fn many_sources_share_one_entry_past_the_cap() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for n in 0..MAX_SOURCES as u32 + 100 {
            let ip = IpAddr::from(n.to_be_bytes());
            let _ = throttle.admit_at(Some(ip), "host", now);
        }
        let sources = throttle.sources.lock().unwrap();
        assert!(sources.len() <= MAX_SOURCES + 1, "{}", sources.len());
        assert!(sources.contains_key(&(None, "host")));
    }
}
