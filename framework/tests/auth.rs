//! The auth app in process, on SQLite and (with `DATABASE_URL`)
//! PostgreSQL: login and logout, safe `next`, password change and the
//! other sessions, throttling, Django's hashes, permissions and the
//! extractors (Django's `tests/auth_tests` where they apply).

use manouche::contrib::auth::hashers::HasherSettings;
use manouche::contrib::auth::{
    self, CurrentUser, Group, LoginRequired, Permission, PermissionRequired, StaffRequired, User,
};
use manouche::contrib::sessions;
use manouche::db::testing::for_each_database_with_url;
use manouche::db::{Database, Model};
use manouche::prelude::*;
use manouche::test::{Client, TestResponse};

manouche::permission!(AddArticle = "blog.add_article");

async fn cart(session: sessions::Session) -> manouche::Result<String> {
    session.insert("cart", 3).await?;
    Ok("in the cart".to_owned())
}

async fn whoami(CurrentUser(user): CurrentUser) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |u| u.username)
}

async fn private(LoginRequired(user): LoginRequired) -> String {
    format!("private page of {}", user.username)
}

async fn new_article(PermissionRequired(user, ..): PermissionRequired<AddArticle>) -> String {
    format!("{} may add articles", user.username)
}

async fn staff(StaffRequired(user): StaffRequired) -> String {
    format!("staff {}", user.username)
}

fn project(url: &str, auth_section: &str) -> Project {
    let url = url.to_owned();
    let section = auth_section.to_owned();
    Project::new(Settings::default())
        .configure(move |s| {
            s.debug = true;
            s.database_url = url;
            s.set_section("auth", &section).unwrap();
        })
        .app(sessions::app())
        .app(auth::app())
        .urls(
            Urls::new()
                .path("", get(|| async { "home" }), "home")
                .path("cart/", get(cart), "cart")
                .path("whoami/", get(whoami), "whoami")
                .path("private/", get(private), "private")
                .path("blog/new/", get(new_article), "new_article")
                .path("staff/", get(staff), "staff"),
        )
}

/// A migrated site with the users `ana` (password `correct horse 42`)
/// and an inactive `ghost`.
async fn site(db: &Database, url: &str, auth_section: &str) -> Client {
    let project = project(url, auth_section);
    project.migrate(db).await.expect("migrate");
    let hasher = HasherSettings::default();
    User::objects()
        .create(db, User::new("ana", "correct horse 42", &hasher))
        .await
        .unwrap();
    let mut ghost = User::new("ghost", "correct horse 42", &hasher);
    ghost.is_active = false;
    User::objects().create(db, ghost).await.unwrap();
    Client::new(project).unwrap()
}

async fn log_in(client: &Client, username: &str, password: &str) -> TestResponse {
    client
        .post("/accounts/login/")
        .form(&[("username", username), ("password", password)])
        .send()
        .await
}

#[tokio::test]
async fn login_sets_a_new_session_key_and_logout_flushes_it() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url, "").await;
        let r = client.get("/accounts/login/").send().await;
        assert_eq!(r.status(), 200);
        assert!(r.text().contains("name=\"username\""));
        // Some session data before logging in (a cart), under a key.
        client.get("/cart/").send().await;
        let anonymous_key = client.cookie("sessionid").expect("the cart made a session");
        let r = log_in(&client, "ana", "correct horse 42").await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert_eq!(r.header("location"), Some("/"));
        let key = client.cookie("sessionid").expect("logged in");
        assert_ne!(key, anonymous_key, "login gives the session a new key");
        let stale = client.new_browser();
        stale.set_cookie("sessionid", &anonymous_key);
        assert_eq!(stale.get("/whoami/").send().await.text(), "anonymous");
        assert_eq!(client.get("/whoami/").send().await.text(), "ana");
        let ana = User::objects()
            .filter(User::username.eq("ana"))
            .get(&db)
            .await?;
        assert!(ana.last_login.is_some());

        // Logging in again as someone else in the same session: flushed,
        // new key.
        let other = User::new("bob", "another horse 42", &HasherSettings::default());
        User::objects().create(&db, other).await?;
        log_in(&client, "bob", "another horse 42").await;
        assert_ne!(client.cookie("sessionid").unwrap(), key);
        assert_eq!(client.get("/whoami/").send().await.text(), "bob");

        // Logout is POST only.
        let r = client.get("/accounts/logout/").send().await;
        assert_eq!(r.status(), 405);
        assert_eq!(client.get("/whoami/").send().await.text(), "bob");
        let before = client.cookie("sessionid").unwrap();
        let r = client.post("/accounts/logout/").send().await;
        assert_eq!(r.status(), 200);
        assert!(r.text().contains("Logged out"));
        assert_eq!(client.cookie("sessionid"), None);
        assert_eq!(client.get("/whoami/").send().await.text(), "anonymous");
        // The old key is dead in the store too.
        let replay = client.new_browser();
        replay.set_cookie("sessionid", &before);
        assert_eq!(replay.get("/whoami/").send().await.text(), "anonymous");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn wrong_passwords_inactive_users_and_unknown_users_get_the_same_answer() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url, "").await;
        let wrong = log_in(&client, "ana", "wrong").await;
        let unknown = log_in(&client, "nobody", "correct horse 42").await;
        let inactive = log_in(&client, "ghost", "correct horse 42").await;
        for r in [&wrong, &unknown, &inactive] {
            assert_eq!(r.status(), 200);
            assert!(r.text().contains(
                "Please enter a correct username and password. Note that both fields may be case-sensitive."
            ));
            assert_eq!(client.cookie("sessionid"), None);
        }
        // The username typed is shown again, escaped.
        let r = log_in(&client, "<b>x</b>", "pw").await;
        assert!(r.text().contains("&#60;b&#62;x&#60;/b&#62;") || r.text().contains("&lt;b&gt;"));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn next_stays_on_the_site() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url, "").await;
        for (next, expected) in [
            ("https://evil.example", "/"),
            ("//evil.example", "/"),
            ("///evil.example", "/"),
            ("/\\evil.example", "/"),
            ("javascript:alert(1)", "/"),
            ("http://testserver/private/", "http://testserver/private/"),
            ("/private/?a=1", "/private/?a=1"),
        ] {
            let browser = client.new_browser();
            let r = browser
                .post("/accounts/login/")
                .form(&[
                    ("username", "ana"),
                    ("password", "correct horse 42"),
                    ("next", next),
                ])
                .send()
                .await;
            assert_eq!(r.status(), 302, "{next}");
            assert_eq!(r.header("location"), Some(expected), "next={next}");
            // Also from the query string.
            let browser = client.new_browser();
            let path = format!(
                "/accounts/login/?next={}",
                next.replace('/', "%2F")
                    .replace(':', "%3A")
                    .replace('\\', "%5C")
                    .replace('?', "%3F")
                    .replace('=', "%3D")
            );
            let r = browser
                .post(&path)
                .form(&[("username", "ana"), ("password", "correct horse 42")])
                .send()
                .await;
            assert_eq!(r.header("location"), Some(expected), "query next={next}");
        }
        // The login form carries a safe next only.
        let r = client
            .get("/accounts/login/?next=%2F%2Fevil.example")
            .send()
            .await;
        assert!(!r.text().contains("evil.example"));
        let r = client
            .get("/accounts/login/?next=%2Fprivate%2F")
            .send()
            .await;
        assert!(r.text().contains("value=\"/private/\""));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn login_required_redirects_with_next() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url, "").await;
        let r = client.get("/private/?page=2").send().await;
        assert_eq!(r.status(), 302);
        assert_eq!(
            r.header("location"),
            Some("/accounts/login/?next=/private/%3Fpage%3D2")
        );
        let r = client
            .post("/accounts/login/?next=/private/%3Fpage%3D2")
            .form(&[("username", "ana"), ("password", "correct horse 42")])
            .send()
            .await;
        assert_eq!(r.header("location"), Some("/private/?page=2"));
        assert_eq!(
            client.get("/private/").send().await.text(),
            "private page of ana"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_but_not_this_one() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url, "").await;
        let laptop = client.new_browser();
        let phone = client.new_browser();
        log_in(&laptop, "ana", "correct horse 42").await;
        log_in(&phone, "ana", "correct horse 42").await;
        assert_eq!(phone.get("/whoami/").send().await.text(), "ana");
        let key = laptop.cookie("sessionid").unwrap();

        // Mistakes first: wrong old password, mismatch, weak password.
        let r = laptop
            .post("/accounts/password_change/")
            .form(&[
                ("old_password", "nope"),
                ("new_password1", "a brand new horse 7"),
                ("new_password2", "a brand new horse 7"),
            ])
            .send()
            .await;
        assert!(
            r.text()
                .contains("Your old password was entered incorrectly.")
        );
        let r = laptop
            .post("/accounts/password_change/")
            .form(&[
                ("old_password", "correct horse 42"),
                ("new_password1", "a brand new horse 7"),
                ("new_password2", "another"),
            ])
            .send()
            .await;
        assert!(r.text().contains("didn’t match"), "{}", r.text());
        let r = laptop
            .post("/accounts/password_change/")
            .form(&[
                ("old_password", "correct horse 42"),
                ("new_password1", "12345678"),
                ("new_password2", "12345678"),
            ])
            .send()
            .await;
        assert!(
            r.text().contains("This password is too common."),
            "{}",
            r.text()
        );
        assert!(r.text().contains("This password is entirely numeric."));

        let r = laptop
            .post("/accounts/password_change/")
            .form(&[
                ("old_password", "correct horse 42"),
                ("new_password1", "a brand new horse 7"),
                ("new_password2", "a brand new horse 7"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert_eq!(
            r.header("location"),
            Some("/accounts/password_change/done/")
        );
        // This session lives on, under a new key.
        assert_ne!(laptop.cookie("sessionid").unwrap(), key);
        assert_eq!(laptop.get("/whoami/").send().await.text(), "ana");
        assert_eq!(
            laptop
                .get("/accounts/password_change/done/")
                .send()
                .await
                .status(),
            200
        );
        // The other one is over.
        assert_eq!(phone.get("/whoami/").send().await.text(), "anonymous");
        // The new password works, the old one does not.
        assert_eq!(
            log_in(&client.new_browser(), "ana", "correct horse 42")
                .await
                .status(),
            200
        );
        assert_eq!(
            log_in(&client.new_browser(), "ana", "a brand new horse 7")
                .await
                .status(),
            302
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn repeated_failures_get_429_for_real_and_unknown_usernames_alike() {
    for_each_database_with_url(|db, url| async move {
        let client = site(
            &db,
            &url,
            "[throttle]\nper_username = 3\nper_address = 0\nwindow = 60",
        )
        .await;
        for username in ["ana", "nobody"] {
            for _ in 0..3 {
                assert_eq!(log_in(&client, username, "wrong").await.status(), 200);
            }
            let r = log_in(&client, username, "wrong").await;
            assert_eq!(r.status(), 429, "{username}");
            let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
            assert!(r.text().contains("Too many failed login attempts"));
        }
        // Even the right password waits now (case does not dodge it).
        assert_eq!(
            log_in(&client, "ANA", "correct horse 42").await.status(),
            429
        );
        // Another user is not affected.
        let bob = User::new("bob", "another horse 42", &HasherSettings::default());
        User::objects().create(&db, bob).await?;
        assert_eq!(
            log_in(&client, "bob", "another horse 42").await.status(),
            302
        );
        Ok(())
    })
    .await;
}

/// A hash made by Django 5.2 (`framework/tests/fixtures/django_password_hashes.json`).
#[tokio::test]
async fn a_django_pbkdf2_hash_logs_in_and_is_stored_as_argon2id() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/django_password_hashes.json")).unwrap();
    let password = fixture["password"].as_str().unwrap().to_owned();
    let pbkdf2 = fixture["hashes"]["pbkdf2_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(pbkdf2.starts_with("pbkdf2_sha256$"));
    for_each_database_with_url(|db, url| {
        let password = password.clone();
        let pbkdf2 = pbkdf2.clone();
        async move {
            let client = site(&db, &url, "").await;
            let mut migrated = User::new("django_user", "x", &HasherSettings::default());
            migrated.password = pbkdf2.clone();
            User::objects().create(&db, migrated).await?;
            assert_eq!(log_in(&client, "django_user", "not it").await.status(), 200);
            let stored = User::objects()
                .filter(User::username.eq("django_user"))
                .get(&db)
                .await?;
            assert_eq!(stored.password, pbkdf2, "a failed login changes nothing");
            let r = log_in(&client, "django_user", &password).await;
            assert_eq!(r.status(), 302);
            let stored = User::objects()
                .filter(User::username.eq("django_user"))
                .get(&db)
                .await?;
            assert!(
                stored.password.starts_with("argon2$argon2id$"),
                "{}",
                stored.password
            );
            // And the upgraded hash still logs in.
            assert_eq!(
                log_in(&client.new_browser(), "django_user", &password)
                    .await
                    .status(),
                302
            );
            Ok(())
        }
    })
    .await;
}

#[tokio::test]
async fn permissions_are_made_after_migrate_and_held_directly_through_groups_or_as_superuser() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url, "").await;
        // The auth app's own models got their four permissions each.
        let codenames: Vec<String> = Permission::objects()
            .filter(Permission::app_label.eq("auth"))
            .all(&db)
            .await?
            .into_iter()
            .map(|p| p.codename)
            .collect();
        for c in [
            "add_user",
            "change_user",
            "delete_user",
            "view_user",
            "view_group",
            "add_permission",
        ] {
            assert!(codenames.contains(&c.to_owned()), "{c} in {codenames:?}");
        }
        let names: Vec<String> = Permission::objects()
            .filter(Permission::codename.eq("change_user"))
            .all(&db)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["Can change user"]);
        // Idempotent.
        let count = Permission::objects().count(&db).await?;
        project(&url, "").migrate(&db).await.unwrap();
        assert_eq!(Permission::objects().count(&db).await?, count);

        // A permission of another app, as a blog would have.
        let add = Permission::objects()
            .create(
                &db,
                Permission {
                    id: Default::default(),
                    name: "Can add article".into(),
                    app_label: "blog".into(),
                    codename: "add_article".into(),
                },
            )
            .await?;
        let ana = User::objects()
            .filter(User::username.eq("ana"))
            .get(&db)
            .await?;
        log_in(&client, "ana", "correct horse 42").await;
        let r = client.get("/blog/new/").send().await;
        assert_eq!(r.status(), 403);
        assert!(!ana.has_perm(&db, "blog.add_article").await?);
        assert!(!ana.has_module_perms(&db, "blog").await?);

        // Through a group.
        let editors = Group::objects()
            .create(
                &db,
                Group {
                    id: Default::default(),
                    name: "editors".into(),
                    permissions: Default::default(),
                },
            )
            .await?;
        editors.permissions.add(&db, &[&add]).await?;
        ana.groups.add(&db, &[&editors]).await?;
        assert!(ana.has_perm(&db, "blog.add_article").await?);
        assert!(ana.has_perms(&db, &["blog.add_article"]).await?);
        assert!(
            !ana.has_perms(&db, &["blog.add_article", "blog.delete_article"])
                .await?
        );
        assert!(ana.has_module_perms(&db, "blog").await?);
        assert_eq!(
            client.get("/blog/new/").send().await.text(),
            "ana may add articles"
        );
        ana.groups.clear(&db).await?;
        assert_eq!(client.get("/blog/new/").send().await.status(), 403);
        // Directly.
        ana.user_permissions.add(&db, &[&add]).await?;
        assert_eq!(client.get("/blog/new/").send().await.status(), 200);

        // A superuser holds everything; an inactive one nothing.
        let mut root = User::new("root", "root horse 42", &HasherSettings::default());
        root.is_superuser = true;
        let root = User::objects().create(&db, root).await?;
        assert!(root.has_perm(&db, "anything.at_all").await?);
        let mut off = root.clone();
        off.is_active = false;
        assert!(!off.has_perm(&db, "anything.at_all").await?);

        // Anonymous visitors go to the login page.
        let r = client.new_browser().get("/blog/new/").send().await;
        assert_eq!(r.status(), 302);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn staff_required() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url, "").await;
        assert_eq!(client.get("/staff/").send().await.status(), 302);
        log_in(&client, "ana", "correct horse 42").await;
        assert_eq!(client.get("/staff/").send().await.status(), 403);
        User::objects()
            .filter(User::username.eq("ana"))
            .update(&db, [User::is_staff.set(true)])
            .await?;
        assert_eq!(client.get("/staff/").send().await.text(), "staff ana");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_deactivated_user_is_logged_out() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url, "").await;
        log_in(&client, "ana", "correct horse 42").await;
        assert_eq!(client.get("/whoami/").send().await.text(), "ana");
        User::objects()
            .filter(User::username.eq("ana"))
            .update(&db, [User::is_active.set(false)])
            .await?;
        assert_eq!(client.get("/whoami/").send().await.text(), "anonymous");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_whoami_page_costs_two_queries() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url, "").await;
        log_in(&client, "ana", "correct horse 42").await;
        let site_db = client.database().unwrap().clone();
        let before = site_db.query_count();
        assert_eq!(client.get("/whoami/").send().await.text(), "ana");
        assert_eq!(
            site_db.query_count() - before,
            2,
            "the session and the user"
        );
        // An anonymous visitor without a cookie: none.
        let before = site_db.query_count();
        assert_eq!(
            client.new_browser().get("/whoami/").send().await.text(),
            "anonymous"
        );
        assert_eq!(site_db.query_count(), before);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_checks_want_the_sessions_app_first() {
    let project = Project::new(Settings::default()).app(auth::app());
    let messages = project.check(false).unwrap();
    assert!(messages.iter().any(|m| m.id == "auth.E001"), "{messages:?}");
    let project = Project::new(Settings::default())
        .app(auth::app())
        .app(sessions::app())
        .configure(|s| s.set_section("sessions", "store = \"memory\"").unwrap());
    let messages = project.check(false).unwrap();
    assert!(messages.iter().any(|m| m.id == "auth.E002"), "{messages:?}");
}

#[tokio::test]
async fn the_login_form_needs_its_csrf_token_and_login_rotates_it() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url, "").await.enforce_csrf_checks();
        let r = log_in(&client, "ana", "correct horse 42").await;
        assert_eq!(r.status(), 403, "no token");
        let page = client.get("/accounts/login/").send().await.text();
        let marker = r#"name="csrfmiddlewaretoken" value=""#;
        let start = page.find(marker).expect("the form has the token") + marker.len();
        let token = page[start..start + 64].to_owned();
        let secret = client
            .cookie("csrftoken")
            .expect("the page set the CSRF cookie");
        let r = client
            .post("/accounts/login/")
            .form(&[
                ("csrfmiddlewaretoken", "x".repeat(64).as_str()),
                ("username", "ana"),
                ("password", "correct horse 42"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 403, "a wrong token");
        let r = client
            .post("/accounts/login/")
            .form(&[
                ("csrfmiddlewaretoken", token.as_str()),
                ("username", "ana"),
                ("password", "correct horse 42"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert_ne!(
            client.cookie("csrftoken").unwrap(),
            secret,
            "login rotates the CSRF secret"
        );
        assert_eq!(client.get("/whoami/").send().await.text(), "ana");
        // A cross-origin post is refused even with a good token.
        let page = client.get("/accounts/login/").send().await.text();
        let start = page.find(marker).unwrap() + marker.len();
        let token = page[start..start + 64].to_owned();
        let r = client
            .post("/accounts/logout/")
            .header("origin", "https://evil.example")
            .form(&[("csrfmiddlewaretoken", token.as_str())])
            .send()
            .await;
        assert_eq!(r.status(), 403);
        Ok(())
    })
    .await;
}

/// The reset link in the last mail of the outbox.
fn reset_link(client: &Client) -> String {
    let mailer = client.services().get::<manouche::mail::Mailer>().unwrap();
    let mail = mailer
        .outbox()
        .unwrap()
        .messages()
        .pop()
        .expect("a reset mail was sent");
    let body = mail.body();
    let start = body
        .find("http://testserver/")
        .expect("the mail has the link");
    let link = body[start..].split_whitespace().next().unwrap();
    link.trim_start_matches("http://testserver").to_owned()
}

#[tokio::test]
async fn a_password_reset_link_works_once_and_expires() {
    for_each_database_with_url(|db, url| async move {
        let project = project(&url, "password_reset_timeout = 2")
            .configure(|s| s.email.backend = Some(manouche::settings::EmailBackendKind::Memory));
        project.migrate(&db).await.unwrap();
        let mut ana = User::new("ana", "correct horse 42", &HasherSettings::default());
        ana.email = "ana@example.com".into();
        User::objects().create(&db, ana).await?;
        let client = Client::new(project).unwrap();
        let phone = client.new_browser();
        log_in(&phone, "ana", "correct horse 42").await;

        // An unknown address gets the same answer, and no mail.
        let r = client
            .post("/accounts/password_reset/")
            .form(&[("email", "nobody@example.com")])
            .send()
            .await;
        assert_eq!(r.header("location"), Some("/accounts/password_reset/done/"));
        let mailer = client.services().get::<manouche::mail::Mailer>().unwrap();
        assert!(mailer.outbox().unwrap().messages().is_empty());
        let r = client
            .post("/accounts/password_reset/")
            .form(&[("email", "not an address")])
            .send()
            .await;
        assert!(r.text().contains("Enter a valid email address."));

        let r = client
            .post("/accounts/password_reset/")
            .form(&[("email", "ANA@example.com")])
            .send()
            .await;
        assert_eq!(r.header("location"), Some("/accounts/password_reset/done/"));
        let mail = mailer.outbox().unwrap().messages().pop().unwrap();
        assert_eq!(mail.subject(), "Password reset on testserver");
        assert!(
            mail.body()
                .contains("Your username, in case you’ve forgotten: ana")
        );
        let link = reset_link(&client);
        // The link moves the token into the session.
        let r = client.get(&link).send().await;
        assert_eq!(r.status(), 302);
        let form = r.header("location").unwrap().to_owned();
        assert!(form.ends_with("/set-password/"), "{form}");
        let r = client.get(&form).send().await;
        assert!(r.text().contains("Enter new password"));
        // A weak password is refused, then a good one is set.
        let r = client
            .post(&form)
            .form(&[("new_password1", "password"), ("new_password2", "password")])
            .send()
            .await;
        assert!(r.text().contains("This password is too common."));
        let r = client
            .post(&form)
            .form(&[
                ("new_password1", "reset horse 99"),
                ("new_password2", "reset horse 99"),
            ])
            .send()
            .await;
        assert_eq!(r.header("location"), Some("/accounts/reset/done/"));
        assert_eq!(
            log_in(&client.new_browser(), "ana", "reset horse 99")
                .await
                .status(),
            302
        );
        // The other session ended; the used link is refused.
        assert_eq!(phone.get("/whoami/").send().await.text(), "anonymous");
        let again = client.new_browser();
        let r = again.get(&link).send().await;
        assert!(
            r.text().contains("Password reset unsuccessful"),
            "{}",
            r.text()
        );
        let r = again
            .post(&form)
            .form(&[
                ("new_password1", "evil horse 99"),
                ("new_password2", "evil horse 99"),
            ])
            .send()
            .await;
        assert!(r.text().contains("Password reset unsuccessful"));

        // An expired link is refused.
        client
            .post("/accounts/password_reset/")
            .form(&[("email", "ana@example.com")])
            .send()
            .await;
        let link = reset_link(&client);
        tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
        let r = client.new_browser().get(&link).send().await;
        assert!(r.text().contains("Password reset unsuccessful"));
        // A made-up one too.
        let r = client
            .new_browser()
            .get("/accounts/reset/MQ/abc-def/")
            .send()
            .await;
        assert!(r.text().contains("Password reset unsuccessful"));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn apps_hear_of_logins_logouts_and_failures() {
    use std::sync::{Arc, Mutex};
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    for_each_database_with_url(|db, url| {
        let heard = Arc::clone(&heard);
        async move {
            heard.lock().unwrap().clear();
            let listener = Arc::clone(&heard);
            let project = project(&url, "").app(App::new("audit").ready(move |ready| {
                let listener = Arc::clone(&listener);
                auth::on_event(ready, move |event| {
                    let line = match event {
                        auth::AuthEvent::LoggedIn { user } => format!("in {}", user.username),
                        auth::AuthEvent::LoggedOut { user } => {
                            format!("out {}", user.map_or("-", |u| u.username.as_str()))
                        }
                        auth::AuthEvent::LoginFailed { username, .. } => {
                            format!("failed {username}")
                        }
                        _ => "other".to_owned(),
                    };
                    listener.lock().unwrap().push(line);
                });
                Ok(())
            }));
            project.migrate(&db).await.unwrap();
            User::objects()
                .create(
                    &db,
                    User::new("ana", "correct horse 42", &HasherSettings::default()),
                )
                .await?;
            let client = Client::new(project).unwrap();
            log_in(&client, "ana", "wrong").await;
            log_in(&client, "ghost", "whatever").await;
            log_in(&client, "ana", "correct horse 42").await;
            client.post("/accounts/logout/").send().await;
            assert_eq!(
                *heard.lock().unwrap(),
                ["failed ana", "failed ghost", "in ana", "out ana"]
            );
            Ok(())
        }
    })
    .await;
}
