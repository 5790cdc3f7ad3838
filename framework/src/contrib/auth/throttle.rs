//! Login throttling: after `per_username` failed logins for one username,
//! or `per_address` from one client address, within `window` seconds, the
//! next attempts answer 429 with `Retry-After` until the oldest counted
//! failure leaves the window.
//!
//! Usernames are counted whether or not they exist (the answer must not
//! tell), case-insensitively (so `Admin` and `admin` share a count). The
//! counts live in this process: several instances each allow as many.
//! Memory stays bounded: a key keeps at most its limit's timestamps, and
//! keys whose failures have all left the window are dropped.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// `[auth.throttle]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ThrottleSettings {
    /// Failures per username within the window (0 turns this off).
    pub per_username: u32,
    /// Failures per client address within the window (0 turns this off).
    pub per_address: u32,
    /// The window, in seconds.
    pub window: u64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            per_username: 5,
            per_address: 20,
            window: 15 * 60,
        }
    }
}

impl ThrottleSettings {
    /// Checks the values.
    ///
    /// # Errors
    /// What to write instead.
    pub fn validate(&self) -> Result<(), String> {
        if self.window == 0 && (self.per_username > 0 || self.per_address > 0) {
            return Err("window must be a positive number of seconds".to_owned());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Username(String),
    Address(IpAddr),
}

/// The failure counts.
#[derive(Debug)]
pub(crate) struct Throttle {
    settings: ThrottleSettings,
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

/// Past this many keys, a failure first drops the keys that have aged out.
const PRUNE_AT: usize = 10_000;

impl Throttle {
    pub(crate) fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(&self, username: &str, address: Option<IpAddr>) -> Vec<(Key, u32)> {
        let mut keys = Vec::with_capacity(2);
        if self.settings.per_username > 0 {
            keys.push((
                Key::Username(username.to_lowercase()),
                self.settings.per_username,
            ));
        }
        if let Some(address) = address
            && self.settings.per_address > 0
        {
            keys.push((Key::Address(address), self.settings.per_address));
        }
        keys
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.settings.window)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long until an attempt for `username` from `address` is
    /// accepted, or `None` when it is now.
    pub(crate) fn blocked(&self, username: &str, address: Option<IpAddr>) -> Option<Duration> {
        self.blocked_at(username, address, Instant::now())
    }

    fn blocked_at(
        &self,
        username: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Option<Duration> {
        let window = self.window();
        let map = self.map();
        self.keys(username, address)
            .into_iter()
            .filter_map(|(key, limit)| {
                let times = map.get(&key)?;
                let recent: Vec<&Instant> = times
                    .iter()
                    .filter(|t| now.duration_since(**t) < window)
                    .collect();
                (recent.len() >= limit as usize).then(|| {
                    // Free again when the oldest counted failure ages out.
                    let oldest = recent[recent.len() - limit as usize];
                    window
                        .saturating_sub(now.duration_since(*oldest))
                        .max(Duration::from_secs(1))
                })
            })
            .max()
    }

    /// Counts a failure.
    pub(crate) fn failed(&self, username: &str, address: Option<IpAddr>) {
        self.failed_at(username, address, Instant::now());
    }

    fn failed_at(&self, username: &str, address: Option<IpAddr>, now: Instant) {
        let window = self.window();
        let keys = self.keys(username, address);
        let mut map = self.map();
        if map.len() >= PRUNE_AT {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        for (key, limit) in keys {
            let times = map.entry(key).or_default();
            times.push_back(now);
            while times.len() > limit as usize {
                times.pop_front();
            }
        }
    }

    /// A successful login clears the username's count (not the address's:
    /// one good password must not reset a guessing run from that address).
    pub(crate) fn succeeded(&self, username: &str) {
        self.map().remove(&Key::Username(username.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(per_username: u32, per_address: u32) -> Throttle {
        Throttle::new(ThrottleSettings {
            per_username,
            per_address,
            window: 60,
        })
    }

    #[test]
    fn blocks_after_the_limit_per_username_until_the_window_passes() {
        let t = throttle(3, 0);
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(t.blocked_at("ana", None, start), None, "attempt {i}");
            t.failed_at("ana", None, start);
        }
        let wait = t.blocked_at("ANA", None, start).expect("blocked");
        assert_eq!(wait, Duration::from_secs(60));
        assert_eq!(t.blocked_at("bob", None, start), None);
        let later = start + Duration::from_secs(45);
        assert_eq!(
            t.blocked_at("ana", None, later),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            t.blocked_at("ana", None, start + Duration::from_secs(61)),
            None
        );
    }

    #[test]
    fn blocks_per_address_across_usernames() {
        let t = throttle(0, 2);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let now = Instant::now();
        t.failed_at("a", Some(ip), now);
        t.failed_at("b", Some(ip), now);
        assert!(t.blocked_at("c", Some(ip), now).is_some());
        assert!(
            t.blocked_at("c", Some("192.0.2.8".parse().unwrap()), now)
                .is_none()
        );
        t.succeeded("c");
        assert!(t.blocked_at("c", Some(ip), now).is_some());
    }

    #[test]
    fn success_clears_the_username() {
        let t = throttle(2, 0);
        let now = Instant::now();
        t.failed_at("ana", None, now);
        t.failed_at("ana", None, now);
        assert!(t.blocked_at("ana", None, now).is_some());
        t.succeeded("Ana");
        assert!(t.blocked_at("ana", None, now).is_none());
    }

    #[test]
    fn memory_stays_bounded() {
        let t = throttle(3, 0);
        let start = Instant::now();
        for i in 0..PRUNE_AT {
            t.failed_at(&format!("user{i}"), None, start);
        }
        t.failed_at("late", None, start + Duration::from_secs(120));
        assert_eq!(t.map().len(), 1);
        for _ in 0..10 {
            t.failed_at("late", None, start + Duration::from_secs(120));
        }
        assert_eq!(t.map()[&Key::Username("late".into())].len(), 3);
    }
}
