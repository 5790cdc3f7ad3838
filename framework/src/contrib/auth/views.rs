//! The views under `/accounts/` (namespace `auth`) and their pages.
//!
//! Each page is a plain type with public fields: a project shows its own
//! template instead with
//! `Project::override_template::<LoginPage, _>(|page| MyLogin { page }.render())`.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::request::Parts;
use http::{StatusCode, header};
use serde::Deserialize;

use super::validators::{self, UserAttributes};
use super::{Auth, CurrentUser, LoginError, LoginRequired, SafeRedirect, User};
use crate::TemplateResponse;
use crate::contrib::sessions::Session;
use crate::db::{Db, Model};
use crate::request::ClientInfo;
use crate::services::Service;
use crate::urls::Urls;

pub(crate) fn urls() -> Urls {
    Urls::new()
        .path("login/", get(login_form).post(login_submit), "login")
        .path("logout/", axum::routing::post(logout), "logout")
        .path(
            "password_change/",
            get(password_change_form).post(password_change_submit),
            "password_change",
        )
        .path(
            "password_change/done/",
            get(password_change_done),
            "password_change_done",
        )
        .path(
            "password_reset/",
            get(password_reset_form).post(password_reset_submit),
            "password_reset",
        )
        .path(
            "password_reset/done/",
            get(password_reset_done),
            "password_reset_done",
        )
        .path(
            "reset/<uidb64>/<token>/",
            get(password_reset_confirm).post(password_reset_set),
            "password_reset_confirm",
        )
        .path(
            "reset/done/",
            get(password_reset_complete),
            "password_reset_complete",
        )
}

/// The login page (`auth/login.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    /// The username typed, shown again after a failure.
    pub username: String,
    /// Where to go after logging in (already checked to stay on the site).
    pub next: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// The page after logging out (`auth/logged_out.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "auth/logged_out.html")]
pub struct LoggedOutPage {}

/// The password change form (`auth/password_change_form.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "auth/password_change_form.html")]
pub struct PasswordChangePage {
    /// Who changes their password.
    pub username: String,
    /// Problems with the old password.
    pub old_password_errors: Vec<String>,
    /// Problems with the new password (validators, mismatch).
    pub new_password_errors: Vec<String>,
    /// What the validators ask of a password.
    pub help_texts: Vec<String>,
}

/// The page after a password change (`auth/password_change_done.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "auth/password_change_done.html")]
pub struct PasswordChangeDonePage {}

/// The host the request was made to (checked against `allowed_hosts`
/// already), for the safe-redirect check.
fn request_host(parts: &http::HeaderMap, uri: &http::Uri) -> Option<String> {
    parts
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
}

/// The request's parts a view needs for redirects.
struct Target {
    headers: http::HeaderMap,
    uri: http::Uri,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Target {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            headers: parts.headers.clone(),
            uri: parts.uri.clone(),
        })
    }
}

async fn login_form(redirect: SafeRedirect) -> LoginPage {
    LoginPage {
        username: String::new(),
        next: redirect.next(None).unwrap_or_default(),
        error: None,
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login_submit(
    Service(auth): Service<Auth>,
    db: Db,
    session: Session,
    client: ClientInfo,
    redirect: SafeRedirect,
    Form(form): Form<LoginForm>,
) -> crate::Result<Response> {
    let next = redirect.next(form.next.as_deref());
    let address = client.addr;
    let page = |error: &LoginError| LoginPage {
        username: form.username.clone(),
        next: next.clone().unwrap_or_default(),
        error: Some(error.to_string()),
    };
    match auth
        .authenticate(&db, &form.username, &form.password, address)
        .await
    {
        Ok(mut user) => {
            super::login(&session, &mut user, &db).await?;
            let to = next.unwrap_or_else(|| auth.settings.login_redirect_url.clone());
            Ok(crate::web::found(&to))
        }
        Err(error @ LoginError::Invalid) => Ok(page(&error).into_response()),
        Err(error @ LoginError::Throttled { retry_after }) => Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(
                header::RETRY_AFTER,
                retry_after.as_secs().max(1).to_string(),
            )],
            page(&error),
        )
            .into_response()),
        Err(LoginError::Database(e)) => Err(e.into()),
    }
}

async fn logout(
    Service(auth): Service<Auth>,
    session: Session,
    CurrentUser(user): CurrentUser,
    redirect: SafeRedirect,
    body: axum::body::Bytes,
) -> crate::Result<Response> {
    super::logout(&session, user.as_ref()).await?;
    // A form's `next`, else the query's (the body may also be empty).
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Some(to) = redirect
        .next(form.get("next").map(String::as_str))
        .or_else(|| auth.settings.logout_redirect_url.clone())
    {
        return Ok(crate::web::found(&to));
    }
    Ok(LoggedOutPage {}.into_response())
}

fn change_page(user: &User, auth: &Auth) -> PasswordChangePage {
    PasswordChangePage {
        username: user.username.clone(),
        old_password_errors: Vec::new(),
        new_password_errors: Vec::new(),
        help_texts: auth.password_help_texts(),
    }
}

async fn password_change_form(
    Service(auth): Service<Auth>,
    LoginRequired(user): LoginRequired,
) -> PasswordChangePage {
    change_page(&user, &auth)
}

#[derive(Debug, Deserialize)]
struct PasswordChangeForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

/// The attributes the similarity validator compares a password with.
pub(crate) fn attributes(user: &User) -> UserAttributes<'_> {
    UserAttributes {
        username: &user.username,
        email: &user.email,
        first_name: &user.first_name,
        last_name: &user.last_name,
    }
}

/// Checks a new password typed twice: Django's `SetPasswordForm`.
pub(crate) fn check_new_password(
    user: &User,
    auth: &Auth,
    password1: &str,
    password2: &str,
) -> Vec<String> {
    if password1.is_empty() || password2.is_empty() {
        return vec!["This field is required.".to_owned()];
    }
    if password1 != password2 {
        return vec!["The two password fields didn’t match.".to_owned()];
    }
    match validators::validate_password(
        password1,
        &attributes(user),
        &auth.settings.password_validators,
    ) {
        Ok(()) => Vec::new(),
        Err(messages) => messages,
    }
}

async fn password_change_submit(
    Service(auth): Service<Auth>,
    db: Db,
    session: Session,
    LoginRequired(mut user): LoginRequired,
    Form(form): Form<PasswordChangeForm>,
) -> crate::Result<Response> {
    let errors = auth.check_password_change(
        &user,
        &form.old_password,
        &form.new_password1,
        &form.new_password2,
    );
    if !errors.is_empty() {
        let mut page = change_page(&user, &auth);
        page.old_password_errors = errors.old_password;
        page.new_password_errors = errors.new_password;
        return Ok(page.into_response());
    }
    auth.change_password(&db, &session, &mut user, &form.new_password1)
        .await?;
    let done = crate::urls::reverse("auth:password_change_done", &[])?;
    Ok(crate::web::found(&done))
}

async fn password_change_done(LoginRequired(_user): LoginRequired) -> PasswordChangeDonePage {
    PasswordChangeDonePage {}
}

// ---- Password reset by e-mail (Django's PasswordResetView and friends) ----

/// The token the confirm link carried, kept in the session so that the
/// set-password page's URL (and its `Referer`) no longer holds it.
const RESET_SESSION_TOKEN: &str = "_password_reset_token";
/// What the confirm URL shows instead of the token.
const RESET_URL_TOKEN: &str = "set-password";

/// The form asking for an e-mail address (`auth/password_reset_form.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "auth/password_reset_form.html")]
pub struct PasswordResetPage {
    /// The address typed, shown again after an error.
    pub email: String,
    /// Problems with it.
    pub errors: Vec<String>,
}

/// "Check your e-mail" (`auth/password_reset_done.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "auth/password_reset_done.html")]
pub struct PasswordResetDonePage {}

/// The new-password form of a reset link, or the page saying the link is
/// invalid (`auth/password_reset_confirm.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "auth/password_reset_confirm.html")]
pub struct PasswordResetConfirmPage {
    /// Whether the link is valid (else: expired, used, or made up).
    pub valid_link: bool,
    /// The user's name, for password managers.
    pub username: String,
    /// Problems with the new password.
    pub errors: Vec<String>,
    /// What the validators ask of a password.
    pub help_texts: Vec<String>,
}

/// "Your password has been set" (`auth/password_reset_complete.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "auth/password_reset_complete.html")]
pub struct PasswordResetCompletePage {}

/// The e-mail with the link (`auth/password_reset_email.txt`).
#[derive(Debug, Template)]
#[template(path = "auth/password_reset_email.txt")]
pub struct PasswordResetEmail {
    /// The site's name (its host).
    pub site_name: String,
    /// The full link to the set-password page.
    pub link: String,
    /// The user's name.
    pub username: String,
}

async fn password_reset_form() -> PasswordResetPage {
    PasswordResetPage {
        email: String::new(),
        errors: Vec::new(),
    }
}

#[derive(Debug, Deserialize)]
struct ResetForm {
    #[serde(default)]
    email: String,
}

fn token_generator(auth: &Auth) -> super::tokens::PasswordResetTokenGenerator {
    super::tokens::PasswordResetTokenGenerator::new(auth.secret_key()).with_timeout(
        std::time::Duration::from_secs(auth.settings.password_reset_timeout),
    )
}

/// Mails a link to every active user with this address and a usable
/// password; answers the same whether or not there is one (Django's
/// `PasswordResetForm.save`).
async fn password_reset_submit(
    Service(auth): Service<Auth>,
    Service(mailer): Service<crate::mail::Mailer>,
    db: Db,
    client: ClientInfo,
    target: Target,
    Form(form): Form<ResetForm>,
) -> crate::Result<Response> {
    let email = form.email.trim().to_owned();
    if crate::mail::Mailbox::parse(&email).is_err() {
        return Ok(PasswordResetPage {
            email,
            errors: vec!["Enter a valid email address.".to_owned()],
        }
        .into_response());
    }
    let host = request_host(&target.headers, &target.uri).ok_or_else(|| {
        crate::Error::bad_request("the request names no host to build the reset link with")
    })?;
    let scheme = if client.secure { "https" } else { "http" };
    let candidates = User::objects()
        .filter(User::email.iexact(email.clone()))
        .filter(User::is_active.eq(true))
        .all(&db)
        .await?
        .into_iter()
        .filter(User::has_usable_password);
    let generator = token_generator(&auth);
    for user in candidates {
        let path = crate::urls::reverse(
            "auth:password_reset_confirm",
            &[
                &super::tokens::encode_uid(user.key()),
                &generator.make_token(&user),
            ],
        )?;
        let body = PasswordResetEmail {
            site_name: host.clone(),
            link: format!("{scheme}://{host}{path}"),
            username: user.username.clone(),
        }
        .render()?;
        let subject = format!("Password reset on {host}");
        if let Err(e) = mailer
            .send_mail(&subject, &body, [user.email.as_str()])
            .await
        {
            // Django logs and goes on: the page must not tell who exists.
            tracing::error!(target: "manouche::auth", "the password reset e-mail could not be sent: {e}");
        }
    }
    Ok(crate::web::found(&crate::urls::reverse(
        "auth:password_reset_done",
        &[],
    )?))
}

async fn password_reset_done() -> PasswordResetDonePage {
    PasswordResetDonePage {}
}

/// The user a reset link's `uidb64` names, if any.
async fn reset_user(db: &crate::db::Database, uidb64: &str) -> crate::Result<Option<User>> {
    let Ok(pk) = super::tokens::decode_uid(uidb64) else {
        return Ok(None);
    };
    let Ok(pk) = pk.parse::<i64>() else {
        return Ok(None);
    };
    Ok(User::objects().filter(User::id.eq(pk)).first(db).await?)
}

fn invalid_link() -> PasswordResetConfirmPage {
    PasswordResetConfirmPage {
        valid_link: false,
        username: String::new(),
        errors: Vec::new(),
        help_texts: Vec::new(),
    }
}

/// The user and whether the token (from the URL, or the session once the
/// URL says `set-password`) is still good.
async fn checked_reset(
    auth: &Auth,
    db: &crate::db::Database,
    session: &Session,
    uidb64: &str,
    token: &str,
) -> crate::Result<Option<User>> {
    let Some(user) = reset_user(db, uidb64).await? else {
        return Ok(None);
    };
    let token = if token == RESET_URL_TOKEN {
        match session.get::<String>(RESET_SESSION_TOKEN).await? {
            Some(token) => token,
            None => return Ok(None),
        }
    } else {
        token.to_owned()
    };
    Ok(token_generator(auth)
        .check_token(&user, &token)
        .then_some(user))
}

async fn password_reset_confirm(
    Service(auth): Service<Auth>,
    db: Db,
    session: Session,
    axum::extract::Path((uidb64, token)): axum::extract::Path<(String, String)>,
) -> crate::Result<Response> {
    let Some(user) = checked_reset(&auth, &db, &session, &uidb64, &token).await? else {
        return Ok(invalid_link().into_response());
    };
    if token != RESET_URL_TOKEN {
        // Keep the token out of the URL from here on (and out of Referer).
        session.insert(RESET_SESSION_TOKEN, &token).await?;
        let to = crate::urls::reverse("auth:password_reset_confirm", &[&uidb64, &RESET_URL_TOKEN])?;
        return Ok(crate::web::found(&to));
    }
    Ok(PasswordResetConfirmPage {
        valid_link: true,
        username: user.username.clone(),
        errors: Vec::new(),
        help_texts: validators::help_texts(&auth.settings.password_validators),
    }
    .into_response())
}

#[derive(Debug, Deserialize)]
struct SetPasswordForm {
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

async fn password_reset_set(
    Service(auth): Service<Auth>,
    db: Db,
    session: Session,
    axum::extract::Path((uidb64, token)): axum::extract::Path<(String, String)>,
    Form(form): Form<SetPasswordForm>,
) -> crate::Result<Response> {
    let Some(mut user) = checked_reset(&auth, &db, &session, &uidb64, &token).await? else {
        return Ok(invalid_link().into_response());
    };
    let errors = check_new_password(&user, &auth, &form.new_password1, &form.new_password2);
    if !errors.is_empty() {
        return Ok(PasswordResetConfirmPage {
            valid_link: true,
            username: user.username.clone(),
            errors,
            help_texts: validators::help_texts(&auth.settings.password_validators),
        }
        .into_response());
    }
    user.set_password(&form.new_password1, &auth.settings.hasher);
    User::objects()
        .filter(User::id.eq(user.key()))
        .update(&db, [User::password.set(user.password.clone())])
        .await?;
    // The new hash makes the token (and every session of the user) stale.
    session.remove::<String>(RESET_SESSION_TOKEN).await?;
    Ok(crate::web::found(&crate::urls::reverse(
        "auth:password_reset_complete",
        &[],
    )?))
}

async fn password_reset_complete() -> PasswordResetCompletePage {
    PasswordResetCompletePage {}
}
