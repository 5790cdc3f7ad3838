//! The authentication app (`django.contrib.auth`): users, groups and
//! permissions, password hashing and validation, the login, logout and
//! password views under `/accounts/`, and the extractors that guard views.
//!
//! Install it after the sessions app (it keeps the logged-in user in the
//! session):
//!
//! ```no_run
//! use manouche::prelude::*;
//! # async fn run() -> manouche::Result<()> {
//! Project::from_settings("settings.toml")?
//!     .app(manouche::contrib::sessions::app())
//!     .app(manouche::contrib::auth::app())
//!     .manage()
//!     .await
//! # }
//! ```
//!
//! - **Models**: [`User`], [`Group`], [`Permission`] in Django's tables
//!   (`auth_user`, ...), created by the app's own migrations. After every
//!   `migrate`, the view, add, change and delete permissions of every
//!   installed model exist (`blog.change_article`), with the custom ones a
//!   model declares.
//! - **Passwords** ([`hashers`]): argon2id, in Django's own hash format;
//!   Django's `pbkdf2_sha256` and argon2 hashes are accepted and upgraded
//!   on the next login, so a Django site's users move over without a
//!   reset. [`validators`] check new passwords (`[auth.password_validators]`).
//! - **Views** (namespace `auth`): `login/`, `logout/` (POST only),
//!   `password_change/`, `password_change/done/`, and the password reset by
//!   e-mail (`password_reset/`, `reset/<uidb64>/<token>/`, ...). Their pages
//!   are plain types a project can re-skin with
//!   [`Project::override_template`](crate::Project::override_template).
//! - **Extractors** ([`CurrentUser`], [`LoginRequired`],
//!   [`PermissionRequired`], [`StaffRequired`]): the user is loaded from the
//!   session the first time a view asks (two queries: the session, the
//!   user), once per request.
//! - **Login security**: a new session key on login, the session flushed
//!   on logout, a session that outlives a password change is refused
//!   (other than the one that changed it), and repeated failures per
//!   username and per client address answer 429 with `Retry-After`
//!   (`[auth.throttle]`), alike for existing and unknown usernames; an
//!   unknown username costs the same hashing time as a wrong password.
//! - **Events** for other apps: [`on_event`] (logged in, logged out, login
//!   failed).
//! - **Hooks for other apps' account pages** (the admin's login, logout and
//!   password change use them): [`Auth::authenticate`], [`login`],
//!   [`logout`], [`SafeRedirect`] (a `next` that stays on the site),
//!   [`Auth::check_password_change`] and [`Auth::change_password`].
//!
//! Differences from Django, on purpose: a permission names its app by
//! label instead of a `ContentType` row; `login_redirect_url` defaults to
//! `/` (Django's `/accounts/profile/` is a page it does not ship); login
//! throttling is built in (Django leaves it to django-axes) and counts per
//! process.

mod commands;
mod extract;
pub mod hashers;
mod models;
mod throttle;
pub mod tokens;
pub mod validators;
mod views;

use std::net::IpAddr;
use std::sync::Arc;

use serde::Deserialize;

pub use extract::{
    CurrentUser, Denied, LoginRequired, PermissionRequired, RequiredPermission, SafeRedirect,
    StaffRequired, redirect_to_login,
};
pub use models::{Group, Permission, User};
pub use throttle::ThrottleSettings;
pub use views::{
    LoggedOutPage, LoginPage, PasswordChangeDonePage, PasswordChangePage,
    PasswordResetCompletePage, PasswordResetConfirmPage, PasswordResetDonePage, PasswordResetEmail,
    PasswordResetPage,
};

use crate::App;
use crate::app::{AppSettings, CheckContext, MigrateContext, Ready};
use crate::checks::CheckMessage;
use crate::contrib::sessions::Session;
use crate::db::{Database, Model};
use crate::{StartupError, embed_migrations};
use hashers::HasherSettings;
use validators::ValidatorSettings;

/// The session keys Django uses, so that a session store shared with a
/// Django site reads the same.
pub const SESSION_KEY: &str = "_auth_user_id";
/// The authentication backend that logged the user in.
pub const BACKEND_SESSION_KEY: &str = "_auth_user_backend";
/// The hash that ties the session to the user's password.
pub const HASH_SESSION_KEY: &str = "_auth_user_hash";
const BACKEND: &str = "django.contrib.auth.backends.ModelBackend";

/// The app: models and migrations, the views under `accounts/`, the
/// permissions after `migrate`, `createsuperuser` and `changepassword`.
pub fn app() -> App {
    App::new("auth")
        .model::<User>()
        .model::<Group>()
        .model::<Permission>()
        .migrations(embed_migrations!("src/contrib/auth/migrations"))
        .settings::<AuthSettings>()
        .urls("accounts/", views::urls())
        .ready(ready)
        .post_migrate(create_permissions)
        .check(checks)
        .command(commands::createsuperuser_cli(), commands::createsuperuser)
        .command(commands::changepassword_cli(), commands::changepassword)
}

/// `[auth]` in `settings.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthSettings {
    /// Where [`LoginRequired`] sends anonymous visitors (with `?next=`).
    pub login_url: String,
    /// Where a login without a (safe) `next` goes.
    pub login_redirect_url: String,
    /// Where logout goes; unset: the logged-out page.
    pub logout_redirect_url: Option<String>,
    /// Seconds a password-reset link stays valid (Django's three days).
    pub password_reset_timeout: u64,
    /// `[auth.hasher]`: the argon2id parameters of new hashes.
    pub hasher: HasherSettings,
    /// `[auth.password_validators]`.
    pub password_validators: ValidatorSettings,
    /// `[auth.throttle]`: failed logins before 429.
    pub throttle: ThrottleSettings,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            login_url: "/accounts/login/".to_owned(),
            login_redirect_url: "/".to_owned(),
            logout_redirect_url: None,
            password_reset_timeout: 60 * 60 * 24 * 3,
            hasher: HasherSettings::default(),
            password_validators: ValidatorSettings::default(),
            throttle: ThrottleSettings::default(),
        }
    }
}

impl AppSettings for AuthSettings {
    fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("login_url", Some(&self.login_url)),
            ("login_redirect_url", Some(&self.login_redirect_url)),
            ("logout_redirect_url", self.logout_redirect_url.as_ref()),
        ] {
            if let Some(value) = value
                && !(value.starts_with('/')
                    || value.starts_with("https://")
                    || value.starts_with("http://"))
            {
                return Err(format!(
                    "{key} = {value:?} must be a path (\"/accounts/login/\") or an http(s) URL"
                ));
            }
        }
        if self.password_reset_timeout == 0 {
            return Err("password_reset_timeout must be a positive number of seconds (Django's default is 259200, three days)".to_owned());
        }
        self.throttle
            .validate()
            .map_err(|e| format!("throttle: {e}"))?;
        Ok(())
    }
}

/// The auth app's state for the running project (a service).
#[derive(Debug)]
pub struct Auth {
    settings: Arc<AuthSettings>,
    secret_key: String,
    throttle: throttle::Throttle,
}

impl Auth {
    /// The `[auth]` section.
    #[must_use]
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The hash that ties a session to `user`'s current password (Django's
    /// `get_session_auth_hash`): changing the password logs out every
    /// other session.
    #[must_use]
    pub fn session_auth_hash(&self, user: &User) -> String {
        crate::crypto::hex(&crate::crypto::salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            user.password.as_bytes(),
            &self.secret_key,
        ))
    }

    /// The project's secret key (for tokens).
    pub(crate) fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Checks `username` and `password` (Django's `authenticate` with the
    /// model backend), counting failures for the throttle. An unknown
    /// username costs the same hashing as a wrong password, and both get
    /// the same answer.
    ///
    /// # Errors
    /// [`LoginError::Throttled`] after too many failures (checked before
    /// the password is), or the database's error.
    pub async fn authenticate(
        &self,
        db: &Database,
        username: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<User, LoginError> {
        if let Some(retry_after) = self.throttle.blocked(username, address) {
            return Err(LoginError::Throttled { retry_after });
        }
        let found = User::objects()
            .filter(User::username.eq(username.to_owned()))
            .first(db)
            .await?;
        let user = match found {
            Some(mut user) => {
                let matched = user
                    .check_password(password, &self.settings.hasher, db)
                    .await?;
                (matched && user.is_active).then_some(user)
            }
            None => {
                let (password, hasher) = (password.to_owned(), self.settings.hasher.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    hashers::run_dummy_hash(&password, &hasher)
                })
                .await;
                None
            }
        };
        match user {
            Some(user) => {
                self.throttle.succeeded(username);
                Ok(user)
            }
            None => {
                self.throttle.failed(username, address);
                events(|e| {
                    e(&AuthEvent::LoginFailed { username, address });
                });
                Err(LoginError::Invalid)
            }
        }
    }

    /// Checks a password change form (Django's `PasswordChangeForm`): the
    /// old password must be `user`'s, the new one typed twice alike and
    /// accepted by the validators (`[auth.password_validators]`).
    /// Password-change views of other apps (the admin's) call it, then
    /// [`change_password`](Self::change_password).
    #[must_use]
    pub fn check_password_change(
        &self,
        user: &User,
        old_password: &str,
        new_password1: &str,
        new_password2: &str,
    ) -> PasswordChangeErrors {
        let mut errors = PasswordChangeErrors::default();
        if !hashers::check_password(old_password, &user.password, &self.settings.hasher).matched() {
            errors.old_password.push(
                "Your old password was entered incorrectly. Please enter it again.".to_owned(),
            );
        }
        errors.new_password = views::check_new_password(user, self, new_password1, new_password2);
        errors
    }

    /// Sets `user`'s password to `new_password`, saves it, and keeps
    /// `session` logged in under a new key while every other session of
    /// the user is logged out ([`update_session_auth_hash`]).
    ///
    /// # Errors
    /// The database or the session store failed.
    pub async fn change_password(
        &self,
        db: &Database,
        session: &Session,
        user: &mut User,
        new_password: &str,
    ) -> crate::Result<()> {
        user.set_password(new_password, &self.settings.hasher);
        User::objects()
            .filter(User::id.eq(user.key()))
            .update(db, [User::password.set(user.password.clone())])
            .await?;
        update_session_auth_hash(session, user).await
    }

    /// What the password validators ask of a new password, to show beside
    /// the field.
    #[must_use]
    pub fn password_help_texts(&self) -> Vec<String> {
        validators::help_texts(&self.settings.password_validators)
    }
}

/// What is wrong with a password change, per field (see
/// [`Auth::check_password_change`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordChangeErrors {
    /// Problems with the old password.
    pub old_password: Vec<String>,
    /// Problems with the new password (the validators', or a mismatch).
    pub new_password: Vec<String>,
}

impl PasswordChangeErrors {
    /// Whether the change may go ahead.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.old_password.is_empty() && self.new_password.is_empty()
    }
}

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Wrong username or password, or an inactive user (never said which).
    #[error(
        "Please enter a correct username and password. Note that both fields may be case-sensitive."
    )]
    Invalid,
    /// Too many failures: try again after this long.
    #[error("Too many failed login attempts. Try again in {} minute(s).", retry_after.as_secs().div_ceil(60).max(1))]
    Throttled {
        /// How long until the next attempt is accepted.
        retry_after: std::time::Duration,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] crate::db::Error),
}

/// What happened, for [`on_event`] listeners.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthEvent<'a> {
    /// A user logged in (Django's `user_logged_in`).
    LoggedIn {
        /// Who.
        user: &'a User,
    },
    /// A user logged out (Django's `user_logged_out`).
    LoggedOut {
        /// Who, when the session held a user.
        user: Option<&'a User>,
    },
    /// A login failed (Django's `user_login_failed`; the password is never
    /// passed on).
    LoginFailed {
        /// The username tried.
        username: &'a str,
        /// The client's address.
        address: Option<IpAddr>,
    },
}

type Listener = Arc<dyn Fn(&AuthEvent<'_>) + Send + Sync>;

/// The listeners registered with [`on_event`] (a service).
#[derive(Clone, Default)]
struct AuthEvents(Vec<Listener>);

impl std::fmt::Debug for AuthEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthEvents({})", self.0.len())
    }
}

/// Calls `listener` on every login, logout and failed login (from an app's
/// `ready` hook; Django's `user_logged_in`, `user_logged_out` and
/// `user_login_failed` signals). Listeners run inside the request, so keep
/// them quick (spawn a task for slow work).
pub fn on_event(ready: &mut Ready<'_>, listener: impl Fn(&AuthEvent<'_>) + Send + Sync + 'static) {
    let mut events = ready
        .services()
        .get_ref::<AuthEvents>()
        .cloned()
        .unwrap_or_default();
    events.0.push(Arc::new(listener));
    ready.services_mut().insert(events);
}

fn events(call: impl Fn(&Listener)) {
    if let Some(events) = crate::request::current_service::<AuthEvents>() {
        for listener in &events.0 {
            call(listener);
        }
    }
}

fn ready(ready: &mut Ready<'_>) -> Result<(), StartupError> {
    let settings: Arc<AuthSettings> = ready
        .services()
        .get()
        .expect("the auth app registers its settings section");
    let auth = Auth {
        throttle: throttle::Throttle::new(settings.throttle.clone()),
        secret_key: ready.settings().secret_key.clone(),
        settings,
    };
    ready.services_mut().insert(auth);
    if !ready.services().contains::<AuthEvents>() {
        ready.services_mut().insert(AuthEvents::default());
    }
    Ok(())
}

fn checks(context: &CheckContext<'_>) -> Vec<CheckMessage> {
    let apps: Vec<&str> = context.apps.iter().map(|a| a.label.as_str()).collect();
    let auth = apps.iter().position(|a| *a == "auth");
    match apps.iter().position(|a| *a == "sessions") {
        None => vec![CheckMessage::error(
            "auth.E001",
            "the auth app keeps the logged-in user in the session, but the sessions app is not installed",
            "add .app(manouche::contrib::sessions::app()) before .app(manouche::contrib::auth::app())",
        )],
        Some(sessions) if auth.is_some_and(|a| a < sessions) => vec![CheckMessage::error(
            "auth.E002",
            "the auth app is installed before the sessions app",
            "add the sessions app first: its middleware must run before the views that read the user",
        )],
        Some(_) => Vec::new(),
    }
}

/// Creates the missing view/add/change/delete permissions (and the custom
/// ones) of every installed model (Django's `create_permissions`).
async fn create_permissions(context: MigrateContext) -> Result<(), StartupError> {
    let db = context.database();
    for (label, models) in context.installed_models() {
        let existing: std::collections::BTreeSet<String> = Permission::objects()
            .filter(Permission::app_label.eq(label.clone()))
            .all(db)
            .await?
            .into_iter()
            .map(|p| p.codename)
            .collect();
        for meta in models {
            for (codename, name) in meta.all_permissions() {
                if existing.contains(&codename) {
                    continue;
                }
                Permission::objects()
                    .create(
                        db,
                        Permission {
                            id: crate::db::Auto::default(),
                            name,
                            app_label: label.clone(),
                            codename,
                        },
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

// ---- The session side: Django's login(), logout(), get_user() ----

/// Logs `user` in on `session` (Django's `login`): a session that held
/// another user is flushed, otherwise its key changes (no fixation); the
/// user's id and password hash are stored; the CSRF token is rotated;
/// `last_login` is updated and listeners hear of it.
///
/// # Errors
/// The session store or the database failed, or the auth app is not
/// installed.
pub async fn login(session: &Session, user: &mut User, db: &Database) -> crate::Result<()> {
    let auth = service()?;
    let hash = auth.session_auth_hash(user);
    if let Some(current) = session.get::<String>(SESSION_KEY).await? {
        let stored_hash = session
            .get::<String>(HASH_SESSION_KEY)
            .await?
            .unwrap_or_default();
        if current != user.key().to_string()
            || !crate::crypto::constant_time_eq(stored_hash.as_bytes(), hash.as_bytes())
        {
            session.flush().await?;
        }
    } else {
        session.cycle_key().await?;
    }
    session.insert(SESSION_KEY, user.key().to_string()).await?;
    session.insert(BACKEND_SESSION_KEY, BACKEND).await?;
    session.insert(HASH_SESSION_KEY, &hash).await?;
    crate::csrf::rotate();
    let now = chrono::Utc::now();
    user.last_login = Some(now);
    User::objects()
        .filter(User::id.eq(user.key()))
        .update(db, [User::last_login.set(Some(now))])
        .await?;
    events(|e| e(&AuthEvent::LoggedIn { user }));
    Ok(())
}

/// Logs the session's user out (Django's `logout`): the session is flushed
/// (deleted from the store; the cookie is deleted).
///
/// # Errors
/// The session store failed.
pub async fn logout(session: &Session, user: Option<&User>) -> crate::Result<()> {
    events(|e| e(&AuthEvent::LoggedOut { user }));
    session.flush().await?;
    Ok(())
}

/// The user the session belongs to, if any (Django's `get_user`): `None`
/// when nobody logged in, when the user is gone or inactive, or when the
/// password changed since (then the session is flushed).
///
/// # Errors
/// The session store or the database failed.
pub async fn get_user(session: &Session, db: &Database) -> crate::Result<Option<User>> {
    let Some(id) = session.get::<String>(SESSION_KEY).await? else {
        return Ok(None);
    };
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let Some(user) = User::objects().filter(User::id.eq(id)).first(db).await? else {
        return Ok(None);
    };
    if !user.is_active {
        return Ok(None);
    }
    let stored = session
        .get::<String>(HASH_SESSION_KEY)
        .await?
        .unwrap_or_default();
    let expected = service()?.session_auth_hash(&user);
    if !crate::crypto::constant_time_eq(stored.as_bytes(), expected.as_bytes()) {
        session.flush().await?;
        return Ok(None);
    }
    Ok(Some(user))
}

/// After `user` changed their password in this session: keep this session
/// logged in under a new key (Django's `update_session_auth_hash`); every
/// other session of the user stops being accepted.
///
/// # Errors
/// The session store failed.
pub async fn update_session_auth_hash(session: &Session, user: &User) -> crate::Result<()> {
    session.cycle_key().await?;
    if session.get::<String>(SESSION_KEY).await?.as_deref() == Some(&user.key().to_string()) {
        session
            .insert(HASH_SESSION_KEY, service()?.session_auth_hash(user))
            .await?;
    }
    Ok(())
}

fn service() -> crate::Result<Arc<Auth>> {
    crate::request::current_service::<Auth>().ok_or_else(|| {
        crate::Error::improperly_configured(
            "the auth app is not installed: add .app(manouche::contrib::auth::app()) to the project",
        )
    })
}
