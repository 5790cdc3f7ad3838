//! Cross-site request forgery protection (Django's `CsrfViewMiddleware`),
//! on for every project.
//!
//! Every request with an unsafe method (anything but GET, HEAD, OPTIONS and
//! TRACE) must prove that it comes from the site's own pages: it carries
//! the token that the page got from [`token`] or [`input`], and that token
//! must match the secret in the visitor's `csrftoken` cookie. A request
//! that fails gets 403 through the project's error pages (the reason shows
//! when `debug` is on) and a warning at target `manouche::security`.
//!
//! ```
//! use manouche::prelude::*;
//!
//! #[derive(Template, TemplateResponse)]
//! #[template(
//!     source = r#"<form method="post">{{ manouche::csrf::input() }}<button>Vote</button></form>"#,
//!     ext = "html"
//! )]
//! struct VotePage;
//!
//! async fn vote_page() -> VotePage { VotePage }
//! async fn vote(Form(_fields): Form<Vec<(String, String)>>) -> &'static str { "thanks" }
//! async fn webhook(body: Bytes) -> String { format!("{} bytes", body.len()) }
//!
//! let urls = Urls::new()
//!     .path("vote/", get(vote_page).post(vote), "vote")
//!     // Called by another site's server, with its own signature check.
//!     .path("hooks/payment/", manouche::csrf::exempt(post(webhook)), "payment-hook");
//! # let _ = Project::new(Settings::default()).urls(urls).build().unwrap();
//! ```
//!
//! **The token.** The secret is 32 letters and digits in the cookie
//! `csrftoken`. Pages get it *masked*, differently each time ([`token`],
//! [`input`], the [`CsrfToken`] extractor), so that a compressed page does
//! not leak it (BREACH); cookies and tokens are Django's, so a Django site
//! and a Manouche one on the same domain accept each other's. Asking for a
//! token makes the response (re)send the cookie; a response to a request
//! that never asked sets no cookie, so pages without forms stay cacheable.
//! [`rotate`] gives the visitor a new secret (the login view calls it).
//!
//! **Where the token comes from.** The header `X-CSRFToken`
//! (`csrf.header_name`), else, for a POST whose body is
//! `application/x-www-form-urlencoded` or `multipart/form-data`, the form
//! field `csrfmiddlewaretoken`; the body is then read (it is capped by
//! `server.body_limit`). A URL-encoded body is handed to the view
//! unchanged. A multipart body is parsed as it streams, files going to
//! temporary files past `media.file_upload_max_memory_size`, and the view
//! reads the parsed form through [`FormData`](crate::forms::FormData) or
//! [`BoundForm`](crate::forms::BoundForm); its raw bytes are spent then, as
//! Django's `request.body` after `request.POST`. The masked 64-character
//! token and the bare 32-character secret are both accepted.
//!
//! **Where the request comes from.** A request with an `Origin` header must
//! come from the site's own origin (scheme, host and port) or from one of
//! `csrf.trusted_origins` (`https://example.com`, or
//! `https://*.example.com` for its subdomains). An HTTPS request without
//! `Origin` must have a `Referer` on an `https` page of this host, of a
//! trusted origin, or under `csrf.cookie_domain`.
//!
//! **Exemption.** Wrap a route's view in [`exempt`] where it is declared
//! (`csrf::exempt(post(webhook))`), or a whole router given to
//! [`Urls::mount`](crate::urls::Urls::mount). The URL table records the
//! exemption with the route, so it holds wherever the list is included and
//! whatever its namespace; the check looks up the request's path in that
//! table (a request that matches no route is not checked: it gets its 404,
//! as in Django, where URL resolution comes first). A view that is exempt
//! can still use [`token`]. A tower layer that authenticates requests in
//! another way (an API key) can turn the check off for the requests it
//! vouches for by inserting [`ChecksOff`] in their extensions.
//!
//! **Where it runs.** The project wraps every route in this check, inside
//! the apps' and the project's own layers (so a layer may insert
//! [`ChecksOff`]). A safe request costs no allocation and no cookie parsing
//! unless its view asks for a token.
//!
//! **Differences from Django.** The header is looked at before the form
//! field (so a request with the header needs no body read); Django reads
//! the field first, which matters only when both are sent and differ. A
//! malformed cookie is replaced when the request asks for a token or is
//! checked, not on every request. There is no `CSRF_USE_SESSIONS`, no
//! `CSRF_FAILURE_VIEW` (replace the 403 page with
//! [`Project::error_page`](crate::Project::error_page)), and a request is
//! HTTPS when its connection is TLS (there is no proxy header setting).
//!
//! **Settings** (`[csrf]`, see [`CsrfSettings`](crate::settings::CsrfSettings)):
//!
//! ```toml
//! [csrf]
//! enabled = true                  # off: tokens still work, nothing is checked
//! cookie_name = "csrftoken"
//! cookie_age = 31449600           # seconds; 0 for a browser-session cookie
//! # cookie_domain = ".example.com"
//! cookie_path = "/"
//! # cookie_secure = true          # unset: secure unless debug
//! cookie_httponly = false
//! cookie_samesite = "Lax"
//! header_name = "X-CSRFToken"
//! trusted_origins = ["https://*.example.com"]
//! ```

pub(crate) mod layer;
mod origin;
mod token;

use std::fmt;

use axum::extract::FromRequestParts;
use axum::routing::MethodRouter;
use http::request::Parts;

use crate::urls::{Mount, View};

pub(crate) use layer::CsrfLayer;
pub(crate) use origin::TrustedOrigins;

/// Whether a request's `Origin` is one of the site's: its own origin
/// (scheme, host and port), a host of `allowed_hosts` (any scheme or port,
/// as Channels' `AllowedHostsOriginValidator`), or one of
/// `csrf.trusted_origins`. The CSRF check uses the same rules for unsafe
/// requests; the websocket handshake of
/// [`contrib::channels`](crate::contrib::channels) uses this (a browser
/// sends `Origin` on every websocket handshake, and the same-origin policy
/// does not apply to websockets, so that is the only defence against
/// cross-site websocket hijacking).
///
/// ```
/// use manouche::csrf::OriginCheck;
/// use manouche::Settings;
///
/// let mut settings = Settings::default();
/// settings.allowed_hosts = vec!["example.com".into()];
/// let check = OriginCheck::new(&settings);
/// assert!(check.check("https://example.com", Some("example.com"), true).is_ok());
/// assert!(check.check("http://example.com:8080", Some("example.com"), true).is_ok());
/// assert!(check.check("https://evil.example", Some("example.com"), true).is_err());
/// assert!(check.check("null", Some("example.com"), true).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct OriginCheck {
    allowed_hosts: crate::middleware::hosts::AllowedHosts,
    trusted: TrustedOrigins,
}

impl OriginCheck {
    /// The check for a site with these settings (`allowed_hosts`, `debug`,
    /// `csrf.trusted_origins`).
    #[must_use]
    pub fn new(settings: &crate::Settings) -> Self {
        Self {
            allowed_hosts: crate::middleware::hosts::AllowedHosts::new(
                &settings.allowed_hosts,
                settings.debug,
            ),
            trusted: TrustedOrigins::new(&settings.csrf.trusted_origins),
        }
    }

    /// `Ok` when `origin` (the header's value) is one of the site's, for a
    /// request to `host` (its `Host`, which passed the host check) over
    /// TLS or not; else the reason, for the log.
    ///
    /// # Errors
    /// The origin is not the site's.
    pub fn check(&self, origin: &str, host: Option<&str>, secure: bool) -> Result<(), String> {
        let site = origin::Site {
            host,
            secure,
            cookie_domain: None,
        };
        if origin::origin_verified(origin, site, &self.trusted) {
            return Ok(());
        }
        if let Ok(url) = origin::split_url(origin)
            && matches!(url.scheme.as_str(), "http" | "https")
            && !url.netloc.contains('@')
            && self.allowed_hosts.allows(&url.netloc)
        {
            return Ok(());
        }
        Err(format!(
            "Origin {} is neither this site's, an allowed host, nor in csrf.trusted_origins",
            crate::middleware::hosts::shorten(origin)
        ))
    }
}

/// The form field that carries the token (Django's name, so that forms
/// move between the two unchanged).
pub const FIELD_NAME: &str = "csrfmiddlewaretoken";

/// The masked token of the current request, for a form or a script: 64
/// letters and digits, different at each call, each matching the
/// visitor's secret. The response will (re)send the `csrftoken` cookie.
///
/// In an askama template: `{{ manouche::csrf::token() }}`. Outside a
/// request served by a project (a spawned task, a unit test) there is no
/// token: this returns an empty string and logs a warning, as Django's
/// `{% csrf_token %}` renders nothing without one.
#[must_use]
pub fn token() -> String {
    layer::with_state(layer::State::token).unwrap_or_else(|| {
        outside("manouche::csrf::token()");
        String::new()
    })
}

/// The hidden form field with the current request's token:
/// `<input type="hidden" name="csrfmiddlewaretoken" value="…">` (Django's
/// `{% csrf_token %}`). It is HTML that askama does not escape, so a
/// template writes `{{ manouche::csrf::input() }}` inside each `<form
/// method="post">`. Empty outside a request (see [`token`]).
#[must_use]
pub fn input() -> CsrfInput {
    CsrfInput(token())
}

/// Gives the visitor a new secret, sent with this response (Django's
/// `rotate_token`): tokens from pages served before stop working. The
/// login view calls it, so that a token planted before login is useless
/// after it.
pub fn rotate() {
    if layer::with_state(layer::State::rotate).is_none() {
        outside("manouche::csrf::rotate()");
    }
}

fn outside(what: &str) {
    tracing::warn!(
        target: "manouche::security",
        "{what} was called outside a request served by a Manouche project (a spawned task or a test?): there is no CSRF token here"
    );
}

/// The hidden input that [`input`] returns: displays as HTML, unescaped by
/// askama.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfInput(String);

impl fmt::Display for CsrfInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        // The token is letters and digits only: nothing to escape.
        write!(
            f,
            r#"<input type="hidden" name="{FIELD_NAME}" value="{}">"#,
            self.0
        )
    }
}

impl askama::filters::HtmlSafe for CsrfInput {}

/// The current request's token as an extractor, for views that hand it
/// to JavaScript (a single-page app sends it back in the `X-CSRFToken`
/// header). Taking it makes the response (re)send the cookie.
///
/// ```
/// use manouche::csrf::CsrfToken;
/// use manouche::prelude::*;
///
/// async fn session_info(token: CsrfToken) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "csrfToken": token.as_str() }))
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The masked token.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The masked token, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for CsrfToken {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = crate::Error;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        layer::with_state(layer::State::token)
            .map(Self)
            .ok_or_else(|| {
                crate::Error::improperly_configured(
                    "no CSRF token here: the CsrfToken extractor works in views served through a `Project` (server or test client)",
                )
            })
    }
}

/// Skips the check for one request, when present in its extensions:
/// Django's test-client switch (`enforce_csrf_checks=False`), and the way
/// for a layer that authenticates a request by other means (an API key, a
/// signature) to vouch for it. Tokens still work.
///
/// ```
/// use manouche::csrf::ChecksOff;
///
/// let mut request = http::Request::post("/api/items/").body(()).unwrap();
/// request.extensions_mut().insert(ChecksOff);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksOff;

/// Exempts a view, or a mounted router, from the check (Django's
/// `@csrf_exempt`): for endpoints that other sites' servers call (webhooks)
/// or that authenticate every request themselves (token APIs). Declared
/// where the route is:
///
/// ```
/// use manouche::prelude::*;
/// use manouche::csrf;
///
/// async fn hook(body: Bytes) -> StatusCode { StatusCode::NO_CONTENT }
///
/// let api = axum::Router::new().route("/items", post(|| async { "created" }));
/// let urls = Urls::namespaced("payments")
///     .path("hook/", csrf::exempt(post(hook)), "hook")
///     .mount("api/", csrf::exempt(api));
/// # let _ = Urls::new().include("pay/", urls).compile().unwrap();
/// ```
///
/// The exemption travels with the route through
/// [`Urls::include`](crate::urls::Urls::include) and namespaces.
pub fn exempt<T: Exemptible>(target: T) -> T::Exempt {
    target.exempt()
}

/// What [`exempt`] takes: a route's view (an axum `MethodRouter`, or a
/// [`View`]) or a router for [`Urls::mount`](crate::urls::Urls::mount)
/// (an axum `Router`, or a [`Mount`]).
pub trait Exemptible {
    /// The exempt version, for [`Urls`](crate::urls::Urls).
    type Exempt;

    /// The same target, exempt from the check.
    fn exempt(self) -> Self::Exempt;
}

impl Exemptible for MethodRouter {
    type Exempt = View;

    fn exempt(self) -> View {
        View::from(self).csrf_exempt()
    }
}

impl Exemptible for View {
    type Exempt = View;

    fn exempt(self) -> View {
        self.csrf_exempt()
    }
}

impl Exemptible for axum::Router {
    type Exempt = Mount;

    fn exempt(self) -> Mount {
        Mount::from(self).csrf_exempt()
    }
}

impl Exemptible for Mount {
    type Exempt = Mount;

    fn exempt(self) -> Mount {
        self.csrf_exempt()
    }
}
