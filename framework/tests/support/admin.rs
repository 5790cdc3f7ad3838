//! What the admin's test files share: the project the admin needs, the
//! password of their users, making staff members, logging them in,
//! granting permissions, and reading a page's CSRF token.
#![allow(dead_code, unreachable_pub)]

use manouche::contrib::auth::hashers::HasherSettings;
use manouche::contrib::auth::{self, Permission, User};
use manouche::contrib::{messages, sessions};
use manouche::db::{Database, Model};
use manouche::prelude::*;
use manouche::test::Client;

/// A project in debug mode on the database `url` with the apps the admin
/// stands on (sessions, auth, messages); the test adds its own and the
/// admin's.
pub fn admin_project(url: &str) -> Project {
    let url = url.to_owned();
    Project::new(Settings::default())
        .configure(move |s| {
            s.debug = true;
            s.database_url = url;
        })
        .app(sessions::app())
        .app(auth::app())
        .app(messages::app())
}

/// Every test user's password.
pub const PASSWORD: &str = "correct horse 42";

/// Makes the user `username` (active), staff and superuser as asked.
pub async fn make_user(db: &Database, username: &str, staff: bool, superuser: bool) -> User {
    let mut user = User::new(username, PASSWORD, &HasherSettings::default());
    user.is_staff = staff;
    user.is_superuser = superuser;
    User::objects().create(db, user).await.expect("a new user")
}

/// Logs `username` in through the login page at `path` (the auth app's
/// or the admin's), with the page's CSRF token as a browser sends it, so
/// that it works on a client that enforces the checks too.
pub async fn log_in_at(client: &Client, path: &str, username: &str) {
    let token = token_of(&client.get(path).send().await.text());
    let r = client
        .post(path)
        .form(&[
            ("csrfmiddlewaretoken", token.as_str()),
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await;
    assert_eq!(r.status(), 302, "{}", r.text());
}

/// Logs `username` in through the auth app's login page.
pub async fn log_in(client: &Client, username: &str) {
    log_in_at(client, "/accounts/login/", username).await;
}

/// Gives `username` the permission `app.codename`, made when `migrate`
/// did not make it.
pub async fn grant(db: &Database, username: &str, app: &str, codename: &str) {
    let found = Permission::objects()
        .filter(Permission::app_label.eq(app) & Permission::codename.eq(codename))
        .first(db)
        .await
        .expect("reading the permissions");
    let perm = match found {
        Some(perm) => perm,
        None => Permission::objects()
            .create(
                db,
                Permission {
                    id: Default::default(),
                    name: codename.replace('_', " "),
                    app_label: app.into(),
                    codename: codename.into(),
                },
            )
            .await
            .expect("a new permission"),
    };
    let user = User::objects()
        .filter(User::username.eq(username))
        .get(db)
        .await
        .expect("the user");
    user.user_permissions
        .add(db, &[&perm])
        .await
        .expect("granting the permission");
}

/// The CSRF token of the first form in `html`.
pub fn token_of(html: &str) -> String {
    html.split("name=\"csrfmiddlewaretoken\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token in the page")
        .to_owned()
}
