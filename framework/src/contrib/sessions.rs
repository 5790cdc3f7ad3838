//! The sessions app (`django.contrib.sessions`): per-visitor data kept on
//! the server, found again through the `sessionid` cookie. Install it with
//! `.app(manouche::contrib::sessions::app())` and take a [`Session`] in a
//! view:
//!
//! ```
//! use manouche::contrib::sessions::{self, Session};
//! use manouche::prelude::*;
//! use manouche::test::Client;
//!
//! async fn visits(session: Session) -> manouche::Result<String> {
//!     let n = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
//!     session.insert("visits", n).await?;
//!     Ok(n.to_string())
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let project = Project::new(Settings::default())
//!     .configure(|s| s.set_section("sessions", "store = \"memory\"").unwrap())
//!     .app(sessions::app())
//!     .urls(Urls::new().path("", get(visits), "visits"));
//! let client = Client::new(project).unwrap();
//! assert_eq!(client.get("/").send().await.text(), "1");
//! assert_eq!(client.get("/").send().await.text(), "2"); // the client keeps cookies
//! # });
//! ```
//!
//! **Stores** (`[sessions] store`): `"database"` (the default; the app's
//! own migration creates `sessions_session`, on SQLite and PostgreSQL),
//! `"memory"` (one process; gone on restart) and `"redis"` (several
//! instances sharing one Redis at `[sessions] redis_url` or `REDIS_URL`;
//! the `redis` cargo feature, on by default). The stores are
//! [tower-sessions](tower_sessions) stores: any other one can be used
//! with [`use_store`].
//!
//! **Lazy**: a request is given a session handle, and nothing else
//! happens until a view reads or writes it: a request without the cookie,
//! or a view that never looks, never touches the store, and a session that
//! was not modified is not written back (set `save_every_request` to
//! refresh every visitor's expiry instead). A cookie naming a session the
//! store does not have (expired, deleted, or made up) starts a new one
//! under a new key: a client cannot choose its session key.
//!
//! **The cookie** (Django's names and defaults): `sessionid`, two weeks
//! (`cookie_age`, seconds), `Path=/`, `HttpOnly` always, `SameSite=Lax`,
//! `Secure` unless `debug` is on (`cookie_secure` overrides), no `Max-Age`
//! with `expire_at_browser_close`. A response whose view read the session
//! gets `Vary: Cookie`. A view that flushes the session (logout) deletes
//! the cookie. A view answering 5xx does not save.
//!
//! `manage clearsessions` deletes the expired sessions of the database
//! store (Redis expires them itself; the memory store drops them when
//! read). An expired session is never accepted, whether or not it was
//! cleared.

mod middleware;
mod store;

use std::sync::Arc;

use serde::Deserialize;

pub use middleware::SessionMiddleware;
pub use store::{SessionRow, Store};
pub use tower_sessions::Expiry;
/// The tower-sessions interface a store implements (to plug in another
/// store with [`use_store`]).
pub use tower_sessions::{SessionStore, session::Id, session::Record, session_store};

use crate::App;
use crate::app::{AppSettings, CommandContext, Ready};
use crate::settings::Settings;
use crate::{StartupError, embed_migrations};

/// The app: the session middleware, the database store's
/// table, `manage clearsessions`.
pub fn app() -> App {
    App::new("sessions")
        .model::<SessionRow>()
        .migrations(embed_migrations!("src/contrib/sessions/migrations"))
        .settings::<SessionSettings>()
        .ready(ready)
        .command(
            clap::Command::new("clearsessions")
                .about("Delete the expired sessions from the session store"),
            clearsessions,
        )
}

/// Installs another session store than the configured ones (any
/// [`SessionStore`]); call it in an app's `ready` hook before the sessions
/// app's runs, i.e. from an app added before it, or install the sessions
/// app after.
pub fn use_store(ready: &mut Ready<'_>, store: impl SessionStore) {
    ready.services_mut().insert(Store::custom(store));
}

/// `[sessions]` in `settings.toml` (Django's `SESSION_*` settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SessionSettings {
    /// `"database"`, `"memory"` or `"redis"`.
    pub store: StoreKind,
    /// The Redis server for `store = "redis"`; unset: `REDIS_URL` from the
    /// environment.
    pub redis_url: Option<String>,
    /// The cookie's name.
    pub cookie_name: String,
    /// Seconds a session lives after it was last saved (two weeks).
    pub cookie_age: u64,
    /// The cookie's `Domain` (unset: this host only).
    pub cookie_domain: Option<String>,
    /// The cookie's `Path`.
    pub cookie_path: String,
    /// `Secure`: sent over HTTPS only. Unset: secure unless `debug`.
    pub cookie_secure: Option<bool>,
    /// `SameSite`: `"Lax"`, `"Strict"` or `"None"` (which needs `Secure`).
    pub cookie_samesite: String,
    /// A cookie without `Max-Age`: the browser forgets it when it closes
    /// (the store still expires the session after `cookie_age`).
    pub expire_at_browser_close: bool,
    /// Save the session (and push its expiry forward) on every request
    /// that has one, not only when it changed.
    pub save_every_request: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            store: StoreKind::Database,
            redis_url: None,
            cookie_name: "sessionid".to_owned(),
            cookie_age: 60 * 60 * 24 * 7 * 2,
            cookie_domain: None,
            cookie_path: "/".to_owned(),
            cookie_secure: None,
            cookie_samesite: "Lax".to_owned(),
            expire_at_browser_close: false,
            save_every_request: false,
        }
    }
}

/// Where sessions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StoreKind {
    /// The `sessions_session` table (the default).
    Database,
    /// This process's memory.
    Memory,
    /// A Redis server, shared by several instances.
    Redis,
}

impl AppSettings for SessionSettings {
    fn validate(&self) -> Result<(), String> {
        if !crate::web::cookies::is_cookie_name(&self.cookie_name) {
            return Err(format!(
                "cookie_name = {:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~)",
                self.cookie_name
            ));
        }
        if self.cookie_age == 0 || i64::try_from(self.cookie_age).is_err() {
            return Err(format!(
                "cookie_age = {} must be a positive number of seconds (Django's default is 1209600, two weeks)",
                self.cookie_age
            ));
        }
        let same_site = crate::web::cookies::SameSite::parse(&self.cookie_samesite)
            .map_err(|e| format!("cookie_samesite: {e}"))?;
        if same_site == crate::web::cookies::SameSite::None && self.cookie_secure == Some(false) {
            return Err(
                "cookie_samesite = \"None\" needs a Secure cookie: browsers drop it otherwise (remove cookie_secure = false)"
                    .to_owned(),
            );
        }
        if !self.cookie_path.starts_with('/') {
            return Err(format!(
                "cookie_path = {:?} must start with /",
                self.cookie_path
            ));
        }
        Ok(())
    }
}

impl SessionSettings {
    /// Whether the cookie is `Secure` under `settings`.
    #[must_use]
    pub fn secure(&self, settings: &Settings) -> bool {
        self.cookie_secure
            .or(settings.security.session_cookie_secure)
            .unwrap_or(!settings.debug)
    }

    /// The session's expiry as tower-sessions counts it.
    #[must_use]
    pub fn expiry(&self) -> Expiry {
        if self.expire_at_browser_close {
            Expiry::OnSessionEnd
        } else {
            Expiry::OnInactivity(time::Duration::seconds(
                i64::try_from(self.cookie_age).unwrap_or(i64::MAX),
            ))
        }
    }
}

fn ready(ready: &mut Ready<'_>) -> Result<(), StartupError> {
    let settings: Arc<SessionSettings> = ready
        .services()
        .get()
        .expect("the sessions app registers its settings section");
    let store = match ready.services().get::<Store>() {
        Some(store) => store,
        None => {
            let store = Arc::new(Store::from_settings(&settings, ready.database())?);
            ready.services_mut().insert_arc(Arc::clone(&store));
            store
        }
    };
    let middleware = SessionMiddleware::new(store, &settings, ready.settings())?;
    ready.add_middleware(middleware);
    Ok(())
}

async fn clearsessions(context: CommandContext) -> Result<(), StartupError> {
    let store = context.service::<Store>()?;
    let removed = store.clear_expired().await?;
    match removed {
        Some(n) => println!("Deleted {n} expired session(s)."),
        None => println!("Nothing to do: this store expires sessions by itself."),
    }
    Ok(())
}

/// The visitor's session, for a view (an axum extractor; Django's
/// `request.session`). Values are anything serde can write as JSON.
///
/// Reading or writing loads the session from the store the first time
/// (one query on the database store); a view that never does costs
/// nothing. Changes are saved when the response leaves, with the cookie.
#[derive(Clone)]
pub struct Session {
    /// The request's handle: the session is made on the first call, so a
    /// view that takes a `Session` and never uses it costs nothing.
    handle: Arc<middleware::Handle>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("modified", &self.is_modified())
            .field("used", &self.handle.used().is_some())
            .finish_non_exhaustive()
    }
}

/// A session that could not be read or written (the store failed, or a
/// value does not have the type asked for). Views that return
/// [`crate::Result`] turn it into a 500 page with `?`.
#[derive(Debug, thiserror::Error)]
#[error("session: {0}")]
pub struct SessionError(#[from] tower_sessions::session::Error);

impl Session {
    /// The value under `key`, if there is one.
    ///
    /// # Errors
    /// The store failed, or the value is not a `T`.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, SessionError> {
        Ok(self.inner().get(key).await?)
    }

    /// Whether there is a value under `key`.
    ///
    /// # Errors
    /// The store failed.
    pub async fn contains_key(&self, key: &str) -> Result<bool, SessionError> {
        Ok(self.inner().get_value(key).await?.is_some())
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    /// The store failed, or `value` cannot be written as JSON.
    pub async fn insert(
        &self,
        key: &str,
        value: impl serde::Serialize,
    ) -> Result<(), SessionError> {
        Ok(self.inner().insert(key, value).await?)
    }

    /// Removes `key`, giving back its value.
    ///
    /// # Errors
    /// The store failed, or the value is not a `T`.
    pub async fn remove<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, SessionError> {
        Ok(self.inner().remove(key).await?)
    }

    /// Whether the session holds nothing.
    pub async fn is_empty(&self) -> bool {
        self.inner().is_empty().await
    }

    /// Removes every value, keeping the session key.
    pub async fn clear(&self) {
        self.inner().clear().await;
    }

    /// Deletes the session from the store and starts an empty one; the
    /// response deletes the cookie (Django's `flush`, what logout does).
    ///
    /// # Errors
    /// The store failed.
    pub async fn flush(&self) -> Result<(), SessionError> {
        Ok(self.inner().flush().await?)
    }

    /// Moves the session's data to a new key and deletes the old one
    /// (Django's `cycle_key`, what login does against session fixation).
    ///
    /// # Errors
    /// The store failed.
    pub async fn cycle_key(&self) -> Result<(), SessionError> {
        Ok(self.inner().cycle_id().await?)
    }

    /// The session key the visitor holds now: `None` for a new session not
    /// saved yet.
    #[must_use]
    pub fn key(&self) -> Option<String> {
        self.inner().id().map(|id| id.to_string())
    }

    /// When the session expires (`Expiry::OnInactivity` by default).
    pub fn set_expiry(&self, expiry: Expiry) {
        self.inner().set_expiry(Some(expiry));
    }

    /// Whether this request changed the session.
    #[must_use]
    pub fn is_modified(&self) -> bool {
        self.handle
            .used()
            .is_some_and(tower_sessions::Session::is_modified)
    }

    /// The tower-sessions session underneath.
    #[must_use]
    pub fn as_tower_session(&self) -> &tower_sessions::Session {
        self.inner()
    }

    fn inner(&self) -> &tower_sessions::Session {
        self.handle.session()
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Session {
    type Rejection = crate::Error;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Self::from_extensions(&parts.extensions).ok_or_else(|| {
            crate::Error::improperly_configured(
                "this view takes a Session, but the sessions app is not installed: add .app(manouche::contrib::sessions::app()) to the project"
                    .to_owned(),
            )
        })
    }
}

impl Session {
    /// The session of a request, from its extensions (for middleware and
    /// extractors of other apps).
    #[must_use]
    pub fn from_extensions(extensions: &http::Extensions) -> Option<Self> {
        extensions
            .get::<Arc<middleware::Handle>>()
            .map(|handle| Self {
                handle: Arc::clone(handle),
            })
    }
}
