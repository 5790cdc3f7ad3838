//! The messages app (`django.contrib.messages`): one-time notices for the
//! visitor ("Article published.", "Your password was changed."), added by
//! one request and shown by the next page, typically after a redirect.
//!
//! Install it after the sessions app, take [`Messages`] in a view, and show
//! [`get_messages`] in the base template:
//!
//! ```
//! use manouche::contrib::messages::{self, Messages};
//! use manouche::contrib::sessions;
//! use manouche::prelude::*;
//! use manouche::test::Client;
//!
//! async fn publish(messages: Messages) -> Response {
//!     messages.success("Article published.");
//!     manouche::web::found("/")
//! }
//!
//! #[derive(Template, TemplateResponse)]
//! #[template(
//!     source = r#"{% for m in manouche::contrib::messages::get_messages() %}<p class="{{ m.tags() }}">{{ m }}</p>{% endfor %}"#,
//!     ext = "html"
//! )]
//! struct Home;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let project = Project::new(Settings::default())
//!     .configure(|s| s.set_section("sessions", "store = \"memory\"").unwrap())
//!     .app(sessions::app())
//!     .app(messages::app())
//!     .urls(Urls::new().path("", get(|| async { Home }), "home").path("publish/", post(publish), "publish"));
//! let client = Client::new(project).unwrap();
//! client.post("/publish/").send().await;
//! let page = client.get("/").send().await.text();
//! assert_eq!(page, r#"<p class="success">Article published.</p>"#);
//! assert_eq!(client.get("/").send().await.text(), "", "shown once");
//! # });
//! ```
//!
//! **Levels and tags.** A message has a [`Level`] — Django's numbers:
//! `DEBUG` 10, `INFO` 20, `SUCCESS` 25, `WARNING` 30, `ERROR` 40, or any
//! other — and tags for CSS: the level's (`debug info success warning
//! error`, changed per level with `[messages] tags`) after the message's
//! own `extra_tags`. Messages below `[messages] level` (`INFO` unless set;
//! per request with [`Messages::set_level`]) and empty ones are not
//! recorded.
//!
//! **Shown once** (Django's `used` rule). Messages added while a request is
//! served are stored when its response leaves. The first request that
//! iterates them ([`get_messages`] in a template, or [`Messages::iter`])
//! marks them used: they are gone after its response. A page that does not
//! iterate them leaves them for the next one; messages added after the
//! iteration are kept for the next page. A response that reads or adds
//! messages gets `Vary: Cookie`, so that a shared cache never hands one
//! visitor's messages to another.
//!
//! **Storage** (`[messages] storage`, Django's `MESSAGE_STORAGE`):
//!
//! - `"fallback"` (the default, as Django's): a signed cookie first, the
//!   session for what does not fit. Most messages are short and fit, so
//!   showing them costs no store access; the session is read only when the
//!   cookie says some messages overflowed into it. Needs the sessions app,
//!   installed before this one.
//! - `"cookie"`: the `messages` cookie only, limited to `max_cookie_size`
//!   bytes (2048: room for other cookies under the 4 KB many servers allow
//!   for headers); when messages do not fit, the oldest are dropped, the
//!   cookie is marked unfinished, and in `debug` the response is a 500 that
//!   says so (Django raises), else a warning is logged.
//! - `"session"`: the session's `_messages` key. The session is read before
//!   the view of every request that has a session cookie (one store read,
//!   shared with any other use of the session by that request).
//!
//! The cookie is Django's: the same JSON, signed with the project's
//! `secret_key` as Django's `get_cookie_signer(salt="django.contrib.messages")`
//! signs it, compressed when that is shorter, and sent with the session
//! cookie's attributes (`[sessions] cookie_domain`, `Secure` as the session
//! cookie, `HttpOnly`, `cookie_samesite`), for the browser session only.
//! A cookie that is not this site's (tampered, cut short, signed with
//! another key) is ignored and deleted: its messages are lost, the page is
//! served as usual.
//!
//! **In templates** [`get_messages`] gives the current request's messages
//! (and marks them used), the way `manouche::csrf::token()` gives its
//! token: through the request's task-local scope. Each [`Message`] has
//! `level()`, `tags()` and `message()`, and displays as its text, escaped
//! by askama. Outside a request (an error page rendered after the view, a
//! spawned task) there are none.
//!
//! **Differences from Django.** Messages are plain text: Django's
//! `mark_safe` messages are read back as text and escaped. Cookie-only
//! storage deletes the cookie only when the request carried one. The
//! fallback storage deletes a cookie left holding only the unfinished
//! marker once the session's messages are shown (Django leaves it until the
//! next message). `SECRET_KEY_FALLBACKS` has no equivalent: after a key
//! change, pending messages are lost.

mod cookie;
mod layer;
mod storage;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};

pub use layer::MessagesLayer;

use crate::App;
use crate::StartupError;
use crate::app::{AppSettings, Ready};
use crate::contrib::sessions::SessionSettings;

/// The app: the layer that loads and stores each request's messages.
pub fn app() -> App {
    App::new("messages")
        .settings::<MessageSettings>()
        .ready(ready)
}

/// How important a message is: Django's numbers, so that levels compare
/// (`Level::WARNING > Level::INFO`) and custom ones fit between
/// (`Level::new(29)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(i32);

impl Level {
    /// Development details (10); below the default threshold, so not
    /// recorded unless `[messages] level` is lowered.
    pub const DEBUG: Self = Self(10);
    /// Information for the visitor (20).
    pub const INFO: Self = Self(20);
    /// An action succeeded (25).
    pub const SUCCESS: Self = Self(25);
    /// Something did not go as expected yet (30).
    pub const WARNING: Self = Self(30);
    /// An action failed (40).
    pub const ERROR: Self = Self(40);

    /// A level of one's own.
    #[must_use]
    pub const fn new(value: i32) -> Self {
        Self(value)
    }

    /// The number.
    #[must_use]
    pub const fn value(self) -> i32 {
        self.0
    }

    /// The level named `text` (`"debug"`, `"info"`, `"success"`,
    /// `"warning"`, `"error"`, any case) or written as a number (`"29"`).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let named = match text.trim().to_ascii_lowercase().as_str() {
            "debug" => Self::DEBUG,
            "info" => Self::INFO,
            "success" => Self::SUCCESS,
            "warning" => Self::WARNING,
            "error" => Self::ERROR,
            other => return other.parse().ok().map(Self),
        };
        Some(named)
    }

    /// The tag Django gives this level by default (`"info"`), or `""` for
    /// a level of one's own.
    #[must_use]
    pub fn default_tag(self) -> &'static str {
        match self {
            Self::DEBUG => "debug",
            Self::INFO => "info",
            Self::SUCCESS => "success",
            Self::WARNING => "warning",
            Self::ERROR => "error",
            _ => "",
        }
    }
}

impl Default for Level {
    /// `INFO`, Django's default `MESSAGE_LEVEL`.
    fn default() -> Self {
        Self::INFO
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A level in `settings.toml`: a name (`"warning"`) or a number (`30`),
/// also as a table key (`tags = { error = "danger", 29 = "custom" }`).
impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Level;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message level: debug, info, success, warning, error, or a number")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Level, E> {
                i32::try_from(v)
                    .map(Level)
                    .map_err(|_| E::custom(format!("message level {v} is out of range")))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Level, E> {
                i32::try_from(v)
                    .map(Level)
                    .map_err(|_| E::custom(format!("message level {v} is out of range")))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Level, E> {
                Level::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "unknown message level {v:?}: use debug, info, success, warning, error or a number"
                    ))
                })
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// One message: its level, its text and its extra tags (Django's
/// `Message`). It displays as its text; two messages are equal when their
/// level and text are.
#[derive(Debug, Clone)]
pub struct Message {
    level: Level,
    message: String,
    extra_tags: String,
    /// The level's tag under the project's `[messages] tags`.
    level_tag: String,
}

impl Message {
    /// A message with Django's default tag for its level.
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Self {
            level,
            message: message.into(),
            extra_tags: String::new(),
            level_tag: level.default_tag().to_owned(),
        }
    }

    /// The same message with `extra_tags` (space-separated CSS classes).
    #[must_use]
    pub fn with_extra_tags(mut self, extra_tags: impl Into<String>) -> Self {
        self.extra_tags = extra_tags.into();
        self
    }

    /// The level.
    #[must_use]
    pub fn level(&self) -> Level {
        self.level
    }

    /// The text.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The tags given when the message was added.
    #[must_use]
    pub fn extra_tags(&self) -> &str {
        &self.extra_tags
    }

    /// The level's tag (`"success"`; `[messages] tags` may change it, and a
    /// level without a tag has `""`).
    #[must_use]
    pub fn level_tag(&self) -> &str {
        &self.level_tag
    }

    /// The extra tags then the level's tag, space-separated, leaving out
    /// the empty ones (`"important success"`): the `class` of the message's
    /// element.
    #[must_use]
    pub fn tags(&self) -> String {
        match (self.extra_tags.is_empty(), self.level_tag.is_empty()) {
            (false, false) => format!("{} {}", self.extra_tags, self.level_tag),
            (false, true) => self.extra_tags.clone(),
            (true, _) => self.level_tag.clone(),
        }
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.level == other.level && self.message == other.message
    }
}

impl Eq for Message {}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// `[messages]` in `settings.toml` (Django's `MESSAGE_*` settings).
///
/// ```toml
/// [messages]
/// storage = "fallback"          # or "cookie", "session"
/// level = "info"                # or a number: 0 records everything
/// tags = { error = "danger" }   # CSS tags per level (name or number)
/// cookie_name = "messages"
/// max_cookie_size = 2048
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MessageSettings {
    /// Where messages wait for the next page.
    pub storage: StorageKind,
    /// Messages below this level are not recorded (Django's
    /// `MESSAGE_LEVEL`).
    pub level: Level,
    /// Tags replacing the default one of a level (Django's
    /// `MESSAGE_TAGS`); `""` removes it.
    pub tags: BTreeMap<Level, String>,
    /// The cookie of the cookie and fallback storages.
    pub cookie_name: String,
    /// The largest cookie value written, in bytes (Django's
    /// `CookieStorage.max_cookie_size`).
    pub max_cookie_size: usize,
}

impl Default for MessageSettings {
    fn default() -> Self {
        Self {
            storage: StorageKind::Fallback,
            level: Level::INFO,
            tags: BTreeMap::new(),
            cookie_name: "messages".to_owned(),
            max_cookie_size: 2048,
        }
    }
}

/// Where messages are kept between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StorageKind {
    /// The cookie, and the session for what does not fit (the default).
    Fallback,
    /// The cookie only.
    Cookie,
    /// The session only.
    Session,
}

impl StorageKind {
    /// Whether this storage needs the sessions app.
    #[must_use]
    pub fn uses_session(self) -> bool {
        matches!(self, Self::Fallback | Self::Session)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Fallback => "fallback",
            Self::Cookie => "cookie",
            Self::Session => "session",
        }
    }
}

/// The smallest `max_cookie_size` that holds a signed message at all.
const MIN_COOKIE_SIZE: usize = 128;
/// What browsers keep of one cookie.
const MAX_COOKIE_SIZE: usize = 4096;

impl AppSettings for MessageSettings {
    fn validate(&self) -> Result<(), String> {
        if !crate::web::cookies::is_cookie_name(&self.cookie_name) {
            return Err(format!(
                "cookie_name = {:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~)",
                self.cookie_name
            ));
        }
        if !(MIN_COOKIE_SIZE..=MAX_COOKIE_SIZE).contains(&self.max_cookie_size) {
            return Err(format!(
                "max_cookie_size = {} must be between {MIN_COOKIE_SIZE} and {MAX_COOKIE_SIZE} bytes (browsers keep cookies up to 4096; Django's default is 2048)",
                self.max_cookie_size
            ));
        }
        Ok(())
    }
}

/// The current request's messages, for a view (an axum extractor; Django's
/// `messages.add_message(request, ...)` and `get_messages(request)`).
/// Clones share the same messages.
///
/// ```
/// use manouche::contrib::messages::{Level, Messages};
/// use manouche::prelude::*;
///
/// async fn save(messages: Messages) -> Response {
///     messages.success("Saved.");
///     messages.add_with_tags(Level::WARNING, "Check the date.", "date");
///     manouche::web::found("/")
/// }
/// ```
#[derive(Clone)]
pub struct Messages {
    shared: Arc<layer::Shared>,
}

impl fmt::Debug for Messages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Messages")
            .field("level", &self.level())
            .finish_non_exhaustive()
    }
}

impl Messages {
    /// Records a message at `level`, unless it is empty or below the
    /// threshold ([`level`](Self::level)).
    pub fn add(&self, level: Level, message: impl Into<String>) {
        self.add_with_tags(level, message, "");
    }

    /// [`add`](Self::add) with extra tags (space-separated CSS classes,
    /// written before the level's tag).
    pub fn add_with_tags(&self, level: Level, message: impl Into<String>, extra_tags: &str) {
        self.shared.lock().add(level, message.into(), extra_tags);
    }

    /// Records a `DEBUG` message.
    pub fn debug(&self, message: impl Into<String>) {
        self.add(Level::DEBUG, message);
    }

    /// Records an `INFO` message.
    pub fn info(&self, message: impl Into<String>) {
        self.add(Level::INFO, message);
    }

    /// Records a `SUCCESS` message.
    pub fn success(&self, message: impl Into<String>) {
        self.add(Level::SUCCESS, message);
    }

    /// Records a `WARNING` message.
    pub fn warning(&self, message: impl Into<String>) {
        self.add(Level::WARNING, message);
    }

    /// Records an `ERROR` message.
    pub fn error(&self, message: impl Into<String>) {
        self.add(Level::ERROR, message);
    }

    /// Every message, stored ones first, then those this request added;
    /// iterating marks them used: they are not stored again (Django's
    /// iteration of the storage).
    #[must_use]
    pub fn iter(&self) -> std::vec::IntoIter<Message> {
        self.shared.lock().iterate().into_iter()
    }

    /// How many messages there are, without marking them used.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.lock().len()
    }

    /// Whether there are none, without marking them used.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The threshold: messages below it are not recorded.
    #[must_use]
    pub fn level(&self) -> Level {
        self.shared.lock().level()
    }

    /// Changes the threshold for the rest of this request (Django's
    /// `set_level`); `None` goes back to `[messages] level`.
    pub fn set_level(&self, level: Option<Level>) {
        self.shared.lock().set_level(level);
    }

    /// The messages of the request being served, for code that is not an
    /// extractor (a helper called by a view, an event listener); `None`
    /// outside a request, or when the app is not installed (Django's
    /// `fail_silently`).
    #[must_use]
    pub fn current() -> Option<Self> {
        layer::current().map(|shared| Self { shared })
    }
}

impl IntoIterator for &Messages {
    type Item = Message;
    type IntoIter = std::vec::IntoIter<Message>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Messages {
    type Rejection = crate::Error;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<layer::Shared>>()
            .map(|shared| Self {
                shared: Arc::clone(shared),
            })
            .ok_or_else(|| {
                crate::Error::improperly_configured(
                    "this view takes Messages, but the messages app is not installed: add .app(manouche::contrib::messages::app()) to the project, after the sessions app",
                )
            })
    }
}

/// The current request's messages, for a template, marked used (Django's
/// `messages` context variable, iterated):
///
/// ```text
/// {% let messages = manouche::contrib::messages::get_messages() %}
/// {% if !messages.is_empty() %}<ul class="messages" role="status">
/// {% for message in messages %}<li class="{{ message.tags() }}">{{ message }}</li>{% endfor %}
/// </ul>{% endif %}
/// ```
///
/// Empty outside a request served by a project with the messages app.
#[must_use]
pub fn get_messages() -> Vec<Message> {
    layer::current()
        .map(|shared| shared.lock().iterate())
        .unwrap_or_default()
}

fn ready(ready: &mut Ready<'_>) -> Result<(), StartupError> {
    let settings: Arc<MessageSettings> = ready
        .services()
        .get()
        .expect("the messages app registers its settings section");
    if settings.storage.uses_session() {
        let position = |label: &str| ready.apps().iter().position(|a| a.label == label);
        let storage = settings.storage.name();
        match (position("sessions"), position(ready.label())) {
            (None, _) => {
                return Err(StartupError::improperly_configured(format!(
                    "[messages] storage = \"{storage}\" keeps messages in the session, but the sessions app is not installed: add .app(manouche::contrib::sessions::app()) before .app(manouche::contrib::messages::app()), or set storage = \"cookie\""
                )));
            }
            (Some(sessions), Some(messages)) if sessions > messages => {
                return Err(StartupError::improperly_configured(format!(
                    "[messages] storage = \"{storage}\" keeps messages in the session, but the messages app is installed before the sessions app: add the sessions app first (its middleware must run before the messages' layer)"
                )));
            }
            _ => {}
        }
    }
    let sessions = ready.services().get::<SessionSettings>();
    let layer = MessagesLayer::new(&settings, sessions.as_deref(), ready.settings())?;
    ready.add_layer(layer);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_djangos() {
        assert_eq!(
            [
                Level::DEBUG,
                Level::INFO,
                Level::SUCCESS,
                Level::WARNING,
                Level::ERROR
            ]
            .map(Level::value),
            [10, 20, 25, 30, 40]
        );
        assert!(Level::WARNING > Level::SUCCESS);
        assert_eq!(Level::parse("Warning"), Some(Level::WARNING));
        assert_eq!(Level::parse("29"), Some(Level::new(29)));
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level::default(), Level::INFO);
        assert_eq!(Level::new(29).default_tag(), "");
    }

    #[test]
    fn messages_compare_by_level_and_text() {
        // Django's MessageTests.test_eq.
        let one = Message::new(Level::INFO, "Test message 1");
        let two = Message::new(Level::INFO, "Test message 2");
        let three = Message::new(Level::WARNING, "Test message 1");
        assert_eq!(one, one.clone().with_extra_tags("other"));
        assert_ne!(one, two);
        assert_ne!(one, three);
        assert_ne!(two, three);
        assert_eq!(one.to_string(), "Test message 1");
        assert_eq!(one.tags(), "info");
        assert_eq!(
            Message::new(Level::DEBUG, "x")
                .with_extra_tags("extra-tag")
                .tags(),
            "extra-tag debug"
        );
        assert_eq!(Message::new(Level::new(29), "x").tags(), "");
        assert_eq!(
            Message::new(Level::new(29), "x")
                .with_extra_tags("a")
                .tags(),
            "a"
        );
    }

    #[test]
    fn the_section_reads_names_and_numbers() {
        let settings: MessageSettings = toml::from_str(
            "storage = \"cookie\"\nlevel = 29\ntags = { error = \"danger\", 29 = \"custom\", 10 = \"\" }",
        )
        .unwrap();
        assert_eq!(settings.storage, StorageKind::Cookie);
        assert_eq!(settings.level, Level::new(29));
        assert_eq!(settings.tags[&Level::ERROR], "danger");
        assert_eq!(settings.tags[&Level::new(29)], "custom");
        assert_eq!(settings.tags[&Level::DEBUG], "");
        let settings: MessageSettings = toml::from_str("level = \"debug\"").unwrap();
        assert_eq!(settings.level, Level::DEBUG);
        assert_eq!(settings.storage, StorageKind::Fallback);
        let err = toml::from_str::<MessageSettings>("level = \"loud\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown message level \"loud\""), "{err}");
        let err = toml::from_str::<MessageSettings>("tags = { loud = \"x\" }")
            .unwrap_err()
            .to_string();
        assert!(err.contains("loud"), "{err}");
        assert!(
            MessageSettings {
                max_cookie_size: 5000,
                ..Default::default()
            }
            .validate()
            .unwrap_err()
            .contains("max_cookie_size")
        );
        assert!(
            MessageSettings {
                cookie_name: "my messages".into(),
                ..Default::default()
            }
            .validate()
            .unwrap_err()
            .contains("cookie_name")
        );
    }
}
