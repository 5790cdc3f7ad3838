//! The middleware hook that gives each request its session handle and
//! saves what the view changed.
//!
//! Not tower-sessions' own layer: that one parses every cookie into a jar
//! and boxes every request's future. Here a request costs one small
//! allocation (the handle, which is also its finishing step) and a look
//! for one cookie; the session itself is made when a view first asks for
//! it, and only a request whose view touched the session takes the
//! slower, boxed way out.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode, header};
use tower_sessions::Expiry;
use tower_sessions::session::Id;

use super::{SessionSettings, Store};
use crate::StartupError;
use crate::error_pages::ErrorReport;
use crate::middleware::{Before, Finish, Finished, Middleware};
use crate::settings::Settings;
use crate::web::cookies::{self, CookieAttributes, SameSite};

/// What the layer needs, computed once.
#[derive(Debug)]
struct Config {
    store: Arc<Store>,
    cookie_name: String,
    attributes: CookieAttributes,
    expiry: Expiry,
    save_every_request: bool,
}

/// The sessions app's middleware hook (added by its `ready` hook; Django's
/// `SessionMiddleware`): each request gets its session handle, and a
/// response whose view touched the session has it saved, with the cookie.
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    config: Arc<Config>,
}

impl SessionMiddleware {
    /// The middleware for `store` under `[sessions]`.
    ///
    /// # Errors
    /// A `cookie_samesite` that does not parse (already refused when the
    /// section is read).
    pub fn new(
        store: Arc<Store>,
        sessions: &SessionSettings,
        settings: &Settings,
    ) -> Result<Self, StartupError> {
        let same_site = SameSite::parse(&sessions.cookie_samesite).map_err(|e| {
            StartupError::ImproperlyConfigured(format!("[sessions] cookie_samesite: {e}"))
        })?;
        Ok(Self {
            config: Arc::new(Config {
                store,
                cookie_name: sessions.cookie_name.clone(),
                attributes: CookieAttributes {
                    domain: sessions.cookie_domain.clone(),
                    path: sessions.cookie_path.clone(),
                    secure: sessions.secure(settings),
                    http_only: true,
                    same_site,
                },
                expiry: sessions.expiry(),
                save_every_request: sessions.save_every_request,
            }),
        })
    }
}

impl Middleware for SessionMiddleware {
    fn name(&self) -> &'static str {
        "sessions"
    }

    fn before(&self, request: &mut Request<Body>) -> Before {
        let cookie = cookies::find(request.headers(), &self.config.cookie_name)
            .and_then(|value| value.parse::<Id>().ok());
        let handle = Arc::new(Handle {
            cookie,
            config: Arc::clone(&self.config),
            session: OnceLock::new(),
        });
        request.extensions_mut().insert(Arc::clone(&handle));
        Before::Then(handle)
    }
}

/// A request's session, made on first use.
#[derive(Debug)]
pub(crate) struct Handle {
    cookie: Option<Id>,
    config: Arc<Config>,
    session: OnceLock<tower_sessions::Session>,
}

impl Handle {
    /// The session if a view used it.
    pub(crate) fn used(&self) -> Option<&tower_sessions::Session> {
        self.session.get()
    }

    /// The session (made now if the view is the first to ask).
    pub(crate) fn session(&self) -> &tower_sessions::Session {
        self.session.get_or_init(|| {
            tower_sessions::Session::new(
                self.cookie,
                Arc::clone(&self.config.store),
                Some(self.config.expiry),
            )
        })
    }
}

impl Finish for Handle {
    fn finish(self: Arc<Self>, response: Response) -> Finished {
        let touched = self.used().is_some();
        let refresh = self.config.save_every_request && self.cookie.is_some();
        if !touched && !refresh {
            return Finished::Done(response);
        }
        Finished::Pending(Box::pin(finish(self, touched, response)))
    }
}

/// Django's `SessionMiddleware.process_response`.
async fn finish(handle: Arc<Handle>, accessed: bool, mut response: Response) -> Response {
    let config = &handle.config;
    let session = handle.session();
    if accessed {
        cookies::vary_on_cookie(response.headers_mut());
    }
    if !(session.is_modified() || config.save_every_request) {
        return response;
    }
    if session.is_empty().await {
        // Flushed (logout) or emptied: forget the cookie.
        if handle.cookie.is_some() {
            let delete = config.attributes.delete(&config.cookie_name);
            response.headers_mut().append(header::SET_COOKIE, delete);
            cookies::vary_on_cookie(response.headers_mut());
        }
        return response;
    }
    if response.status().is_server_error() {
        return response;
    }
    if let Err(e) = session.save().await {
        tracing::error!(target: "manouche::sessions", "the session could not be saved: {e}");
        return ErrorReport::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the session could not be saved: {e}"),
        )
        .into_response();
    }
    let Some(id) = session.id() else {
        return response;
    };
    let max_age = match session.expiry() {
        Some(Expiry::OnSessionEnd) => None,
        // The age as configured (Django's `get_expiry_age`), not the few
        // milliseconds less left since the save.
        Some(Expiry::OnInactivity(age)) => Some(Duration::try_from(age).unwrap_or(Duration::ZERO)),
        _ => Some(Duration::try_from(session.expiry_age()).unwrap_or(Duration::ZERO)),
    };
    let cookie = config
        .attributes
        .set(&config.cookie_name, &id.to_string(), max_age);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}
