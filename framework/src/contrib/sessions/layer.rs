//! The layer that gives each request its session handle and saves what the
//! view changed.
//!
//! Not tower-sessions' own layer: that one parses every cookie into a jar
//! and boxes every request's future. Here a request costs one small
//! allocation (the handle) and a look for one cookie; the session itself
//! is made when a view first asks for it, and only a request whose view
//! touched the session takes the slower, boxed way out.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::{Request, StatusCode, header};
use tower::{Layer, Service};
use tower_sessions::Expiry;
use tower_sessions::session::Id;

use super::{SessionSettings, Store};
use crate::StartupError;
use crate::error_pages::ErrorReport;
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

/// The sessions app's layer (added by its `ready` hook).
#[derive(Debug, Clone)]
pub struct SessionLayer {
    config: Arc<Config>,
}

impl SessionLayer {
    /// The layer for `store` under `[sessions]`.
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

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            config: Arc::clone(&self.config),
        }
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

/// [`SessionLayer`]'s service.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> Service<Request<Body>> for SessionService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = SessionFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let cookie = cookies::find(request.headers(), &self.config.cookie_name)
            .and_then(|value| value.parse::<Id>().ok());
        let handle = Arc::new(Handle {
            cookie,
            config: Arc::clone(&self.config),
            session: OnceLock::new(),
        });
        request.extensions_mut().insert(Arc::clone(&handle));
        SessionFuture::View {
            fut: self.inner.call(request),
            handle: Some(handle),
        }
    }
}

pin_project_lite::pin_project! {
    /// [`SessionService`]'s future: the view, then (only when the view
    /// touched the session) the save.
    #[project = Projected]
    pub enum SessionFuture<F> {
        View { #[pin] fut: F, handle: Option<Arc<Handle>> },
        Saving { fut: BoxFuture<'static, Response> },
    }
}

impl<F> Future for SessionFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                Projected::View { fut, handle } => {
                    let Ok(response) = std::task::ready!(fut.poll(cx));
                    let handle = handle
                        .take()
                        .expect("SessionFuture polled after completion");
                    let touched = handle.used().is_some();
                    let refresh = handle.config.save_every_request && handle.cookie.is_some();
                    if !touched && !refresh {
                        return Poll::Ready(Ok(response));
                    }
                    let fut = Box::pin(finish(handle, touched, response));
                    self.set(Self::Saving { fut });
                }
                Projected::Saving { fut } => return fut.as_mut().poll(cx).map(Ok),
            }
        }
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
