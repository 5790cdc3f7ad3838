//! The admin's history and its own account pages, in process, on SQLite
//! and (with `DATABASE_URL`) PostgreSQL: additions, changes and deletions
//! write `LogEntry` rows with Django's change messages; each object's
//! history page lists them newest first behind the change page's
//! permissions; the index shows the member's recent actions; the admin's
//! login lets in active staff only, logout needs a POST with the CSRF
//! token, and a password change keeps the session that made it.

use manouche::contrib::admin::{ActionFlag, AdminSite, LogEntry, ModelAdmin};
use manouche::contrib::auth::User;
use manouche::contrib::auth::hashers::HasherSettings;
use manouche::db::testing::for_each_database_with_url;
use manouche::db::{Auto, Database, Model, schema};
use manouche::prelude::*;
use manouche::test::{Client, TestResponse};

#[path = "support/admin.rs"]
mod support;
use support::{PASSWORD, admin_project, grant, log_in_at};

#[derive(Debug, Clone, Default, Model)]
#[model(app = "shop", ordering = "title")]
pub struct Product {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub title: String,
    #[model(blank)]
    pub description: String,
    pub price: i32,
}

impl Product {
    fn key(&self) -> i64 {
        self.id.get().expect("saved")
    }
}

fn project(url: &str) -> Project {
    admin_project(url)
        .app(App::new("shop").model::<Product>())
        .app(
            AdminSite::new()
                .site_header("Shop admin")
                .register(ModelAdmin::<Product>::new().title(|p| p.title.clone()))
                .app(),
        )
}

const STAFF_ONLY: &str = "Please enter the correct username and password for a staff account. Note that both fields may be case-sensitive.";

/// A migrated site with the superuser `root`, the staff member `clerk`
/// (no permission yet), `visitor` (not staff) and `gone` (staff, but
/// inactive).
async fn site(db: &Database, url: &str) -> Client {
    let project = project(url);
    project.migrate(db).await.expect("migrate");
    schema::create_tables(db, &[Product::schema()])
        .await
        .expect("tables");
    let hasher = HasherSettings::default();
    let mut root = User::new("root", PASSWORD, &hasher);
    root.is_staff = true;
    root.is_superuser = true;
    root.first_name = "Ruth".into();
    root.last_name = "Oot".into();
    User::objects().create(db, root).await.unwrap();
    let mut clerk = User::new("clerk", PASSWORD, &hasher);
    clerk.is_staff = true;
    User::objects().create(db, clerk).await.unwrap();
    User::objects()
        .create(db, User::new("visitor", PASSWORD, &hasher))
        .await
        .unwrap();
    let mut gone = User::new("gone", PASSWORD, &hasher);
    gone.is_staff = true;
    gone.is_active = false;
    User::objects().create(db, gone).await.unwrap();
    Client::new(project).unwrap()
}

/// Logs `username` in through the admin's own login page.
async fn log_in(client: &Client, username: &str) {
    log_in_at(client, "/admin/login/", username).await;
}

async fn add(client: &Client, title: &str, description: &str, price: &str) -> TestResponse {
    client
        .post("/admin/shop/product/add/")
        .form(&[
            ("title", title),
            ("description", description),
            ("price", price),
            ("_save", ""),
        ])
        .send()
        .await
}

async fn change(client: &Client, pk: i64, title: &str, description: &str, price: &str) {
    let r = client
        .post(&format!("/admin/shop/product/{pk}/change/"))
        .form(&[
            ("title", title),
            ("description", description),
            ("price", price),
            ("_save", ""),
        ])
        .send()
        .await;
    assert_eq!(r.status(), 302, "{}", r.text());
}

async fn product(db: &Database, title: &str) -> Product {
    Product::objects()
        .filter(Product::title.eq(title))
        .get(db)
        .await
        .unwrap()
}

async fn entries(db: &Database) -> Vec<LogEntry> {
    LogEntry::objects()
        .order_by(LogEntry::id.asc())
        .all(db)
        .await
        .unwrap()
}

async fn user_id(db: &Database, username: &str) -> i64 {
    User::objects()
        .filter(User::username.eq(username))
        .get(db)
        .await
        .unwrap()
        .key()
}

/// The CSRF token of the form on `path`.
async fn csrf_token(client: &Client, path: &str) -> String {
    let page = client.get(path).send().await.text();
    let marker = r#"name="csrfmiddlewaretoken" value=""#;
    let start = page
        .find(marker)
        .expect("the page has a form with the token")
        + marker.len();
    page[start..start + 64].to_owned()
}

#[tokio::test]
async fn additions_changes_and_deletions_are_logged_with_djangos_messages() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        let root = user_id(&db, "root").await;

        let r = add(&client, "Anvil", "Heavy", "120").await;
        assert_eq!(r.status(), 302, "{}", r.text());
        let anvil = product(&db, "Anvil").await;
        let log = entries(&db).await;
        assert_eq!(log.len(), 1);
        let added = &log[0];
        assert_eq!(added.action(), Some(ActionFlag::Addition));
        assert_eq!(added.action_flag, 1);
        assert_eq!(added.change_message, r#"[{"added":{}}]"#);
        assert_eq!(added.change_message_text(), "Added.");
        assert_eq!(added.object_repr, "Anvil");
        assert_eq!(
            added.object_id.as_deref(),
            Some(anvil.key().to_string().as_str())
        );
        assert_eq!(
            (added.app_label.as_str(), added.model.as_str()),
            ("shop", "product")
        );
        assert_eq!(added.user.id(), Some(&root));

        // A form with errors saves nothing and logs nothing.
        let r = add(&client, "", "", "not a number").await;
        assert_eq!(r.status(), 200);
        assert_eq!(entries(&db).await.len(), 1);

        change(&client, anvil.key(), "Anvil (used)", "Very heavy", "120").await;
        change(&client, anvil.key(), "Anvil (used)", "Very heavy", "120").await;
        let log = entries(&db).await;
        assert_eq!(log.len(), 3);
        assert_eq!(log[1].action(), Some(ActionFlag::Change));
        assert_eq!(
            log[1].change_message,
            r#"[{"changed":{"fields":["Title","Description"]}}]"#
        );
        assert_eq!(
            log[1].change_message_text(),
            "Changed Title and Description."
        );
        assert_eq!(
            log[1].object_repr, "Anvil (used)",
            "the title after the change"
        );
        assert_eq!(log[2].change_message, "[]");
        assert_eq!(log[2].change_message_text(), "No fields changed.");

        // The confirmation page deletes nothing and logs nothing.
        let path = format!("/admin/shop/product/{}/delete/", anvil.key());
        assert_eq!(client.get(&path).send().await.status(), 200);
        assert_eq!(entries(&db).await.len(), 3);
        let r = client.post(&path).form(&[]).send().await;
        assert_eq!(r.status(), 302, "{}", r.text());
        let log = entries(&db).await;
        assert_eq!(log.len(), 4);
        let deleted = &log[3];
        assert_eq!(deleted.action(), Some(ActionFlag::Deletion));
        assert_eq!(deleted.change_message, r#"[{"deleted":{}}]"#);
        assert_eq!(deleted.object_repr, "Anvil (used)");
        assert_eq!(deleted.to_string(), "Deleted “Anvil (used).”");
        assert_eq!(deleted.admin_url(), None, "no link to a deleted object");
        assert_eq!(
            log[1].admin_url(),
            Some(format!("/admin/shop/product/{}/change/", anvil.key()))
        );
        // Who did it is recorded: another member's entries are theirs.
        grant(&db, "clerk", "shop", "add_product").await;
        let clerk = client.new_browser();
        log_in(&clerk, "clerk").await;
        assert_eq!(add(&clerk, "Banjo", "", "300").await.status(), 302);
        let last = entries(&db).await.pop().unwrap();
        assert_eq!(last.user.id(), Some(&user_id(&db, "clerk").await));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_history_page_lists_the_entries_newest_first_behind_the_change_permissions() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        assert_eq!(add(&client, "Anvil", "Heavy", "120").await.status(), 302);
        let pk = product(&db, "Anvil").await.key();
        change(&client, pk, "Anvil", "Very heavy", "110").await;
        change(&client, pk, "Anvil", "Very heavy", "100").await;
        let path = format!("/admin/shop/product/{pk}/history/");

        // The change page links to it.
        let form = client
            .get(&format!("/admin/shop/product/{pk}/change/"))
            .send()
            .await
            .text();
        assert!(
            form.contains(r#"<a href="../history/">History</a>"#),
            "{form}"
        );
        assert!(
            !client
                .get("/admin/shop/product/add/")
                .send()
                .await
                .text()
                .contains("History"),
            "an add page has no history"
        );

        let r = client.get(&path).send().await;
        assert_eq!(r.status(), 200);
        let page = r.text();
        assert!(page.contains("Change history: Anvil"), "{page}");
        assert!(page.contains("root (Ruth Oot)"), "{page}");
        let at = |needle: &str| {
            page.find(needle)
                .unwrap_or_else(|| panic!("{needle} missing from {page}"))
        };
        assert!(at("Changed Price.") < at("Changed Description and Price."));
        assert!(at("Changed Description and Price.") < at("Added."));
        assert_eq!(page.matches("<time datetime=").count(), 3);

        // Another object's entries are not listed.
        assert_eq!(add(&client, "Banjo", "", "300").await.status(), 302);
        let banjo = product(&db, "Banjo").await.key();
        let page = client.get(&path).send().await.text();
        assert_eq!(page.matches("<time datetime=").count(), 3);
        let banjo_page = client
            .get(&format!("/admin/shop/product/{banjo}/history/"))
            .send()
            .await
            .text();
        assert_eq!(banjo_page.matches("<time datetime=").count(), 1);

        // An object made outside the admin has no history yet.
        let mut drum = Product {
            title: "Drum".into(),
            price: 80,
            ..Default::default()
        };
        drum.save(&db).await.unwrap();
        let page = client
            .get(&format!("/admin/shop/product/{}/history/", drum.key()))
            .send()
            .await
            .text();
        assert!(page.contains("doesn’t have a change history"), "{page}");

        // 100 entries a page, newest first; `?p=` for the others.
        let root = user_id(&db, "root").await;
        for n in 0..120 {
            LogEntry::objects()
                .create(
                    &db,
                    LogEntry {
                        user: manouche::db::ForeignKey::new(root),
                        app_label: "shop".into(),
                        model: "product".into(),
                        object_id: Some(drum.key().to_string()),
                        object_repr: "Drum".into(),
                        action_flag: ActionFlag::Change.flag(),
                        change_message: format!("Entry number {n}."),
                        ..LogEntry::default()
                    },
                )
                .await
                .unwrap();
        }
        let drum_history = format!("/admin/shop/product/{}/history/", drum.key());
        let first = client.get(&drum_history).send().await.text();
        assert_eq!(first.matches("<time datetime=").count(), 100);
        assert!(first.contains("Entry number 119."), "{first}");
        assert!(!first.contains("Entry number 19."));
        assert!(first.contains("120 entries · page 1 of 2"), "{first}");
        assert!(first.contains(r#"<a href="?p=2">2</a>"#), "{first}");
        let second = client
            .get(&format!("{drum_history}?p=2"))
            .send()
            .await
            .text();
        assert_eq!(second.matches("<time datetime=").count(), 20);
        assert!(second.contains("Entry number 0."), "{second}");
        assert!(!second.contains("Entry number 20."));
        let lenient = client.get(&format!("{drum_history}?p=junk")).send().await;
        assert_eq!(lenient.status(), 200);
        assert!(lenient.text().contains("page 1 of 2"));

        // 404 for a model not in the admin or an object not there.
        assert_eq!(
            client
                .get("/admin/shop/nothing/1/history/")
                .send()
                .await
                .status(),
            404
        );
        assert_eq!(
            client
                .get("/admin/shop/product/9999/history/")
                .send()
                .await
                .status(),
            404
        );

        // Anonymous: to the admin's login, coming back afterwards.
        let anonymous = client.new_browser();
        let r = anonymous.get(&path).send().await;
        assert_eq!(r.status(), 302);
        assert_eq!(
            r.header("location"),
            Some(format!("/admin/login/?next={path}").as_str())
        );
        // Staff without view or change: 403; either one is enough.
        let clerk = client.new_browser();
        log_in(&clerk, "clerk").await;
        assert_eq!(clerk.get(&path).send().await.status(), 403);
        grant(&db, "clerk", "shop", "view_product").await;
        assert_eq!(clerk.get(&path).send().await.status(), 200);
        let editor = {
            let hasher = HasherSettings::default();
            let mut editor = User::new("editor", PASSWORD, &hasher);
            editor.is_staff = true;
            User::objects().create(&db, editor).await.unwrap();
            grant(&db, "editor", "shop", "change_product").await;
            let browser = client.new_browser();
            log_in(&browser, "editor").await;
            browser
        };
        assert_eq!(editor.get(&path).send().await.status(), 200);
        // Not staff: 403 as every admin page.
        let visitor = client.new_browser();
        let r = visitor
            .post("/accounts/login/")
            .form(&[("username", "visitor"), ("password", PASSWORD)])
            .send()
            .await;
        assert_eq!(r.status(), 302);
        assert_eq!(visitor.get(&path).send().await.status(), 403);
        Ok(())
    })
    .await;
}

/// The index's "Recent actions" box.
async fn recent(client: &Client) -> String {
    let page = client.get("/admin/").send().await.text();
    let start = page
        .find(r#"id="recent-actions""#)
        .expect("the box is there");
    let end = page[start..].find("</aside>").expect("the box ends") + start;
    page[start..end].to_owned()
}

#[tokio::test]
async fn the_index_shows_my_last_ten_actions_linked_while_the_objects_exist() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        let page = client.get("/admin/").send().await.text();
        assert!(page.contains("Recent actions"), "{page}");
        assert!(page.contains("None available"), "{page}");

        assert_eq!(add(&client, "Anvil", "", "120").await.status(), 302);
        assert_eq!(add(&client, "Banjo", "", "300").await.status(), 302);
        assert_eq!(add(&client, "Cello", "", "900").await.status(), 302);
        let anvil = product(&db, "Anvil").await.key();
        let banjo = product(&db, "Banjo").await.key();
        let cello = product(&db, "Cello").await;
        // Banjo deleted in the admin, Cello behind its back.
        let r = client
            .post(&format!("/admin/shop/product/{banjo}/delete/"))
            .form(&[])
            .send()
            .await;
        assert_eq!(r.status(), 302);
        cello.delete(&db).await.unwrap();

        let page = recent(&client).await;
        assert!(!page.contains("None available"));
        assert!(
            page.contains(&format!(
                r#"<a href="/admin/shop/product/{anvil}/change/">Anvil</a>"#
            )),
            "{page}"
        );
        assert!(!page.contains(&format!("/admin/shop/product/{banjo}/change/")));
        assert!(!page.contains(&format!("/admin/shop/product/{}/change/", cello.key())));
        assert_eq!(
            page.matches("Banjo").count(),
            2,
            "added and deleted: {page}"
        );
        assert!(
            page.contains(r#"<li class="deletion"><span class="visually-hidden">Deleted:</span>"#)
        );
        assert!(page.contains("<span class=\"model\">Product</span>"));

        // An entry of a model no longer in the admin: named by its label,
        // without a link.
        LogEntry::objects()
            .create(
                &db,
                LogEntry {
                    user: manouche::db::ForeignKey::new(user_id(&db, "root").await),
                    app_label: "attic".into(),
                    model: "widget".into(),
                    object_id: Some("3".into()),
                    object_repr: "Old widget".into(),
                    action_flag: ActionFlag::Change.flag(),
                    ..LogEntry::default()
                },
            )
            .await
            .unwrap();
        let page = recent(&client).await;
        assert!(page.contains("Old widget"), "{page}");
        assert!(
            page.contains("<span class=\"model\">attic.widget</span>"),
            "{page}"
        );
        assert!(!page.contains("/admin/attic/"), "{page}");

        // Only my own actions, and only the last ten.
        grant(&db, "clerk", "shop", "add_product").await;
        grant(&db, "clerk", "shop", "view_product").await;
        let clerk = client.new_browser();
        log_in(&clerk, "clerk").await;
        assert_eq!(add(&clerk, "Zither", "", "1").await.status(), 302);
        assert!(!recent(&client).await.contains("Zither"));
        assert!(recent(&clerk).await.contains("Zither"));
        for n in 0..10 {
            change(&client, anvil, "Anvil", "", &n.to_string()).await;
        }
        let page = recent(&client).await;
        assert_eq!(page.matches("<span class=\"model\">").count(), 10);
        assert!(!page.contains("Banjo"), "older than the last ten: {page}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_admin_login_lets_in_active_staff_only_and_redirects_safely() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        // Anonymous visitors of any admin page go to the admin's login.
        let r = client.get("/admin/").send().await;
        assert_eq!(r.header("location"), Some("/admin/login/?next=/admin/"));
        let page = client.get("/admin/login/?next=/admin/").send().await;
        assert_eq!(page.status(), 200);
        let page = page.text();
        assert!(page.contains("Shop admin"), "drawn as the admin: {page}");
        assert!(page.contains(r#"name="next" value="/admin/""#), "{page}");
        assert!(!page.contains("Log out"), "{page}");

        // Right password, but not staff, or not active: refused alike.
        for (username, password) in [
            ("visitor", PASSWORD),
            ("gone", PASSWORD),
            ("root", "wrong"),
            ("nobody", PASSWORD),
        ] {
            let r = client
                .post("/admin/login/")
                .form(&[("username", username), ("password", password)])
                .send()
                .await;
            assert_eq!(r.status(), 200, "{username}");
            assert!(r.text().contains(STAFF_ONLY), "{username}: {}", r.text());
            assert_eq!(
                client.get("/admin/").send().await.status(),
                302,
                "{username} is not logged in"
            );
        }
        // Not logged in through the auth app's pages either.
        let r = client.get("/accounts/password_change/").send().await;
        assert_eq!(r.status(), 302);

        // Staff: to `next` when it stays on the site, else the index.
        let r = client
            .post("/admin/login/?next=/admin/shop/product/")
            .form(&[("username", "clerk"), ("password", PASSWORD)])
            .send()
            .await;
        assert_eq!(r.status(), 302);
        assert_eq!(r.header("location"), Some("/admin/shop/product/"));
        assert_eq!(client.get("/admin/").send().await.status(), 200);
        // Logged in already: the login page goes on to the index.
        let r = client.get("/admin/login/").send().await;
        assert_eq!(r.header("location"), Some("/admin/"));
        for next in [
            "https://evil.example/",
            "//evil.example/",
            "javascript:alert(1)",
        ] {
            let browser = client.new_browser();
            let r = browser
                .post("/admin/login/")
                .form(&[("username", "root"), ("password", PASSWORD), ("next", next)])
                .send()
                .await;
            assert_eq!(r.status(), 302, "{next}");
            assert_eq!(r.header("location"), Some("/admin/"), "{next}");
        }
        // A logged-in user who is not staff is told, and may switch.
        let visitor = client.new_browser();
        let r = visitor
            .post("/accounts/login/")
            .form(&[("username", "visitor"), ("password", PASSWORD)])
            .send()
            .await;
        assert_eq!(r.status(), 302);
        let page = visitor.get("/admin/login/").send().await.text();
        assert!(page.contains("You are authenticated as visitor"), "{page}");

        // The auth app's throttle applies: 429 after five failures.
        let browser = client.new_browser();
        let mut last = None;
        for _ in 0..6 {
            let r = browser
                .post("/admin/login/")
                .form(&[("username", "clerk"), ("password", "wrong")])
                .send()
                .await;
            last = Some((r.status(), r.header("retry-after").is_some()));
        }
        assert_eq!(last, Some((StatusCode::TOO_MANY_REQUESTS, true)));
        let r = browser
            .post("/admin/login/")
            .form(&[("username", "clerk"), ("password", PASSWORD)])
            .send()
            .await;
        assert_eq!(
            r.status(),
            429,
            "the right password is refused too meanwhile"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn logout_needs_a_post_with_the_csrf_token() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await.enforce_csrf_checks();
        let token = csrf_token(&client, "/admin/login/").await;
        let r = client
            .post("/admin/login/")
            .form(&[("username", "root"), ("password", "x")])
            .send()
            .await;
        assert_eq!(r.status(), 403, "the login form needs its token");
        let r = client
            .post("/admin/login/")
            .form(&[
                ("csrfmiddlewaretoken", token.as_str()),
                ("username", "root"),
                ("password", PASSWORD),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());

        // Every page's header: the password change link and a logout form.
        let index = client.get("/admin/").send().await.text();
        assert!(index.contains(r#"<a href="/admin/password_change/">Change password</a>"#));
        assert!(
            index.contains(r#"<form method="post" action="/admin/logout/">"#),
            "{index}"
        );

        assert_eq!(client.get("/admin/logout/").send().await.status(), 405);
        let r = client.post("/admin/logout/").form(&[]).send().await;
        assert_eq!(r.status(), 403, "no token");
        assert_eq!(client.get("/admin/").send().await.status(), 200, "still in");

        let token = csrf_token(&client, "/admin/").await;
        let r = client
            .post("/admin/logout/")
            .form(&[("csrfmiddlewaretoken", token.as_str())])
            .send()
            .await;
        assert_eq!(r.status(), 200);
        let page = r.text();
        assert!(page.contains("Logged out"), "{page}");
        assert!(page.contains(r#"href="/admin/login/""#), "{page}");
        let r = client.get("/admin/").send().await;
        assert_eq!(r.header("location"), Some("/admin/login/?next=/admin/"));

        // With a safe `next`, there instead.
        let token = csrf_token(&client, "/admin/login/").await;
        let r = client
            .post("/admin/login/")
            .form(&[
                ("csrfmiddlewaretoken", token.as_str()),
                ("username", "root"),
                ("password", PASSWORD),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302);
        let token = csrf_token(&client, "/admin/").await;
        let r = client
            .post("/admin/logout/")
            .form(&[
                ("csrfmiddlewaretoken", token.as_str()),
                ("next", "/admin/login/"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302);
        assert_eq!(r.header("location"), Some("/admin/login/"));
        assert_eq!(client.get("/admin/").send().await.status(), 302);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_password_change_keeps_the_session_and_logs_out_the_others() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        let r = client.get("/admin/password_change/").send().await;
        assert_eq!(
            r.header("location"),
            Some("/admin/login/?next=/admin/password_change/")
        );
        log_in(&client, "clerk").await;
        let elsewhere = client.new_browser();
        log_in(&elsewhere, "clerk").await;

        let page = client.get("/admin/password_change/").send().await;
        assert_eq!(page.status(), 200);
        assert!(page.text().contains("Shop admin"));
        let new = "a brand new secret 77";
        let r = client
            .post("/admin/password_change/")
            .form(&[
                ("old_password", "wrong"),
                ("new_password1", new),
                ("new_password2", new),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 200);
        assert!(
            r.text()
                .contains("Your old password was entered incorrectly")
        );
        let r = client
            .post("/admin/password_change/")
            .form(&[
                ("old_password", PASSWORD),
                ("new_password1", new),
                ("new_password2", "something else"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 200);
        assert!(r.text().contains("The two password fields didn’t match."));
        let r = client
            .post("/admin/password_change/")
            .form(&[
                ("old_password", PASSWORD),
                ("new_password1", "123"),
                ("new_password2", "123"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 200, "the validators refuse a weak password");
        assert_eq!(client.get("/admin/").send().await.status(), 200);

        let r = client
            .post("/admin/password_change/")
            .form(&[
                ("old_password", PASSWORD),
                ("new_password1", new),
                ("new_password2", new),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert_eq!(r.header("location"), Some("/admin/password_change/done/"));
        let done = client.get("/admin/password_change/done/").send().await;
        assert_eq!(done.status(), 200);
        assert!(done.text().contains("Your password was changed."));
        assert_eq!(client.get("/admin/").send().await.status(), 200, "kept");
        assert_eq!(
            elsewhere.get("/admin/").send().await.status(),
            302,
            "the other session is logged out"
        );
        let fresh = client.new_browser();
        let r = fresh
            .post("/admin/login/")
            .form(&[("username", "clerk"), ("password", PASSWORD)])
            .send()
            .await;
        assert!(r.text().contains(STAFF_ONLY), "the old password is gone");
        let r = fresh
            .post("/admin/login/")
            .form(&[("username", "clerk"), ("password", new)])
            .send()
            .await;
        assert_eq!(r.status(), 302);
        Ok(())
    })
    .await;
}
