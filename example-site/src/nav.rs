//! The navigation bar that every page shows: the site's sections, and who
//! is signed in ("Sign in" for a visitor; the username and a "Sign out"
//! button for a user).
//!
//! A view takes [`Nav`] as an extractor and keeps it in its page struct
//! (the field is named `nav`, which `base.html` reads):
//!
//! ```text
//! async fn home(nav: Nav) -> Home {
//!     Home { nav }
//! }
//! ```
//!
//! It is built on the auth app's [`CurrentUser`], which loads the user
//! from the session once per request however many extractors ask: a view
//! that also takes `CurrentUser`, `LoginRequired` or `PermissionRequired`
//! costs no extra query.

use manouche::axum::extract::FromRequestParts;
use manouche::contrib::auth::{CurrentUser, User, redirect_to_login};
use manouche::http::request::Parts;
use manouche::urls::NoReverseMatch;

/// What the navigation bar needs to know about the request.
#[derive(Debug, Clone)]
pub(crate) struct Nav {
    /// The signed-in user, `None` for a visitor.
    user: Option<User>,
    /// This page's path and query: where signing in (or out) comes back to.
    here: String,
    /// Whether the request's user is known. An error page is rendered
    /// without the request's session, so it cannot tell a visitor from a
    /// user and shows neither "Sign in" nor "Sign out".
    knows_user: bool,
}

impl Nav {
    /// The bar of an error page on `path`, which does not know who asks.
    pub(crate) fn without_user(path: &str) -> Self {
        Self {
            user: None,
            here: path.to_owned(),
            knows_user: false,
        }
    }

    /// The signed-in user, if any.
    pub(crate) fn user(&self) -> Option<&User> {
        self.user.as_ref()
    }

    /// The page's path and query (for `next` on the sign-out form).
    pub(crate) fn here(&self) -> &str {
        &self.here
    }

    /// Whether "Sign in" is shown: a visitor, on a page that knows.
    pub(crate) fn shows_sign_in(&self) -> bool {
        self.knows_user && self.user.is_none()
    }

    /// The login page, coming back here afterwards.
    ///
    /// # Errors
    /// The auth app's URLs are not installed.
    pub(crate) fn login_url(&self) -> Result<String, NoReverseMatch> {
        Ok(redirect_to_login(
            &self.here,
            &manouche::reverse!("auth:login")?,
        ))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Nav {
    type Rejection = manouche::Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        let here = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        Ok(Self {
            user,
            here,
            knows_user: true,
        })
    }
}
