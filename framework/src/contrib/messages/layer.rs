//! The layer that gives each request its messages (Django's
//! `MessageMiddleware`): the stored ones read before the view, the new ones
//! stored when the response leaves.
//!
//! A request without the messages cookie (or, with the session storage,
//! without a session cookie) costs a cookie lookup, one small allocation
//! and a task-local, besides the boxed level every layer adds (a layer
//! wraps the whole site); a view that neither reads nor adds messages
//! leaves the response as it is. The cookie, when there is one, is checked and read
//! before the view, since it exists only while messages wait to be shown.
//! Only a request whose messages are in the session, or that must write
//! there, takes the slower, boxed way.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::{Request, StatusCode, header};
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use super::MessageSettings;
use super::storage::{Config, Plan, SESSION_KEY, SessionWrite, State};
use crate::StartupError;
use crate::contrib::sessions::{Session, SessionSettings};
use crate::error_pages::ErrorReport;
use crate::settings::Settings;
use crate::web::cookies::{self, CookieAttributes, SameSite};

/// A request's messages, shared by the layer, the [`Messages`](super::Messages)
/// extractor and [`get_messages`](super::get_messages).
#[derive(Debug)]
pub(crate) struct Shared(Mutex<State>);

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

tokio::task_local! {
    /// The messages of the request being served.
    static CURRENT: Arc<Shared>;
}

/// The current request's messages, if a project with the app serves one.
pub(super) fn current() -> Option<Arc<Shared>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// The messages app's layer (added by its `ready` hook).
#[derive(Debug, Clone)]
pub struct MessagesLayer {
    config: Arc<Config>,
}

impl MessagesLayer {
    /// The layer for `[messages]`; its cookie takes the attributes of the
    /// session cookie (`[sessions]`, or its defaults).
    ///
    /// # Errors
    /// A `[sessions] cookie_samesite` that does not parse (already refused
    /// when the section is read).
    pub fn new(
        messages: &MessageSettings,
        sessions: Option<&SessionSettings>,
        settings: &Settings,
    ) -> Result<Self, StartupError> {
        let defaults = SessionSettings::default();
        let sessions = sessions.unwrap_or(&defaults);
        let same_site = SameSite::parse(&sessions.cookie_samesite).map_err(|e| {
            StartupError::ImproperlyConfigured(format!("[sessions] cookie_samesite: {e}"))
        })?;
        // Django's CookieStorage: the session cookie's domain, Secure,
        // HttpOnly and SameSite, the default path, no expiry.
        let attributes = CookieAttributes {
            domain: sessions.cookie_domain.clone(),
            path: "/".to_owned(),
            secure: sessions.secure(settings),
            http_only: true,
            same_site,
        };
        Ok(Self {
            config: Arc::new(Config::new(
                messages,
                attributes,
                sessions.cookie_name.clone(),
                &settings.secret_key,
                settings.debug,
            )),
        })
    }
}

impl<S> Layer<S> for MessagesLayer {
    type Service = MessagesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MessagesService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// [`MessagesLayer`]'s service.
#[derive(Debug, Clone)]
pub struct MessagesService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> Service<Request<Body>> for MessagesService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = MessagesFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let config = &self.config;
        let has_session = cookies::find(request.headers(), &config.session_cookie).is_some();
        let (state, read_session) = State::new(
            Arc::clone(config),
            cookies::find(request.headers(), &config.cookie_name),
            has_session,
        );
        let shared = Arc::new(Shared(Mutex::new(state)));
        let session = Session::from_extensions(request.extensions());
        request.extensions_mut().insert(Arc::clone(&shared));
        let fut = CURRENT.scope(Arc::clone(&shared), self.inner.call(request));
        match session {
            Some(session) if read_session => MessagesFuture::Boxed {
                fut: Box::pin(async move {
                    let stored = session
                        .get::<serde_json::Value>(SESSION_KEY)
                        .await
                        .map_err(|e| {
                            tracing::error!(target: "manouche::messages", "the messages in the session could not be read: {e}");
                        });
                    shared.lock().read_session(stored);
                    let Ok(response) = fut.await;
                    finish(&shared, Some(session), response).await
                }),
            },
            session => MessagesFuture::View {
                fut,
                shared: Some(shared),
                session,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// [`MessagesService`]'s future: the view, then (only when it read or
    /// added messages) their update; boxed when the session is involved.
    #[project = Projected]
    pub enum MessagesFuture<F> {
        View {
            #[pin] fut: TaskLocalFuture<Arc<Shared>, F>,
            shared: Option<Arc<Shared>>,
            session: Option<Session>,
        },
        Boxed { fut: BoxFuture<'static, Response> },
    }
}

impl<F> Future for MessagesFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                Projected::View {
                    fut,
                    shared,
                    session,
                } => {
                    let Ok(mut response) = std::task::ready!(fut.poll(cx));
                    let shared = shared
                        .take()
                        .expect("MessagesFuture polled after completion");
                    let Some((plan, debug)) = plan(&shared) else {
                        return Poll::Ready(Ok(response));
                    };
                    let Some(write) = apply(plan, &mut response, debug) else {
                        return Poll::Ready(Ok(response));
                    };
                    let fut = Box::pin(write_session(session.take(), write, response));
                    self.set(Self::Boxed { fut });
                }
                Projected::Boxed { fut } => return fut.as_mut().poll(cx).map(Ok),
            }
        }
    }
}

/// What the response needs, unless the view left the messages alone;
/// with whether the project is in debug.
fn plan(shared: &Shared) -> Option<(Plan, bool)> {
    let mut state = shared.lock();
    if state.untouched() {
        return None;
    }
    Some((state.plan(), state.debug()))
}

/// Django's `process_response`, after a view whose stored messages came
/// from the session.
async fn finish(shared: &Shared, session: Option<Session>, mut response: Response) -> Response {
    let Some((plan, debug)) = plan(shared) else {
        return response;
    };
    match apply(plan, &mut response, debug) {
        Some(write) => write_session(session, write, response).await,
        None => response,
    }
}

/// Puts the plan's headers on the response (or, in debug, replaces it
/// with the error for messages stored nowhere); gives back the session
/// write left to do.
fn apply(plan: Plan, response: &mut Response, debug: bool) -> Option<SessionWrite> {
    if plan.vary {
        cookies::vary_on_cookie(response.headers_mut());
    }
    if let Some(cookie) = plan.cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    if let Some(detail) = plan.lost {
        if debug {
            *response = ErrorReport::new(StatusCode::INTERNAL_SERVER_ERROR, detail).into_response();
            return None;
        }
        tracing::warn!(target: "manouche::messages", "{detail}");
    }
    (plan.session != SessionWrite::Nothing).then_some(plan.session)
}

/// Writes the session's `_messages` before the sessions middleware saves it.
async fn write_session(
    session: Option<Session>,
    write: SessionWrite,
    response: Response,
) -> Response {
    let Some(session) = session else {
        // The app's ready hook refuses a session storage without the
        // sessions app; a request that reached the view without its
        // session (a layer of the project's in between) loses them.
        tracing::error!(target: "manouche::messages", "messages were to be stored in the session, but the request has none: they are lost");
        return response;
    };
    let outcome = match write {
        SessionWrite::Nothing => Ok(()),
        SessionWrite::Store(json) => session.insert(SESSION_KEY, json).await,
        SessionWrite::Remove => session
            .remove::<serde_json::Value>(SESSION_KEY)
            .await
            .map(drop),
    };
    match outcome {
        Ok(()) => response,
        Err(e) => {
            tracing::error!(target: "manouche::messages", "the messages could not be stored in the session: {e}");
            ErrorReport::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the messages could not be stored in the session: {e}"),
            )
            .into_response()
        }
    }
}
