//! Extractors that give a view the logged-in user, or turn the visitor
//! away (Django's `request.user`, `@login_required`,
//! `@permission_required`, `@staff_member_required`).
//!
//! The user is loaded from the session once per request, whichever
//! extractors ask.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::{User, get_user};
use crate::contrib::sessions::Session;
use crate::db::Database;

/// The logged-in user, or `None` for an anonymous visitor (Django's
/// `request.user`).
///
/// ```
/// use manouche::contrib::auth::CurrentUser;
///
/// async fn greeting(CurrentUser(user): CurrentUser) -> String {
///     match user {
///         Some(user) => format!("Hello, {}!", user.username),
///         None => "Hello, stranger!".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Option<User>);

impl CurrentUser {
    /// Whether somebody is logged in.
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        self.0.is_some()
    }
}

/// The user loaded for this request (so that two extractors load once).
#[derive(Clone)]
struct Loaded(Option<User>);

async fn load(parts: &mut Parts) -> Result<Option<User>, crate::Error> {
    if let Some(Loaded(user)) = parts.extensions.get::<Loaded>() {
        return Ok(user.clone());
    }
    let session = Session::from_extensions(&parts.extensions).ok_or_else(|| {
        crate::Error::improperly_configured(
            "the auth extractors read the session, but the sessions app is not installed: add .app(manouche::contrib::sessions::app()) before the auth app",
        )
    })?;
    let db = crate::request::current_service::<Database>().ok_or_else(|| {
        crate::Error::improperly_configured(
            "the auth extractors need the project's database: set database_url",
        )
    })?;
    let user = get_user(&session, &db).await?;
    parts.extensions.insert(Loaded(user.clone()));
    Ok(user)
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(load(parts).await?))
    }
}

/// A logged-in user; an anonymous visitor is redirected to the login page
/// (`[auth] login_url`) with `?next=` the page they asked for (Django's
/// `@login_required`).
#[derive(Debug, Clone)]
pub struct LoginRequired(pub User);

/// Why a guard turned the visitor away.
#[derive(Debug)]
pub enum Denied {
    /// Anonymous: to the login page (302, as Django).
    Login(String),
    /// Logged in, but not allowed: 403.
    Forbidden(crate::Error),
    /// The session or database failed, or the apps are missing.
    Failed(crate::Error),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Self::Login(url) => crate::web::found(&url),
            Self::Forbidden(e) | Self::Failed(e) => e.into_response(),
        }
    }
}

/// The redirect to the login page for the request in `parts`.
fn to_login(parts: &Parts) -> Denied {
    let login_url = crate::request::current_service::<super::Auth>().map_or_else(
        || "/accounts/login/".to_owned(),
        |a| a.settings.login_url.clone(),
    );
    let next = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    Denied::Login(redirect_to_login(next, &login_url))
}

/// `login_url` with `next` in its query (Django's `redirect_to_login`).
#[must_use]
pub fn redirect_to_login(next: &str, login_url: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // What Django's QueryDict.urlencode(safe="/") leaves alone.
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let separator = if login_url.contains('?') { '&' } else { '?' };
    format!(
        "{login_url}{separator}next={}",
        utf8_percent_encode(next, KEEP)
    )
}

impl<S: Send + Sync> FromRequestParts<S> for LoginRequired {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match load(parts).await.map_err(Denied::Failed)? {
            Some(user) => Ok(Self(user)),
            None => Err(to_login(parts)),
        }
    }
}

/// A logged-in, active staff member (who may use the admin); an anonymous
/// visitor goes to the login page, other users get 403.
#[derive(Debug, Clone)]
pub struct StaffRequired(pub User);

impl<S: Send + Sync> FromRequestParts<S> for StaffRequired {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match load(parts).await.map_err(Denied::Failed)? {
            Some(user) if user.is_staff && user.is_active => Ok(Self(user)),
            Some(_) => Err(Denied::Forbidden(crate::Error::forbidden(
                "this page is for staff members",
            ))),
            None => Err(to_login(parts)),
        }
    }
}

/// Where a view may send the visitor next: checks a `next` URL against
/// the request's own host and scheme, so that a login link never leads
/// off the site (Django's `RedirectURLMixin` with
/// [`url_has_allowed_host_and_scheme`](crate::web::url_has_allowed_host_and_scheme)).
/// The auth app's login and logout views use it, as may any app's.
///
/// ```
/// use manouche::contrib::auth::SafeRedirect;
///
/// async fn done(next: SafeRedirect) -> manouche::Result<axum::response::Response> {
///     // `?next=/blog/` is kept, `?next=https://evil.example/` is not.
///     let to = next.next(None).unwrap_or_else(|| "/".to_owned());
///     Ok(manouche::web::found(&to))
/// }
/// # let _ = done;
/// ```
#[derive(Debug, Clone)]
pub struct SafeRedirect {
    /// The request's host (already checked against `allowed_hosts`).
    host: Option<String>,
    /// Whether the client spoke HTTPS (then only `https` URLs pass).
    tls: bool,
    /// The query string's `next`.
    query_next: Option<String>,
}

impl SafeRedirect {
    /// `url` when it stays on this site (a path, or an absolute URL to
    /// the request's host with an allowed scheme), else `None`.
    #[must_use]
    pub fn check(&self, url: &str) -> Option<String> {
        let url = url.trim();
        let host = self.host.as_deref()?;
        crate::web::url_has_allowed_host_and_scheme(url, &[host], self.tls).then(|| url.to_owned())
    }

    /// The form's `next` when it sent one, else the query string's, when
    /// it is safe ([`check`](Self::check)).
    #[must_use]
    pub fn next(&self, form_next: Option<&str>) -> Option<String> {
        self.check(form_next.or(self.query_next.as_deref())?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SafeRedirect {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let client = crate::request::ClientInfo::from_request_parts(parts, state).await?;
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()));
        let query_next = parts.uri.query().and_then(|q| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .ok()?
                .into_iter()
                .find(|(k, _)| k == "next")
                .map(|(_, v)| v)
        });
        Ok(Self {
            host,
            tls: client.secure,
            query_next,
        })
    }
}

/// A permission a view requires: declare one with
/// [`permission!`](crate::permission).
pub trait RequiredPermission: Send + Sync + 'static {
    /// `app_label.codename`.
    const PERMISSION: &'static str;
}

/// Declares a permission type for [`PermissionRequired`]:
///
/// ```
/// use manouche::contrib::auth::PermissionRequired;
///
/// manouche::permission!(pub AddArticle = "blog.add_article");
///
/// async fn new_article(PermissionRequired(user, ..): PermissionRequired<AddArticle>) -> String {
///     format!("{} may write", user.username)
/// }
/// ```
#[macro_export]
macro_rules! permission {
    ($vis:vis $name:ident = $perm:literal) => {
        #[doc = concat!("The permission `", $perm, "`.")]
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;
        impl $crate::contrib::auth::RequiredPermission for $name {
            const PERMISSION: &'static str = $perm;
        }
    };
}

/// A logged-in user holding `P` (directly, through a group, or as a
/// superuser); an anonymous visitor goes to the login page, other users
/// get 403 (Django's `PermissionRequiredMixin`).
#[derive(Debug, Clone)]
pub struct PermissionRequired<P: RequiredPermission>(pub User, pub PhantomData<P>);

impl<S: Send + Sync, P: RequiredPermission> FromRequestParts<S> for PermissionRequired<P> {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(user) = load(parts).await.map_err(Denied::Failed)? else {
            return Err(to_login(parts));
        };
        let db = crate::request::current_service::<Database>().ok_or_else(|| {
            Denied::Failed(crate::Error::improperly_configured(
                "PermissionRequired needs the project's database",
            ))
        })?;
        if user
            .has_perm(&*db, P::PERMISSION)
            .await
            .map_err(|e| Denied::Failed(e.into()))?
        {
            Ok(Self(user, PhantomData))
        } else {
            Err(Denied::Forbidden(crate::Error::forbidden(format!(
                "this page needs the permission {}",
                P::PERMISSION
            ))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redirect_to_login;

    #[test]
    fn next_is_encoded_like_django() {
        assert_eq!(
            redirect_to_login("/blog/new/?a=1&b=2", "/accounts/login/"),
            "/accounts/login/?next=/blog/new/%3Fa%3D1%26b%3D2"
        );
        assert_eq!(
            redirect_to_login("/x/", "/login/?lang=fr"),
            "/login/?lang=fr&next=/x/"
        );
    }
}
