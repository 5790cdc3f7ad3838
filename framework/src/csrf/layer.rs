//! The tower layer the project puts around every route: the per-request
//! token state, the check of unsafe requests, and the cookie on the way
//! out.
//!
//! A safe request costs a task-local and a reference count: its `Cookie`
//! header is kept (not parsed) in case the view asks for a token, and the
//! view runs at once. An unsafe request is checked on the future's first
//! poll, where the connection (TLS or not) is known; its body is read only
//! when the token is not in the header and the body is a form.

use std::cell::RefCell;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use http_body_util::combinators::Collect;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use super::ChecksOff;
use super::origin::{self, TrustedOrigins};
use super::token::{self, BadFormat, Secret};
use crate::error_pages::ErrorReport;
use crate::forms::{FormData, ParsedForm};
use crate::middleware::hosts::shorten;
use crate::settings::{Settings, SettingsError};
use crate::urls::UrlConf;
use crate::web::cookies::{self, CookieAttributes, SameSite};
use crate::web::form_body::FormKind;

/// Everything the check needs from the settings, computed once.
#[derive(Debug)]
pub(crate) struct Config {
    enabled: bool,
    cookie_name: String,
    cookie: CookieAttributes,
    /// `None`: a browser-session cookie.
    cookie_age: Option<Duration>,
    header: HeaderName,
    /// The header's name as the settings spell it, for messages.
    header_label: String,
    trusted: TrustedOrigins,
    body_limit: u64,
    urls: UrlConf,
}

impl Config {
    fn new(settings: &Settings, urls: UrlConf) -> Result<Self, SettingsError> {
        let csrf = &settings.csrf;
        let header = HeaderName::from_bytes(csrf.header_name.as_bytes()).map_err(|_| {
            SettingsError::Invalid {
                setting: "csrf.header_name",
                message: format!("{:?} is not an HTTP header name", csrf.header_name),
            }
        })?;
        let same_site =
            SameSite::parse(&csrf.cookie_samesite).map_err(|message| SettingsError::Invalid {
                setting: "csrf.cookie_samesite",
                message,
            })?;
        Ok(Self {
            enabled: csrf.enabled,
            cookie_name: csrf.cookie_name.clone(),
            cookie: CookieAttributes {
                domain: csrf.cookie_domain.clone(),
                path: csrf.cookie_path.clone(),
                secure: settings.csrf_cookie_secure(),
                http_only: csrf.cookie_httponly,
                same_site,
            },
            cookie_age: (csrf.cookie_age > 0).then(|| Duration::from_secs(csrf.cookie_age)),
            header,
            header_label: csrf.header_name.clone(),
            trusted: TrustedOrigins::new(&csrf.trusted_origins),
            body_limit: settings.server.body_limit,
            urls,
        })
    }
}

/// The layer (see the [module docs](self)).
#[derive(Debug, Clone)]
pub(crate) struct CsrfLayer {
    config: Arc<Config>,
}

impl CsrfLayer {
    /// The layer for a site with these settings and URLs.
    pub(crate) fn new(settings: &Settings, urls: UrlConf) -> Result<Self, SettingsError> {
        Ok(Self {
            config: Arc::new(Config::new(settings, urls)?),
        })
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service around one route.
#[derive(Debug, Clone)]
pub(crate) struct CsrfService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> Service<Request> for CsrfService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CsrfFuture<S, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let state = State::new(Arc::clone(&self.config), request.headers());
        if !self.needs_check(&request) {
            return CsrfFuture::Run {
                fut: STATE.scope(RefCell::new(state), self.inner.call(request)),
            };
        }
        // The ready service goes with the request; a clone stays.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        CsrfFuture::Check {
            request: Some(request),
            inner: Some(inner),
            state: Some(state),
        }
    }
}

impl<S> CsrfService<S> {
    /// Whether the request must pass the check: an unsafe method on a view
    /// that is not exempt, and no [`ChecksOff`].
    fn needs_check(&self, request: &Request) -> bool {
        self.config.enabled
            && !matches!(
                *request.method(),
                Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
            )
            && request.extensions().get::<ChecksOff>().is_none()
            // No view (a 404, a trailing-slash redirect): nothing to protect.
            && self.config.urls.csrf_exempt(request.uri().path()) == Some(false)
    }
}

tokio::task_local! {
    /// The CSRF state of the request being served.
    static STATE: RefCell<State>;
}

/// Calls `f` with the current request's CSRF state, if there is one.
pub(super) fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE.try_with(|state| f(&mut state.borrow_mut())).ok()
}

/// One request's secret: read from the cookie only when needed.
#[derive(Debug)]
pub(super) struct State {
    config: Arc<Config>,
    cookies: Cookies,
    secret: Known,
    /// Send the cookie with the response (Django's
    /// `CSRF_COOKIE_NEEDS_UPDATE`).
    needs_update: bool,
}

#[derive(Debug)]
enum Known {
    /// The cookie has not been read yet.
    Unread,
    /// The request has no usable cookie, and no secret was made yet.
    Nothing,
    /// The secret of this request (from its cookie, or made here).
    Secret(Secret),
}

/// The request's `Cookie` headers, kept unparsed: a reference count each.
#[derive(Debug)]
enum Cookies {
    None,
    One(HeaderValue),
    /// HTTP/2 sends each cookie in its own header field.
    Many(Vec<HeaderValue>),
}

/// What the request's cookie holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CookieSecret {
    Missing,
    Malformed(BadFormat),
    Valid(Secret),
}

impl State {
    fn new(config: Arc<Config>, headers: &HeaderMap) -> Self {
        let mut values = headers.get_all(header::COOKIE).iter();
        let cookies = match (values.next(), values.next()) {
            (None, _) => Cookies::None,
            (Some(one), None) => Cookies::One(one.clone()),
            (Some(first), Some(second)) => {
                let mut all = vec![first.clone(), second.clone()];
                all.extend(values.cloned());
                Cookies::Many(all)
            }
        };
        Self {
            config,
            cookies,
            secret: Known::Unread,
            needs_update: false,
        }
    }

    /// Django's `_get_secret`: the secret the cookie holds, unmasked.
    fn read_cookie(&self) -> CookieSecret {
        let name = &self.config.cookie_name;
        let value = match &self.cookies {
            Cookies::None => None,
            Cookies::One(value) => cookies::find_in([value], name),
            Cookies::Many(all) => cookies::find_in(all, name),
        };
        let Some(value) = value else {
            return CookieSecret::Missing;
        };
        match token::check_format(value.as_bytes(), value.chars().count()) {
            Ok(checked) => CookieSecret::Valid(checked.secret()),
            Err(why) => CookieSecret::Malformed(why),
        }
    }

    /// Django's `process_request`: a valid cookie's secret is the
    /// request's; a malformed cookie is replaced by a new secret.
    fn load(&mut self) -> CookieSecret {
        let cookie = self.read_cookie();
        self.secret = match cookie {
            CookieSecret::Valid(secret) => Known::Secret(secret),
            CookieSecret::Missing => Known::Nothing,
            CookieSecret::Malformed(_) => {
                self.needs_update = true;
                Known::Secret(token::new_secret())
            }
        };
        cookie
    }

    /// Django's `get_token`: the secret (made if there is none), masked;
    /// the response will carry the cookie.
    pub(super) fn token(&mut self) -> String {
        if matches!(self.secret, Known::Unread) {
            self.load();
        }
        let secret = match self.secret {
            Known::Secret(secret) => secret,
            Known::Unread | Known::Nothing => {
                let secret = token::new_secret();
                self.secret = Known::Secret(secret);
                secret
            }
        };
        self.needs_update = true;
        token::mask(&secret)
    }

    /// Django's `rotate_token`: a new secret, sent with the response.
    pub(super) fn rotate(&mut self) {
        self.secret = Known::Secret(token::new_secret());
        self.needs_update = true;
    }

    /// Adds the cookie (and `Vary: Cookie`) when the request used or
    /// changed its secret.
    fn finish(&self, response: &mut Response) {
        let Known::Secret(secret) = &self.secret else {
            return;
        };
        if !self.needs_update {
            return;
        }
        let config = &self.config;
        // Letters and digits: always a cookie value.
        let secret = std::str::from_utf8(secret).unwrap_or_default();
        let cookie = config
            .cookie
            .set(&config.cookie_name, secret, config.cookie_age);
        let headers = response.headers_mut();
        headers.append(header::SET_COOKIE, cookie);
        cookies::vary_on_cookie(headers);
    }
}

/// What the check decided, or what it still needs.
enum Step {
    Accept,
    Reject(String),
    /// The token may be in the form body.
    ReadForm(Pending),
}

/// A check waiting for the form body.
struct Pending {
    kind: FormKind,
    secret: Secret,
    /// An empty token header came with the request (Django then reports
    /// the header's token as too short when the form has none).
    empty_header: bool,
}

/// Where a token came from, for messages.
enum Source<'a> {
    Post,
    Header(&'a str),
}

/// Django's `process_view`, for a request that needs the check.
fn check(request: &Request, state: &mut State, secure: bool) -> Step {
    let cookie = state.load();
    let config = Arc::clone(&state.config);
    let headers = request.headers();
    let site = origin::Site {
        host: request_host(request),
        secure,
        cookie_domain: config.cookie.domain.as_deref(),
    };
    if let Some(value) = headers.get(header::ORIGIN) {
        let value = origin::latin1(value.as_bytes());
        if !origin::origin_verified(&value, site, &config.trusted) {
            return Step::Reject(format!(
                "Origin checking failed - {} does not match any trusted origins.",
                shorten(&value)
            ));
        }
    } else if secure {
        let referer = headers
            .get(header::REFERER)
            .map(|v| origin::latin1(v.as_bytes()));
        if let Err(reason) = origin::check_referer(referer.as_deref(), site, &config.trusted) {
            return Step::Reject(reason);
        }
    }
    let secret = match cookie {
        CookieSecret::Valid(secret) => secret,
        CookieSecret::Missing => return Step::Reject("CSRF cookie not set.".into()),
        CookieSecret::Malformed(why) => {
            return Step::Reject(format!("CSRF cookie {}.", why.phrase()));
        }
    };
    let header = headers.get(&config.header);
    if let Some(value) = header
        && !value.is_empty()
    {
        let chars = origin::latin1(value.as_bytes()).chars().count();
        return compare(
            value.as_bytes(),
            chars,
            &secret,
            Source::Header(&config.header_label),
        )
        .into();
    }
    // The header is absent or empty: the form field, as Django reads it
    // (POST only).
    if *request.method() == Method::POST
        && let Some(kind) = FormKind::of(headers)
    {
        return Step::ReadForm(Pending {
            kind,
            secret,
            empty_header: header.is_some(),
        });
    }
    if header.is_some() {
        return compare(b"", 0, &secret, Source::Header(&config.header_label)).into();
    }
    Step::Reject("CSRF token missing.".into())
}

impl From<Result<(), String>> for Step {
    fn from(outcome: Result<(), String>) -> Self {
        match outcome {
            Ok(()) => Self::Accept,
            Err(reason) => Self::Reject(reason),
        }
    }
}

impl Pending {
    /// The rest of the check, with the body read: `Err` with the reason.
    fn finish(&self, body: &[u8], header_label: &str) -> Result<(), String> {
        self.finish_with(
            FormKind::urlencoded_field(body, super::FIELD_NAME),
            header_label,
        )
    }

    /// The rest of the check, with the token field's value if any.
    fn finish_with(&self, field: Option<String>, header_label: &str) -> Result<(), String> {
        match field {
            Some(field) if !field.is_empty() => compare(
                field.as_bytes(),
                field.chars().count(),
                &self.secret,
                Source::Post,
            ),
            _ if self.empty_header => compare(b"", 0, &self.secret, Source::Header(header_label)),
            _ => Err("CSRF token missing.".into()),
        }
    }
}

/// Django's `_check_token` once the token is found: `Err` with the reason.
fn compare(token: &[u8], chars: usize, secret: &Secret, source: Source<'_>) -> Result<(), String> {
    let outcome = match token::check_format(token, chars) {
        Ok(checked) if token::matches(checked, secret) => return Ok(()),
        Ok(_) => "incorrect",
        Err(why) => why.phrase(),
    };
    let from = match source {
        Source::Post => "POST".to_owned(),
        Source::Header(name) => format!("the '{name}' HTTP header"),
    };
    Err(format!("CSRF token from {from} {outcome}."))
}

/// The host the request names (it passed the host check): the request
/// target's authority, else the `Host` header.
fn request_host(request: &Request) -> Option<&str> {
    match request.uri().authority() {
        Some(authority) => Some(authority.as_str()),
        None => request.headers().get(header::HOST)?.to_str().ok(),
    }
}

/// The 403, logged as Django logs it.
fn reject(reason: &str, path: &str) -> Response {
    let request_id = crate::request::with_context(|c| c.request_id.to_string()).unwrap_or_default();
    crate::request::throttled_warning("csrf", |source| {
        tracing::warn!(
            target: "manouche::security",
            request_id = %request_id,
            client = %source,
            "Forbidden ({reason}): {}",
            shorten(path)
        );
    });
    ErrorReport::new(
        StatusCode::FORBIDDEN,
        format!(
            "CSRF verification failed. Request aborted.\n\nReason given for failure: {reason}\n\n\
             A form that posts here needs {{{{ manouche::csrf::input() }}}} inside its <form>; \
             JavaScript sends the token (manouche::csrf::token(), or the csrftoken cookie) in the \
             request header named by csrf.header_name. The browser must accept the CSRF cookie, \
             and a page from another origin needs csrf.trusted_origins. \
             A view that must take requests from other sites is exempted with manouche::csrf::exempt."
        ),
    )
    .into_response()
}

pin_project_lite::pin_project! {
    /// The future of [`CsrfService`]: the check of an unsafe request (its
    /// body read if the token may be there), then the view with the
    /// request's CSRF state in scope, then the cookie.
    #[project = Projected]
    pub(crate) enum CsrfFuture<S, F> {
        Check {
            request: Option<Request>,
            inner: Option<S>,
            state: Option<State>,
        },
        Read {
            #[pin]
            body: Collect<Body>,
            parts: Option<Parts>,
            inner: Option<S>,
            state: Option<State>,
            pending: Option<Pending>,
        },
        // A multipart body is parsed as it streams (files to temporary
        // files) and the parsed form handed to the view.
        ReadMultipart {
            form: Pin<Box<dyn Future<Output = Result<FormData, crate::Error>> + Send>>,
            parts: Option<Parts>,
            inner: Option<S>,
            state: Option<State>,
            pending: Option<Pending>,
        },
        Run {
            #[pin]
            fut: TaskLocalFuture<RefCell<State>, F>,
        },
        Done {
            response: Option<Response>,
        },
    }
}

impl<S> CsrfFuture<S, S::Future>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    fn run(mut inner: S, request: Request, state: State) -> Self {
        Self::Run {
            fut: STATE.scope(RefCell::new(state), inner.call(request)),
        }
    }

    fn rejected(reason: &str, path: &str, state: &State) -> Self {
        let mut response = reject(reason, path);
        state.finish(&mut response);
        Self::Done {
            response: Some(response),
        }
    }
}

const POLLED_AFTER_COMPLETION: &str = "CsrfFuture polled after completion";

impl<S> Future for CsrfFuture<S, S::Future>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project() {
                Projected::Check {
                    request,
                    inner,
                    state,
                } => {
                    let request = request.take().expect(POLLED_AFTER_COMPLETION);
                    let inner = inner.take().expect(POLLED_AFTER_COMPLETION);
                    let mut state = state.take().expect(POLLED_AFTER_COMPLETION);
                    // Polled inside the pipeline's request scope, which
                    // knows the connection.
                    let secure = crate::request::with_context(|c| c.client.secure).unwrap_or(false);
                    match check(&request, &mut state, secure) {
                        Step::Accept => Self::run(inner, request, state),
                        Step::Reject(reason) => {
                            Self::rejected(&reason, request.uri().path(), &state)
                        }
                        Step::ReadForm(pending) => {
                            let (parts, body) = request.into_parts();
                            if let FormKind::Multipart { boundary } = &pending.kind {
                                let boundary = boundary.clone();
                                Self::ReadMultipart {
                                    form: Box::pin(async move {
                                        FormData::read_multipart(body, &boundary).await
                                    }),
                                    parts: Some(parts),
                                    inner: Some(inner),
                                    state: Some(state),
                                    pending: Some(pending),
                                }
                            } else {
                                Self::Read {
                                    body: body.collect(),
                                    parts: Some(parts),
                                    inner: Some(inner),
                                    state: Some(state),
                                    pending: Some(pending),
                                }
                            }
                        }
                    }
                }
                Projected::ReadMultipart {
                    form,
                    parts,
                    inner,
                    state,
                    pending,
                } => {
                    let parsed = std::task::ready!(form.as_mut().poll(cx));
                    let mut parts = parts.take().expect(POLLED_AFTER_COMPLETION);
                    let inner = inner.take().expect(POLLED_AFTER_COMPLETION);
                    let state = state.take().expect(POLLED_AFTER_COMPLETION);
                    let pending = pending.take().expect(POLLED_AFTER_COMPLETION);
                    match parsed {
                        Ok(data) => {
                            let token = data.get(super::FIELD_NAME).map(str::to_owned);
                            let outcome = pending.finish_with(token, &state.config.header_label);
                            // The view reads the parsed form; the body is
                            // spent (as Django's request.body after
                            // request.POST on a multipart request).
                            parts.extensions.insert(ParsedForm(data));
                            let request = Request::from_parts(parts, Body::empty());
                            match outcome {
                                Ok(()) => Self::run(inner, request, state),
                                Err(reason) => {
                                    Self::rejected(&reason, request.uri().path(), &state)
                                }
                            }
                        }
                        Err(error) => {
                            let mut response = error.into_response();
                            state.finish(&mut response);
                            Self::Done {
                                response: Some(response),
                            }
                        }
                    }
                }
                Projected::Read {
                    body,
                    parts,
                    inner,
                    state,
                    pending,
                } => {
                    let collected = std::task::ready!(body.poll(cx));
                    let parts = parts.take().expect(POLLED_AFTER_COMPLETION);
                    let inner = inner.take().expect(POLLED_AFTER_COMPLETION);
                    let state = state.take().expect(POLLED_AFTER_COMPLETION);
                    let pending = pending.take().expect(POLLED_AFTER_COMPLETION);
                    match collected {
                        Ok(collected) => {
                            let bytes = collected.to_bytes();
                            let outcome = pending.finish(&bytes, &state.config.header_label);
                            // The view reads the same bytes.
                            let request = Request::from_parts(parts, Body::from(bytes));
                            match outcome {
                                Ok(()) => Self::run(inner, request, state),
                                Err(reason) => {
                                    Self::rejected(&reason, request.uri().path(), &state)
                                }
                            }
                        }
                        Err(err) => {
                            let mut response = unreadable_body(err, state.config.body_limit);
                            state.finish(&mut response);
                            Self::Done {
                                response: Some(response),
                            }
                        }
                    }
                }
                Projected::Run { mut fut } => {
                    let outcome = std::task::ready!(fut.as_mut().poll(cx));
                    let mut response = match outcome {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    if let Some(state) = fut.take_value() {
                        state.into_inner().finish(&mut response);
                    }
                    return Poll::Ready(Ok(response));
                }
                Projected::Done { response } => {
                    return Poll::Ready(Ok(response.take().expect(POLLED_AFTER_COMPLETION)));
                }
            };
            self.set(next);
        }
    }
}

/// 413 for a body over the limit (as the view's extractor would answer),
/// 400 for one that could not be read.
fn unreadable_body(err: axum::Error, limit: u64) -> Response {
    let err = err.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return ErrorReport::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than server.body_limit ({limit} bytes)"),
            )
            .into_response();
        }
        source = e.source();
    }
    ErrorReport::new(
        StatusCode::BAD_REQUEST,
        format!("the request body could not be read: {err}"),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urls::Urls;

    const SECRET: &str = "lcccccccX2kcccccccY2jcccccccssIC";
    /// Two masked forms of `SECRET` (Django's csrf_tests).
    const MASKED_1: &str = "1bcdefghij2bcdefghij3bcdefghij4bcdefghij5bcdefghij6bcdefghijABCD";
    const MASKED_2: &str = "2JgchWvM1tpxT2lfz9aydoXW9yT1DN3NdLiejYxOOlzzV4nhBbYqmqZYbAV3V5Bf";

    fn config(edit: impl FnOnce(&mut Settings)) -> Arc<Config> {
        let mut settings = Settings::default();
        edit(&mut settings);
        settings.validate().unwrap();
        let urls = Urls::new().compile().unwrap().conf;
        Arc::clone(&CsrfLayer::new(&settings, urls).unwrap().config)
    }

    fn post(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::post("/submit/").header("host", "www.example.com");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    /// The check's verdict: `None` to accept, else the reason.
    fn verdict(config: &Arc<Config>, request: &Request, secure: bool) -> Option<String> {
        let mut state = State::new(Arc::clone(config), request.headers());
        match check(request, &mut state, secure) {
            Step::Accept => None,
            Step::Reject(reason) => Some(reason),
            Step::ReadForm(_) => Some("<reads the form>".into()),
        }
    }

    const COOKIE: (&str, &str) = ("cookie", "csrftoken=lcccccccX2kcccccccY2jcccccccssIC");
    const TOKEN: (&str, &str) = ("x-csrftoken", MASKED_2);

    #[test]
    fn https_requests_without_origin_need_a_good_referer() {
        let c = config(|_| {});
        assert_eq!(
            verdict(&c, &post(&[COOKIE, TOKEN]), true).as_deref(),
            Some("Referer checking failed - no Referer.")
        );
        assert_eq!(
            verdict(&c, &post(&[COOKIE, TOKEN]), false),
            None,
            "plain HTTP: no Referer needed"
        );
        let good = ("referer", "https://www.example.com/form/");
        assert_eq!(verdict(&c, &post(&[COOKIE, TOKEN, good]), true), None);
        assert_eq!(
            verdict(
                &c,
                &post(&[COOKIE, TOKEN, ("referer", "http://www.example.com/form/")]),
                true
            )
            .as_deref(),
            Some("Referer checking failed - Referer is insecure while host is secure.")
        );
        assert_eq!(
            verdict(
                &c,
                &post(&[COOKIE, TOKEN, ("referer", "https://www.evil.org/somepage")]),
                true
            )
            .as_deref(),
            Some(
                "Referer checking failed - https://www.evil.org/somepage does not match any trusted origins."
            )
        );
        // With Origin, the Referer is not looked at.
        assert_eq!(
            verdict(
                &c,
                &post(&[COOKIE, TOKEN, ("origin", "https://www.example.com")]),
                true
            ),
            None
        );
        // Over HTTPS, the http origin of the same host is another origin.
        assert_eq!(
            verdict(
                &c,
                &post(&[COOKIE, TOKEN, ("origin", "http://www.example.com")]),
                true
            )
            .as_deref(),
            Some(
                "Origin checking failed - http://www.example.com does not match any trusted origins."
            )
        );
        // A referer under the cookie's domain, or from a trusted origin.
        let c = config(|s| s.csrf.cookie_domain = Some(".example.com".into()));
        let sub = ("referer", "https://foo.example.com/");
        assert_eq!(verdict(&c, &post(&[COOKIE, TOKEN, sub]), true), None);
        let c = config(|s| s.csrf.trusted_origins = vec!["https://*.example.org".into()]);
        let trusted = ("referer", "https://app.example.org/page");
        assert_eq!(verdict(&c, &post(&[COOKIE, TOKEN, trusted]), true), None);
    }

    #[test]
    fn the_origin_is_checked_before_the_cookie() {
        let c = config(|_| {});
        assert_eq!(
            verdict(&c, &post(&[("origin", "https://evil.example")]), false).as_deref(),
            Some(
                "Origin checking failed - https://evil.example does not match any trusted origins."
            )
        );
        assert_eq!(
            verdict(&c, &post(&[]), false).as_deref(),
            Some("CSRF cookie not set.")
        );
    }

    #[test]
    fn every_combination_of_masked_and_bare_cookies_and_tokens_passes() {
        // Django's test_masked_unmasked_combinations (header side; the
        // form side is in tests/csrf.rs).
        let c = config(|_| {});
        for cookie in [SECRET, MASKED_1] {
            for token in [SECRET, MASKED_2] {
                let cookie = format!("csrftoken={cookie}");
                let request = post(&[("cookie", &cookie), ("x-csrftoken", token)]);
                assert_eq!(verdict(&c, &request, false), None, "{cookie} / {token}");
            }
        }
    }

    #[test]
    fn bad_cookies_and_tokens_get_djangos_reasons() {
        let c = config(|_| {});
        for (cookie, reason) in [
            (
                "csrftoken=aaaaaaaaaaaaaaaa",
                "CSRF cookie has incorrect length.",
            ),
            (
                &*format!("csrftoken={}", "*".repeat(64)),
                "CSRF cookie has invalid characters.",
            ),
        ] {
            assert_eq!(
                verdict(&c, &post(&[("cookie", cookie), TOKEN]), false).as_deref(),
                Some(reason)
            );
        }
        for (token, reason) in [
            (
                "a".repeat(16),
                "CSRF token from the 'X-CSRFToken' HTTP header has incorrect length.",
            ),
            (
                "*".repeat(64),
                "CSRF token from the 'X-CSRFToken' HTTP header has invalid characters.",
            ),
            (
                "a".repeat(64),
                "CSRF token from the 'X-CSRFToken' HTTP header incorrect.",
            ),
            (
                String::new(),
                "CSRF token from the 'X-CSRFToken' HTTP header has incorrect length.",
            ),
        ] {
            let request = post(&[COOKIE, ("x-csrftoken", &token)]);
            assert_eq!(
                verdict(&c, &request, false).as_deref(),
                Some(reason),
                "{token:?}"
            );
        }
        assert_eq!(
            verdict(&c, &post(&[COOKIE]), false).as_deref(),
            Some("CSRF token missing.")
        );
        // A form body may hold the token: read it (POST only, as Django).
        let form = ("content-type", "application/x-www-form-urlencoded");
        assert_eq!(
            verdict(&c, &post(&[COOKIE, form]), false).as_deref(),
            Some("<reads the form>")
        );
        let mut put = post(&[COOKIE, form]);
        *put.method_mut() = Method::PUT;
        assert_eq!(
            verdict(&c, &put, false).as_deref(),
            Some("CSRF token missing.")
        );
        // The header's name as the settings spell it.
        let c = config(|s| s.csrf.header_name = "X-CSRFToken-Customized".into());
        let request = post(&[COOKIE, ("x-csrftoken-customized", "a")]);
        assert_eq!(
            verdict(&c, &request, false).as_deref(),
            Some("CSRF token from the 'X-CSRFToken-Customized' HTTP header has incorrect length.")
        );
        assert_eq!(
            verdict(
                &c,
                &post(&[COOKIE, ("x-csrftoken-customized", MASKED_2)]),
                false
            ),
            None
        );
    }

    #[test]
    fn the_form_field_is_compared_once_read() {
        let pending = |empty_header| Pending {
            kind: FormKind::UrlEncoded,
            secret: SECRET.as_bytes().try_into().unwrap(),
            empty_header,
        };
        let body = format!("a=1&csrfmiddlewaretoken={MASKED_2}");
        assert_eq!(
            pending(false).finish(body.as_bytes(), "X-CSRFToken"),
            Ok(())
        );
        assert_eq!(
            pending(false).finish(
                format!("csrfmiddlewaretoken={SECRET}").as_bytes(),
                "X-CSRFToken"
            ),
            Ok(())
        );
        assert_eq!(
            pending(false).finish(b"csrfmiddlewaretoken=aaaaaaaaaaaaaaaa", "X-CSRFToken"),
            Err("CSRF token from POST has incorrect length.".into())
        );
        assert_eq!(
            pending(false).finish(
                format!("csrfmiddlewaretoken={}", "*".repeat(64)).as_bytes(),
                "X-CSRFToken"
            ),
            Err("CSRF token from POST has invalid characters.".into())
        );
        assert_eq!(
            pending(false).finish(
                format!("csrfmiddlewaretoken={}", "a".repeat(64)).as_bytes(),
                "X-CSRFToken"
            ),
            Err("CSRF token from POST incorrect.".into())
        );
        assert_eq!(
            pending(false).finish(b"a=1", "X-CSRFToken"),
            Err("CSRF token missing.".into())
        );
        assert_eq!(
            pending(true).finish(b"csrfmiddlewaretoken=", "X-CSRFToken"),
            Err("CSRF token from the 'X-CSRFToken' HTTP header has incorrect length.".into())
        );
    }

    #[test]
    fn the_cookie_is_read_only_when_a_token_is_asked_for() {
        let c = config(|_| {});
        let request = post(&[COOKIE]);
        let mut state = State::new(Arc::clone(&c), request.headers());
        assert!(matches!(state.secret, Known::Unread));
        let mut response = Response::new(Body::empty());
        state.finish(&mut response);
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        let token = state.token();
        let checked = token::check_format(token.as_bytes(), token.len()).unwrap();
        assert_eq!(checked.secret(), *SECRET.as_bytes());
        state.finish(&mut response);
        let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            cookie.starts_with(&format!("csrftoken={SECRET}; expires=")),
            "{cookie}"
        );
        assert!(
            cookie.ends_with("; Max-Age=31449600; Path=/; Secure; SameSite=Lax"),
            "{cookie}"
        );
        assert_eq!(response.headers()[header::VARY], "Cookie");
    }

    #[test]
    fn malformed_and_legacy_masked_cookies() {
        let c = config(|_| {});
        // Malformed: a new secret, sent back.
        let request = post(&[("cookie", &format!("csrftoken={}", "x".repeat(100_000)))]);
        let mut state = State::new(Arc::clone(&c), request.headers());
        let token = state.token();
        let Known::Secret(secret) = state.secret else {
            panic!("no secret")
        };
        assert!(token::matches(
            token::check_format(token.as_bytes(), 64).unwrap(),
            &secret
        ));
        assert!(state.needs_update);
        // Masked (Django before 4.0): the secret is the unmasked value.
        let request = post(&[("cookie", &format!("csrftoken={MASKED_1}"))]);
        let mut state = State::new(Arc::clone(&c), request.headers());
        let _ = state.token();
        assert!(matches!(state.secret, Known::Secret(s) if s == *SECRET.as_bytes()));
        // Several Cookie fields (HTTP/2): the last value wins.
        let mut request = post(&[("cookie", "csrftoken=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]);
        request
            .headers_mut()
            .append(header::COOKIE, HeaderValue::from_static("other=1"));
        request.headers_mut().append(
            header::COOKIE,
            HeaderValue::from_str(&format!("csrftoken={SECRET}")).unwrap(),
        );
        let state = State::new(Arc::clone(&c), request.headers());
        assert_eq!(
            state.read_cookie(),
            CookieSecret::Valid(SECRET.as_bytes().try_into().unwrap())
        );
    }

    #[test]
    fn cookie_attributes_follow_the_settings() {
        let c = config(|s| {
            s.csrf.cookie_name = "csrfcookie".into();
            s.csrf.cookie_domain = Some(".example.com".into());
            s.csrf.cookie_age = 123;
            s.csrf.cookie_path = "/test/".into();
            s.csrf.cookie_secure = Some(false);
            s.csrf.cookie_httponly = true;
            s.csrf.cookie_samesite = "strict".into();
        });
        let mut state = State::new(Arc::clone(&c), &HeaderMap::new());
        state.rotate();
        let mut response = Response::new(Body::empty());
        state.finish(&mut response);
        let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("csrfcookie="), "{cookie}");
        assert!(
            cookie.ends_with(
                "; Max-Age=123; Domain=.example.com; Path=/test/; HttpOnly; SameSite=Strict"
            ),
            "{cookie}"
        );
        // Age 0: a browser-session cookie.
        let c = config(|s| s.csrf.cookie_age = 0);
        let mut state = State::new(c, &HeaderMap::new());
        state.rotate();
        let mut response = Response::new(Body::empty());
        state.finish(&mut response);
        let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            !cookie.contains("Max-Age") && !cookie.contains("expires"),
            "{cookie}"
        );
    }
}
