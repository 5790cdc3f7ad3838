//! One request's messages (Django's `BaseStorage`): those stored by earlier
//! requests, those this one adds, the `used` rule, and what to write when
//! the response leaves (Django's `update`, with the cookie, session and
//! fallback storages' `_store`).
//!
//! Nothing here waits: the layer reads the session before the view when
//! stored messages may be there, and writes it after, from the [`Plan`]
//! this module makes.

use std::collections::BTreeMap;

use http::HeaderValue;

use super::cookie::{self, Keep, Signer};
use super::{Level, Message, MessageSettings, StorageKind};
use crate::web::cookies::CookieAttributes;

/// The session key Django's `SessionStorage` uses.
pub(super) const SESSION_KEY: &str = "_messages";

/// What the storage needs from the settings, computed once.
#[derive(Debug)]
pub(super) struct Config {
    pub(super) storage: StorageKind,
    level: Level,
    /// Every level's tag: Django's defaults, then `[messages] tags`.
    tags: BTreeMap<Level, String>,
    pub(super) cookie_name: String,
    max_cookie_size: usize,
    attributes: CookieAttributes,
    signer: Signer,
    /// The session cookie's name: a request without it has no session to
    /// read.
    pub(super) session_cookie: String,
    /// Not storing every message is an error page (Django raises) rather
    /// than a warning.
    pub(super) debug: bool,
}

impl Config {
    pub(super) fn new(
        settings: &MessageSettings,
        attributes: CookieAttributes,
        session_cookie: String,
        secret_key: &str,
        debug: bool,
    ) -> Self {
        let mut tags: BTreeMap<Level, String> = [
            Level::DEBUG,
            Level::INFO,
            Level::SUCCESS,
            Level::WARNING,
            Level::ERROR,
        ]
        .into_iter()
        .map(|level| (level, level.default_tag().to_owned()))
        .collect();
        tags.extend(settings.tags.clone());
        Self {
            storage: settings.storage,
            level: settings.level,
            tags,
            cookie_name: settings.cookie_name.clone(),
            max_cookie_size: settings.max_cookie_size,
            attributes,
            signer: Signer::new(secret_key),
            session_cookie,
            debug,
        }
    }

    fn message(&self, level: Level, message: String, extra_tags: String) -> Message {
        Message {
            level,
            message,
            extra_tags,
            level_tag: self.tags.get(&level).cloned().unwrap_or_default(),
        }
    }
}

/// What the request's cookie held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CookieState {
    Absent,
    /// This site's messages (possibly none but the unfinished marker).
    Held,
    /// Not this site's: ignored, and deleted with the response.
    Bad,
}

/// What the session held, once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionState {
    /// Not read: nothing suggested it held messages.
    Unread,
    /// Read; whether it held messages.
    Read { held: bool },
    /// The store failed: leave it alone.
    Unavailable,
}

/// One request's messages.
#[derive(Debug)]
pub(super) struct State {
    config: std::sync::Arc<Config>,
    /// Set for this request by `Messages::set_level`.
    level: Option<Level>,
    /// Stored by earlier requests (and, once iterated, added by this one).
    loaded: Vec<Message>,
    /// Added by this request since the last iteration.
    queued: Vec<Message>,
    /// Iterated: stored messages are not stored again.
    used: bool,
    /// A message was added.
    added_new: bool,
    /// Read or added: the response depends on the visitor's cookies.
    accessed: bool,
    cookie: CookieState,
    session: SessionState,
}

/// What a response must carry, and what the session must get.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// `Vary: Cookie`.
    pub(super) vary: bool,
    /// A `Set-Cookie` for the messages cookie.
    pub(super) cookie: Option<HeaderValue>,
    pub(super) session: SessionWrite,
    /// Why some messages could be stored nowhere, if they could not.
    pub(super) lost: Option<String>,
}

/// A change to the session's `_messages`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) enum SessionWrite {
    #[default]
    Nothing,
    /// The JSON list to store.
    Store(String),
    /// Remove the key.
    Remove,
}

impl State {
    /// The state of a request whose messages cookie is `cookie`; the
    /// second value says whether the session must be read too
    /// (`session_cookie`: the request has a session).
    pub(super) fn new(
        config: std::sync::Arc<Config>,
        cookie: Option<&str>,
        session_cookie: bool,
    ) -> (Self, bool) {
        let mut state = Self {
            config,
            level: None,
            loaded: Vec::new(),
            queued: Vec::new(),
            used: false,
            added_new: false,
            accessed: false,
            cookie: CookieState::Absent,
            session: SessionState::Unread,
        };
        let read_session = match state.config.storage {
            StorageKind::Session => session_cookie,
            StorageKind::Cookie | StorageKind::Fallback => {
                let not_finished = cookie.is_some_and(|value| state.read_cookie(value));
                not_finished && state.config.storage == StorageKind::Fallback && session_cookie
            }
        };
        (state, read_session)
    }

    /// Loads the cookie's messages; `true` when it says more are in the
    /// session.
    fn read_cookie(&mut self, value: &str) -> bool {
        let decoded = self
            .config
            .signer
            .unsign(value)
            .and_then(|json| cookie::parse(&json));
        let Some(decoded) = decoded else {
            tracing::debug!(
                target: "manouche::security",
                "the messages cookie is not this site's (tampered, cut short, or signed with another secret key): ignored"
            );
            self.cookie = CookieState::Bad;
            return false;
        };
        self.cookie = CookieState::Held;
        self.load(decoded.messages);
        decoded.not_finished
    }

    fn load(&mut self, messages: Vec<(Level, String, String)>) {
        let config = &self.config;
        self.loaded.extend(
            messages
                .into_iter()
                .map(|(level, text, tags)| config.message(level, text, tags)),
        );
    }

    /// Adds what the session held under [`SESSION_KEY`] (`None`: nothing;
    /// `Err`: the store failed).
    pub(super) fn read_session(&mut self, stored: Result<Option<serde_json::Value>, ()>) {
        self.session = match stored {
            Err(()) => SessionState::Unavailable,
            Ok(None) => SessionState::Read { held: false },
            Ok(Some(value)) => {
                // Django keeps the JSON list as a string in the session.
                let decoded = value
                    .as_str()
                    .and_then(|json| cookie::parse(json.as_bytes()));
                match decoded {
                    Some(decoded) => {
                        self.load(decoded.messages);
                        SessionState::Read { held: true }
                    }
                    None => {
                        tracing::warn!(
                            target: "manouche::messages",
                            "the session's {SESSION_KEY} is not a list of messages: ignored"
                        );
                        SessionState::Read { held: true }
                    }
                }
            }
        };
    }

    /// Whether the project is in debug.
    pub(super) fn debug(&self) -> bool {
        self.config.debug
    }

    pub(super) fn level(&self) -> Level {
        self.level.unwrap_or(self.config.level)
    }

    pub(super) fn set_level(&mut self, level: Option<Level>) {
        self.level = level;
    }

    /// Django's `add`: empty messages and those below the threshold are
    /// not recorded.
    pub(super) fn add(&mut self, level: Level, message: String, extra_tags: &str) {
        if message.is_empty() || level < self.level() {
            return;
        }
        self.added_new = true;
        self.accessed = true;
        let message = self.config.message(level, message, extra_tags.to_owned());
        self.queued.push(message);
    }

    /// Django's `__iter__`: every message, marked used.
    pub(super) fn iterate(&mut self) -> Vec<Message> {
        self.used = true;
        self.accessed = true;
        self.loaded.append(&mut self.queued);
        self.loaded.clone()
    }

    /// Django's `__len__`.
    pub(super) fn len(&mut self) -> usize {
        self.accessed = true;
        self.loaded.len() + self.queued.len()
    }

    /// Whether the response is left as it is: nothing read, added, or to
    /// clean up.
    pub(super) fn untouched(&self) -> bool {
        !self.accessed && !self.used && !self.added_new && self.cookie != CookieState::Bad
    }

    /// Django's `update`: after an iteration, only what was added since
    /// is stored; otherwise, when something was added, everything is; else
    /// nothing changes.
    pub(super) fn plan(&mut self) -> Plan {
        let mut plan = Plan {
            vary: self.accessed,
            ..Plan::default()
        };
        let messages = if self.used {
            std::mem::take(&mut self.queued)
        } else if self.added_new {
            let mut all = std::mem::take(&mut self.loaded);
            all.append(&mut self.queued);
            all
        } else {
            if self.cookie == CookieState::Bad {
                plan.cookie = Some(self.delete_cookie());
            }
            return plan;
        };
        let config = std::sync::Arc::clone(&self.config);
        let max = config.max_cookie_size;
        let rest = match config.storage {
            StorageKind::Cookie => {
                let (value, rest) =
                    cookie::encode_limited(&config.signer, &messages, max, Keep::Newest);
                plan.cookie = self.cookie_header(value);
                rest
            }
            StorageKind::Session => {
                plan.session = self.session_write(&messages);
                if self.session == SessionState::Unavailable {
                    messages
                } else {
                    Vec::new()
                }
            }
            StorageKind::Fallback => {
                let (value, rest) =
                    cookie::encode_limited(&config.signer, &messages, max, Keep::Oldest);
                plan.cookie = self.cookie_header(value);
                plan.session = self.session_write(&rest);
                if self.session == SessionState::Unavailable {
                    rest
                } else {
                    Vec::new()
                }
            }
        };
        if !rest.is_empty() {
            plan.lost = Some(if config.storage == StorageKind::Cookie {
                format!(
                    "Not all temporary messages could be stored: {} message(s) did not fit in the messages cookie ([messages] max_cookie_size = {max} bytes) and were dropped, the oldest first; use [messages] storage = \"fallback\" to keep the rest in the session, or add fewer or shorter messages",
                    rest.len()
                )
            } else {
                format!(
                    "Not all temporary messages could be stored: {} message(s) were for the session, which could not be read (see the error logged before)",
                    rest.len()
                )
            });
        }
        plan
    }

    /// `Set-Cookie` with `value`, or deleting the request's cookie when
    /// there is nothing to keep.
    fn cookie_header(&self, value: Option<String>) -> Option<HeaderValue> {
        match value {
            Some(value) => Some(
                self.config
                    .attributes
                    .set(&self.config.cookie_name, &value, None),
            ),
            None if self.cookie != CookieState::Absent => Some(self.delete_cookie()),
            None => None,
        }
    }

    fn delete_cookie(&self) -> HeaderValue {
        self.config.attributes.delete(&self.config.cookie_name)
    }

    /// Django's `SessionStorage._store`: the messages, or the key removed
    /// when there are none and it held some.
    fn session_write(&self, messages: &[Message]) -> SessionWrite {
        match self.session {
            SessionState::Unavailable => SessionWrite::Nothing,
            _ if !messages.is_empty() => {
                let parts: Vec<String> = messages.iter().map(cookie::message_json).collect();
                SessionWrite::Store(cookie::join(&parts, false))
            }
            SessionState::Read { held: true } => SessionWrite::Remove,
            SessionState::Read { held: false } | SessionState::Unread => SessionWrite::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Django's `BaseTests`, on the state alone (the HTTP side is in
    //! `tests/messages.rs`).

    use std::sync::Arc;

    use super::*;
    use crate::web::cookies::SameSite;

    fn config(storage: StorageKind, edit: impl FnOnce(&mut MessageSettings)) -> Arc<Config> {
        let mut settings = MessageSettings {
            storage,
            ..Default::default()
        };
        edit(&mut settings);
        Arc::new(Config::new(
            &settings,
            CookieAttributes {
                domain: Some(".example.com".into()),
                path: "/".into(),
                secure: true,
                http_only: true,
                same_site: SameSite::Strict,
            },
            "sessionid".into(),
            "secret",
            false,
        ))
    }

    fn fresh(storage: StorageKind) -> State {
        State::new(config(storage, |_| {}), None, false).0
    }

    /// Django's `add_level_messages`: six messages of different levels,
    /// one of them custom.
    fn add_level_messages(state: &mut State) {
        state.add(Level::INFO, "A generic info message".into(), "");
        state.add(Level::new(29), "Some custom level".into(), "");
        state.add(Level::DEBUG, "A debugging message".into(), "extra-tag");
        state.add(Level::WARNING, "A warning".into(), "");
        state.add(Level::ERROR, "An error".into(), "");
        state.add(Level::SUCCESS, "This was a triumph.".into(), "");
    }

    /// The messages a plan's cookie holds (`None`: no cookie written;
    /// `Some([])`: deleted).
    fn cookie_messages(config: &Config, plan: &Plan) -> Option<Vec<String>> {
        let header = plan.cookie.as_ref()?.to_str().unwrap().to_owned();
        let value = header
            .strip_prefix(&format!("{}=", config.cookie_name))
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        if header.contains("Max-Age=0") {
            return Some(Vec::new());
        }
        let decoded = cookie::parse(&config.signer.unsign(value).unwrap()).unwrap();
        Some(decoded.messages.into_iter().map(|m| m.1).collect())
    }

    fn signed(config: &Config, texts: &[&str], not_finished: bool) -> String {
        let parts: Vec<String> = texts
            .iter()
            .map(|t| cookie::message_json(&Message::new(Level::INFO, *t)))
            .collect();
        config
            .signer
            .sign(cookie::join(&parts, not_finished).as_bytes())
    }

    #[test]
    fn levels_below_the_threshold_and_empty_messages_are_not_recorded() {
        // test_default_level, test_low_level, test_high_level, test_settings_level.
        let mut state = fresh(StorageKind::Cookie);
        assert_eq!(state.level(), Level::INFO);
        add_level_messages(&mut state);
        assert_eq!(state.len(), 5);
        let mut state = fresh(StorageKind::Cookie);
        state.set_level(Some(Level::new(5)));
        add_level_messages(&mut state);
        assert_eq!(state.len(), 6);
        let mut state = fresh(StorageKind::Cookie);
        state.set_level(Some(Level::new(30)));
        assert_eq!(state.level(), Level::WARNING);
        add_level_messages(&mut state);
        assert_eq!(state.len(), 2);
        let mut state = State::new(
            config(StorageKind::Cookie, |s| s.level = Level::new(29)),
            None,
            false,
        )
        .0;
        add_level_messages(&mut state);
        assert_eq!(state.len(), 3);
        state.set_level(None);
        assert_eq!(state.level(), Level::new(29));
        state.add(Level::ERROR, String::new(), "");
        assert_eq!(state.len(), 3, "empty messages are not recorded");
    }

    #[test]
    fn tags_come_from_the_level_and_the_extra_tags() {
        // test_tags, test_level_tag, test_custom_tags.
        let mut state = fresh(StorageKind::Cookie);
        state.set_level(Some(Level::new(0)));
        add_level_messages(&mut state);
        let messages = state.iterate();
        let tags: Vec<String> = messages.iter().map(Message::tags).collect();
        assert_eq!(
            tags,
            ["info", "", "extra-tag debug", "warning", "error", "success"]
        );
        let level_tags: Vec<&str> = messages.iter().map(Message::level_tag).collect();
        assert_eq!(
            level_tags,
            ["info", "", "debug", "warning", "error", "success"]
        );
        let custom = config(StorageKind::Cookie, |s| {
            s.tags = [
                (Level::INFO, "info"),
                (Level::DEBUG, ""),
                (Level::WARNING, ""),
                (Level::ERROR, "bad"),
                (Level::new(29), "custom"),
            ]
            .into_iter()
            .map(|(l, t)| (l, t.to_owned()))
            .collect();
        });
        let mut state = State::new(custom, None, false).0;
        state.set_level(Some(Level::new(0)));
        add_level_messages(&mut state);
        let tags: Vec<String> = state.iterate().iter().map(Message::tags).collect();
        assert_eq!(tags, ["info", "custom", "extra-tag", "", "bad", "success"]);
    }

    #[test]
    fn the_used_rule() {
        let config = config(StorageKind::Cookie, |_| {});
        let existing = signed(&config, &["Test message 1", "Test message 2"], false);
        // Nothing added, nothing read: nothing written (test_no_update).
        let mut state = State::new(Arc::clone(&config), Some(&existing), false).0;
        assert!(state.untouched());
        let plan = state.plan();
        assert!(plan.cookie.is_none() && !plan.vary);
        // Added: everything is stored (test_existing_add, test_add_update).
        let mut state = State::new(Arc::clone(&config), Some(&existing), false).0;
        state.add(Level::INFO, "Test message 3".into(), "");
        let plan = state.plan();
        assert_eq!(
            cookie_messages(&config, &plan).unwrap(),
            ["Test message 1", "Test message 2", "Test message 3"]
        );
        assert!(plan.vary);
        // Added, then read: nothing is left (test_existing_add_read_update).
        let mut state = State::new(Arc::clone(&config), Some(&existing), false).0;
        state.add(Level::INFO, "Test message 3".into(), "");
        assert_eq!(state.iterate().len(), 3);
        let plan = state.plan();
        assert_eq!(cookie_messages(&config, &plan), Some(Vec::new()), "deleted");
        // Read, then added: only the new one (test_existing_read_add_update).
        let mut state = State::new(Arc::clone(&config), Some(&existing), false).0;
        let first = state.iterate();
        // Reading does not lose the data within the request (test_existing_read).
        assert_eq!(first, state.iterate());
        state.add(Level::INFO, "Test message 3".into(), "");
        let plan = state.plan();
        assert_eq!(cookie_messages(&config, &plan).unwrap(), ["Test message 3"]);
        // Only counted: not used, kept (and the response varies).
        let mut state = State::new(Arc::clone(&config), Some(&existing), false).0;
        assert_eq!(state.len(), 2);
        let plan = state.plan();
        assert!(plan.cookie.is_none() && plan.vary);
        // Read with no cookie: nothing to delete.
        let mut state = State::new(Arc::clone(&config), None, false).0;
        assert!(state.iterate().is_empty());
        let plan = state.plan();
        assert!(plan.cookie.is_none() && plan.vary);
    }

    #[test]
    fn a_bad_cookie_is_ignored_and_deleted() {
        let config = config(StorageKind::Fallback, |_| {});
        let good = signed(&config, &["test", "me"], true);
        let unsigned = good.replace(':', "");
        for bad in [&good[1..], "garbage", "", unsigned.as_str()] {
            let (mut state, read_session) = State::new(Arc::clone(&config), Some(bad), true);
            assert!(!read_session, "a bad cookie says nothing about the session");
            assert!(!state.untouched());
            assert!(state.iterate().is_empty());
            let plan = state.plan();
            assert_eq!(cookie_messages(&config, &plan), Some(Vec::new()), "{bad}");
        }
        let other_key = Signer::new("other").sign(b"[]");
        let (mut state, _) = State::new(Arc::clone(&config), Some(&other_key), true);
        assert_eq!(cookie_messages(&config, &state.plan()), Some(Vec::new()));
    }

    #[test]
    fn the_fallback_storage_reads_the_session_only_when_the_cookie_says() {
        let config = config(StorageKind::Fallback, |_| {});
        // test_get: all in the cookie; the session is not read.
        let cookie = signed(&config, &["0", "1", "2", "3", "4"], false);
        let (mut state, read_session) = State::new(Arc::clone(&config), Some(&cookie), true);
        assert!(!read_session);
        let texts: Vec<String> = state.iterate().iter().map(|m| m.to_string()).collect();
        assert_eq!(texts, ["0", "1", "2", "3", "4"]);
        // test_get_empty.
        let (_, read_session) = State::new(Arc::clone(&config), None, true);
        assert!(!read_session);
        // test_get_fallback: the cookie's first, then the session's.
        let cookie = signed(&config, &["0", "1", "2", "3"], true);
        let (mut state, read_session) = State::new(Arc::clone(&config), Some(&cookie), true);
        assert!(read_session);
        let in_session = cookie::join(
            &[cookie::message_json(&Message::new(Level::INFO, "4"))],
            false,
        );
        state.read_session(Ok(Some(serde_json::Value::String(in_session.clone()))));
        let texts: Vec<String> = state.iterate().iter().map(|m| m.to_string()).collect();
        assert_eq!(texts, ["0", "1", "2", "3", "4"]);
        // test_flush_used_backends: both emptied once read.
        let plan = state.plan();
        assert_eq!(cookie_messages(&config, &plan), Some(Vec::new()));
        assert_eq!(plan.session, SessionWrite::Remove);
        // test_get_fallback_only: the cookie holds only the marker.
        let cookie = signed(&config, &[], true);
        let (mut state, read_session) = State::new(Arc::clone(&config), Some(&cookie), true);
        assert!(read_session);
        state.read_session(Ok(Some(serde_json::Value::String(in_session))));
        assert_eq!(state.iterate().len(), 1);
        // Without a session cookie there is no session to read.
        let cookie = signed(&config, &["0"], true);
        assert!(!State::new(Arc::clone(&config), Some(&cookie), false).1);
    }

    #[test]
    fn the_fallback_storage_puts_what_does_not_fit_in_the_session() {
        let config = config(StorageKind::Fallback, |_| {});
        // test_no_fallback: short messages, all in the cookie.
        let mut state = State::new(Arc::clone(&config), None, true).0;
        for i in 0..5 {
            state.add(Level::INFO, i.to_string().repeat(100), "");
        }
        let plan = state.plan();
        assert_eq!(cookie_messages(&config, &plan).unwrap().len(), 5);
        assert_eq!(plan.session, SessionWrite::Nothing);
        // test_session_fallback: four fit, the fifth (newest) goes to the session.
        let size = (2048 - 54) * 2 / 9 - 37;
        let mut state = State::new(Arc::clone(&config), None, true).0;
        for i in 0..5 {
            let text = format!("{i}{}", cookie::incompressible(size - 1, i));
            state.add(Level::INFO, text, "");
        }
        let plan = state.plan();
        let in_cookie = cookie_messages(&config, &plan).unwrap();
        assert_eq!(in_cookie.len(), 4);
        assert!(in_cookie[0].starts_with('0'));
        let SessionWrite::Store(json) = &plan.session else {
            panic!("{:?}", plan.session)
        };
        let in_session = cookie::parse(json.as_bytes()).unwrap();
        assert_eq!(in_session.messages.len(), 1);
        assert!(in_session.messages[0].1.starts_with('4'));
        assert_eq!(plan.lost, None);
        // test_session_fallback_only: too large for any cookie.
        let mut state = State::new(Arc::clone(&config), None, true).0;
        state.add(Level::INFO, cookie::incompressible(5000, 3), "");
        let plan = state.plan();
        assert_eq!(cookie_messages(&config, &plan).unwrap().len(), 0);
        assert!(matches!(plan.session, SessionWrite::Store(_)));
        // A session store that failed: what does not fit is dropped.
        let cookie = signed(&config, &["0"], true);
        let (mut state, _) = State::new(Arc::clone(&config), Some(&cookie), true);
        state.read_session(Err(()));
        state.add(Level::INFO, cookie::incompressible(5000, 4), "");
        let plan = state.plan();
        assert_eq!(plan.session, SessionWrite::Nothing);
        assert!(
            plan.lost
                .unwrap()
                .contains("1 message(s) were for the session")
        );
    }

    #[test]
    fn the_cookie_storage_drops_the_oldest() {
        let config = config(StorageKind::Cookie, |_| {});
        let size = (2048 - 54) * 2 / 9 - 37;
        let mut state = State::new(Arc::clone(&config), None, false).0;
        for i in 0..5 {
            let text = format!("{i}{}", cookie::incompressible(size - 1, i));
            state.add(Level::INFO, text, "");
        }
        let plan = state.plan();
        let kept = cookie_messages(&config, &plan).unwrap();
        assert_eq!(kept.len(), 4);
        assert!(kept[0].starts_with('1'));
        assert!(
            plan.lost
                .unwrap()
                .contains("1 message(s) did not fit in the messages cookie ([messages] max_cookie_size = 2048 bytes)")
        );
        assert_eq!(plan.session, SessionWrite::Nothing);
    }

    #[test]
    fn the_cookie_follows_the_session_cookie_settings() {
        // test_cookie_settings: domain, Secure, HttpOnly, SameSite, no expiry.
        let config = config(StorageKind::Cookie, |_| {});
        let mut state = fresh(StorageKind::Cookie);
        state.add(Level::INFO, "test".into(), "");
        let plan = state.plan();
        let header = plan.cookie.unwrap();
        let header = header.to_str().unwrap();
        assert!(header.starts_with("messages="), "{header}");
        assert!(
            header.ends_with("; Domain=.example.com; Path=/; Secure; HttpOnly; SameSite=Strict"),
            "{header}"
        );
        assert!(
            !header.contains("expires") && !header.contains("Max-Age"),
            "{header}"
        );
        // Deleted once consumed, with the same domain.
        let existing = signed(&config, &["test"], false);
        let mut state = State::new(Arc::clone(&config), Some(&existing), false).0;
        state.iterate();
        let header = state.plan().cookie.unwrap();
        let header = header.to_str().unwrap();
        assert!(
            header.starts_with(
                "messages=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Domain=.example.com"
            ),
            "{header}"
        );
    }

    #[test]
    fn the_session_storage() {
        let config = config(StorageKind::Session, |_| {});
        // No session cookie: nothing to read.
        let (mut state, read_session) = State::new(Arc::clone(&config), None, false);
        assert!(!read_session);
        // test_get and a store.
        state.add(Level::INFO, "test".into(), "");
        state.add(Level::INFO, "me".into(), "x");
        let SessionWrite::Store(json) = state.plan().session else {
            panic!("stored")
        };
        assert_eq!(
            json,
            r#"[["__json_message",0,20,"test",""],["__json_message",0,20,"me","x"]]"#
        );
        let (mut state, read_session) = State::new(Arc::clone(&config), None, true);
        assert!(read_session);
        state.read_session(Ok(Some(serde_json::Value::String(json))));
        let messages = state.iterate();
        assert_eq!(
            messages,
            [
                Message::new(Level::INFO, "test"),
                Message::new(Level::INFO, "me")
            ]
        );
        assert_eq!(messages[1].extra_tags(), "x");
        assert_eq!(state.plan().session, SessionWrite::Remove);
        // Something else under the key: ignored, removed once used.
        let (mut state, _) = State::new(Arc::clone(&config), None, true);
        state.read_session(Ok(Some(serde_json::json!([1, 2]))));
        assert!(state.iterate().is_empty());
        assert_eq!(state.plan().session, SessionWrite::Remove);
        // Nothing stored and nothing added: the session is left alone.
        let (mut state, _) = State::new(Arc::clone(&config), None, true);
        state.read_session(Ok(None));
        state.iterate();
        assert_eq!(state.plan().session, SessionWrite::Nothing);
    }
}
