//! The admin's own login, logout and password change pages (Django's
//! `AdminSite.login`, `logout`, `password_change`), drawn with the
//! admin's look and built only on the auth app's public hooks:
//! [`Auth::authenticate`] (throttling), [`auth::login`] (new session key,
//! CSRF token rotated), [`SafeRedirect`] (`next` stays on the site),
//! [`Auth::check_password_change`] and [`Auth::change_password`].

use askama::Template;
use axum::Form;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde::Deserialize;

use super::SiteInfo;
use super::request::{AdminRequest, Site};
use crate::TemplateResponse;
use crate::contrib::auth::{self, Auth, CurrentUser, LoginError, SafeRedirect};
use crate::contrib::sessions::Session;
use crate::db::Db;
use crate::request::ClientInfo;
use crate::services::Service;

/// What a failed admin login says, for a wrong password as for a user who
/// is not active staff (Django's `AdminAuthenticationForm`).
pub(crate) const STAFF_ONLY: &str = "Please enter the correct username and password for a staff account. Note that both fields may be case-sensitive.";

/// The admin's login page (`admin/login.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "admin/login.html")]
#[non_exhaustive]
pub struct AdminLoginPage {
    /// The site's header, title, links and stylesheets.
    pub site: SiteInfo,
    /// The username typed, shown again after a failure.
    pub form_username: String,
    /// Where to go after logging in (checked to stay on the site).
    pub next: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// A logged-in user who is not staff, who may log in as another.
    pub authenticated_as: Option<String>,
}

/// After logging out (`admin/logged_out.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "admin/logged_out.html")]
#[non_exhaustive]
pub struct AdminLoggedOutPage {
    /// The site's header, title, links and stylesheets.
    pub site: SiteInfo,
}

/// The password change form (`admin/password_change_form.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "admin/password_change_form.html")]
#[non_exhaustive]
pub struct AdminPasswordChangePage {
    /// The site's header, title, links and stylesheets.
    pub site: SiteInfo,
    /// Who is logged in.
    pub username: String,
    /// Problems with the old password.
    pub old_password_errors: Vec<String>,
    /// Problems with the new password.
    pub new_password_errors: Vec<String>,
    /// What the validators ask of a password.
    pub help_texts: Vec<String>,
}

/// After a password change (`admin/password_change_done.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "admin/password_change_done.html")]
#[non_exhaustive]
pub struct AdminPasswordChangeDonePage {
    /// The site's header, title, links and stylesheets.
    pub site: SiteInfo,
    /// Who is logged in.
    pub username: String,
}

/// `GET /admin/login/`: the form; an active staff member already logged
/// in goes straight to `next` (or the index).
pub(super) async fn login_form(
    Site(site): Site,
    CurrentUser(user): CurrentUser,
    redirect: SafeRedirect,
) -> Response {
    let next = redirect.next(None);
    if let Some(user) = &user
        && user.is_staff
        && user.is_active
    {
        return crate::web::found(&next.unwrap_or_else(|| site.root().to_owned()));
    }
    AdminLoginPage {
        site: site.info().clone(),
        form_username: String::new(),
        next: next.unwrap_or_default(),
        error: None,
        authenticated_as: user.map(|u| u.username),
    }
    .into_response()
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `POST /admin/login/`: logs an active staff member in; anyone else gets
/// the form again with [`STAFF_ONLY`] and stays logged out. Repeated
/// failures answer 429 as the auth app's login does.
pub(super) async fn login_submit(
    Site(site): Site,
    Service(auth): Service<Auth>,
    db: Db,
    session: Session,
    client: ClientInfo,
    redirect: SafeRedirect,
    Form(form): Form<LoginForm>,
) -> crate::Result<Response> {
    let next = redirect.next(form.next.as_deref());
    let page = |error: String| AdminLoginPage {
        site: site.info().clone(),
        form_username: form.username.clone(),
        next: next.clone().unwrap_or_default(),
        error: Some(error),
        authenticated_as: None,
    };
    let address = client.addr;
    match auth
        .authenticate(&db, &form.username, &form.password, address)
        .await
    {
        Ok(mut user) if user.is_staff => {
            auth::login(&session, &mut user, &db).await?;
            Ok(crate::web::found(
                &next.clone().unwrap_or_else(|| site.root().to_owned()),
            ))
        }
        Ok(_) | Err(LoginError::Invalid) => Ok(page(STAFF_ONLY.to_owned()).into_response()),
        Err(error @ LoginError::Throttled { retry_after }) => Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(
                header::RETRY_AFTER,
                retry_after.as_secs().max(1).to_string(),
            )],
            page(error.to_string()),
        )
            .into_response()),
        Err(LoginError::Database(e)) => Err(e.into()),
    }
}

/// `POST /admin/logout/` (with the CSRF token, as every `POST`): logs out,
/// then goes to a safe `next` or shows the logged-out page.
pub(super) async fn logout(
    Site(site): Site,
    session: Session,
    CurrentUser(user): CurrentUser,
    redirect: SafeRedirect,
    body: axum::body::Bytes,
) -> crate::Result<Response> {
    auth::logout(&session, user.as_ref()).await?;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let form_next = form
        .iter()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.as_str());
    if let Some(to) = redirect.next(form_next) {
        return Ok(crate::web::found(&to));
    }
    Ok(AdminLoggedOutPage {
        site: site.info().clone(),
    }
    .into_response())
}

fn change_page(admin: &AdminRequest, auth: &Auth) -> AdminPasswordChangePage {
    AdminPasswordChangePage {
        site: admin.site.info().clone(),
        username: admin.user.username.clone(),
        old_password_errors: Vec::new(),
        new_password_errors: Vec::new(),
        help_texts: auth.password_help_texts(),
    }
}

/// `GET /admin/password_change/`.
pub(super) async fn password_change_form(
    admin: AdminRequest,
    Service(auth): Service<Auth>,
) -> AdminPasswordChangePage {
    change_page(&admin, &auth)
}

#[derive(Debug, Deserialize)]
pub(super) struct PasswordChangeForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

/// `POST /admin/password_change/`: the new password, this session kept
/// logged in (every other session of the member is logged out).
pub(super) async fn password_change_submit(
    admin: AdminRequest,
    Service(auth): Service<Auth>,
    session: Session,
    Form(form): Form<PasswordChangeForm>,
) -> crate::Result<Response> {
    let errors = auth.check_password_change(
        &admin.user,
        &form.old_password,
        &form.new_password1,
        &form.new_password2,
    );
    if !errors.is_empty() {
        let mut page = change_page(&admin, &auth);
        page.old_password_errors = errors.old_password;
        page.new_password_errors = errors.new_password;
        return Ok(page.into_response());
    }
    let mut user = admin.user.clone();
    auth.change_password(&admin.db, &session, &mut user, &form.new_password1)
        .await?;
    let done = admin.site.url("password_change_done", &[]);
    Ok(crate::web::found(&done))
}

/// `GET /admin/password_change/done/`.
pub(super) async fn password_change_done(admin: AdminRequest) -> AdminPasswordChangeDonePage {
    AdminPasswordChangeDonePage {
        site: admin.site.info().clone(),
        username: admin.user.username,
    }
}
