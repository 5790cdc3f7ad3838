//! The bench project in process, on SQLite and (with `DATABASE_URL`)
//! PostgreSQL: the endpoints the load tests hit do the work they claim
//! (the queries are counted), `seed` copies the peers' rows and makes a
//! user who logs in through the CSRF-checked login form, as
//! `scripts/session.sh` does.

use std::path::{Path, PathBuf};

use manouche::contrib::auth::User;
use manouche::contrib::sessions::SessionRow;
use manouche::db::testing::for_each_database_with_url;
use manouche::db::{Database, Model};
use manouche::prelude::*;
use manouche::test::{Client, TestResponse};
use sqlx::{ConnectOptions, Connection};

use crate::views::{Fortune, World};

/// The bench's own settings on the test database.
fn settings(database_url: &str) -> Settings {
    let mut settings = Settings::from_toml_str(include_str!("../settings.toml"))
        .expect("the bench's settings parse");
    settings.database_url = database_url.to_owned();
    settings
}

async fn migrated(db: &Database, url: &str) -> Client {
    let project = crate::project(settings(url));
    project.migrate(db).await.expect("migrate");
    Client::new(crate::project(settings(url))).expect("the project builds")
}

/// A SQLite file laid out as the Django peer's (Django's own DDL for the
/// two tables), with `worlds` and the first `fortunes` of the peers.
async fn peers_file(name: &str, worlds: i64, fortunes: &[&str]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "manouche-bench-peers-{name}-{}.sqlite3",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .expect("a scratch SQLite file");
    for ddl in [
        "CREATE TABLE bench_world (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, randomnumber integer NOT NULL)",
        "CREATE TABLE bench_fortune (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, message varchar(2048) NOT NULL)",
    ] {
        sqlx::query(ddl).execute(&mut conn).await.expect("DDL");
    }
    for id in 1..=worlds {
        sqlx::query("INSERT INTO bench_world (id, randomnumber) VALUES (?, ?)")
            .bind(id)
            .bind(id * 7 % 10_000 + 1)
            .execute(&mut conn)
            .await
            .expect("a world");
    }
    for (i, message) in fortunes.iter().enumerate() {
        sqlx::query("INSERT INTO bench_fortune (id, message) VALUES (?, ?)")
            .bind(i64::try_from(i).expect("few fortunes") + 1)
            .bind(*message)
            .execute(&mut conn)
            .await
            .expect("a fortune");
    }
    conn.close().await.expect("closed");
    path
}

async fn seed(url: &str, from: &Path, extra: &[&str]) {
    let mut args = vec![
        "bench",
        "seed",
        "--from",
        from.to_str().expect("a UTF-8 path"),
    ];
    args.extend_from_slice(extra);
    crate::project(settings(url))
        .manage_from(args)
        .await
        .expect("seed");
}

/// The login form's masked CSRF token, from the page's hidden field.
fn form_token(page: &TestResponse) -> String {
    let text = page.text();
    let at = text
        .find("name=\"csrfmiddlewaretoken\" value=\"")
        .expect("the login page has the CSRF field");
    let rest = &text[at + "name=\"csrfmiddlewaretoken\" value=\"".len()..];
    rest[..rest.find('"').expect("the value ends")].to_owned()
}

#[tokio::test]
async fn session_counts_with_one_read_and_one_write_per_request() {
    for_each_database_with_url(|db, url| async move {
        let client = migrated(&db, &url).await;
        let pool = client.database().expect("the site's pool").clone();
        let r = client.get("/session").send().await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text(), "1");
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));
        let key = client.cookie("sessionid").expect("a session was started");
        for expected in ["2", "3"] {
            let before = pool.query_count();
            let r = client.get("/session").send().await;
            assert_eq!(r.text(), expected);
            assert_eq!(
                pool.query_count() - before,
                2,
                "one read and one write of the session"
            );
        }
        assert_eq!(client.cookie("sessionid"), Some(key.clone()));
        let row = SessionRow::objects()
            .filter(SessionRow::session_key.eq(key))
            .get(&db)
            .await?;
        assert!(row.session_data.contains("\"n\":3"), "{}", row.session_data);
        // Another visitor has a counter of their own.
        assert_eq!(
            client.new_browser().get("/session").send().await.text(),
            "1"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn seed_copies_the_peers_rows_and_makes_a_superuser_who_logs_in_through_csrf() {
    for_each_database_with_url(|db, url| async move {
        let from = peers_file(
            "login",
            50,
            &[
                "fortune: No such file or directory",
                "フレームワークのベンチマーク",
            ],
        )
        .await;
        let client = migrated(&db, &url).await.enforce_csrf_checks();
        seed(&url, &from, &[]).await;
        assert_eq!(World::objects().count(&db).await?, 50);
        let world = World::objects().filter(World::id.eq(7)).get(&db).await?;
        assert_eq!(world.randomnumber, 50);
        let fortunes = Fortune::objects()
            .order_by(Fortune::id.asc())
            .all(&db)
            .await?;
        assert_eq!(fortunes.len(), 2);
        assert_eq!(fortunes[1].message, "フレームワークのベンチマーク");
        let admin = User::objects()
            .filter(User::username.eq("admin"))
            .get(&db)
            .await?;
        assert!(admin.is_superuser && admin.is_staff && admin.is_active);

        // Anonymous: an empty 403, as the Django peer's.
        let r = client.get("/whoami").send().await;
        assert_eq!(r.status(), 403);
        assert_eq!(r.text(), "");

        // CSRF is on: a login without the token is refused.
        let r = client
            .post("/accounts/login/")
            .form(&[("username", "admin"), ("password", "benchpass123")])
            .send()
            .await;
        assert_eq!(r.status(), 403);
        assert_eq!(client.cookie("sessionid"), None);

        // With the cookie and the form's token, as scripts/session.sh does.
        let page = client.get("/accounts/login/").send().await;
        assert!(client.cookie("csrftoken").is_some());
        let token = form_token(&page);
        let r = client
            .post("/accounts/login/")
            .form(&[
                ("csrfmiddlewaretoken", &token),
                ("username", "admin"),
                ("password", "benchpass123"),
                ("next", "/whoami"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert_eq!(r.header("location"), Some("/whoami"));
        assert!(client.cookie("sessionid").is_some());

        let pool = client.database().expect("the site's pool").clone();
        let before = pool.query_count();
        let r = client.get("/whoami").send().await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text(), "admin");
        assert_eq!(pool.query_count() - before, 2, "the session and the user");
        // The logged-in session counts too.
        assert_eq!(client.get("/session").send().await.text(), "1");
        assert_eq!(client.get("/session").send().await.text(), "2");
        assert_eq!(client.get("/whoami").send().await.text(), "admin");
        std::fs::remove_file(&from).ok();
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn seeding_again_replaces_the_rows_and_resets_the_password() {
    for_each_database_with_url(|db, url| async move {
        let first = peers_file("first", 30, &["one", "two", "three"]).await;
        let second = peers_file("second", 20, &["four"]).await;
        let client = migrated(&db, &url).await;
        seed(
            &url,
            &first,
            &["--username", "ana", "--password", "first pass 1"],
        )
        .await;
        seed(
            &url,
            &second,
            &["--username", "ana", "--password", "second pass 2"],
        )
        .await;
        assert_eq!(World::objects().count(&db).await?, 20);
        let fortunes = Fortune::objects().all(&db).await?;
        assert_eq!(fortunes.len(), 1);
        assert_eq!(fortunes[0].message, "four");
        assert_eq!(
            User::objects()
                .filter(User::username.eq("ana"))
                .count(&db)
                .await?,
            1
        );
        assert_eq!(
            User::objects().count(&db).await?,
            1,
            "no admin with --username"
        );
        // The keys' sequence starts past the copied rows (PostgreSQL).
        let made = World::objects()
            .create(
                &db,
                World {
                    id: Default::default(),
                    randomnumber: 1,
                },
            )
            .await?;
        assert_eq!(made.id.get(), Some(21));

        for (password, status) in [("first pass 1", 200), ("second pass 2", 302)] {
            let r = client
                .post("/accounts/login/")
                .form(&[("username", "ana"), ("password", password)])
                .send()
                .await;
            assert_eq!(r.status(), status, "{password}");
        }
        assert_eq!(client.get("/whoami").send().await.text(), "ana");

        // --no-user copies the rows only.
        seed(&url, &first, &["--no-user", "--username", "bob"]).await;
        assert_eq!(World::objects().count(&db).await?, 30);
        assert_eq!(User::objects().count(&db).await?, 1);
        std::fs::remove_file(&first).ok();
        std::fs::remove_file(&second).ok();
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn seed_says_what_is_wrong_with_the_peers_file() {
    let missing = std::env::temp_dir().join("manouche-bench-no-such-peers.sqlite3");
    let e = crate::seed::read_peers(&missing)
        .await
        .err()
        .expect("no file");
    assert!(e.to_string().contains("setup-peers.sh"), "{e}");

    let empty = peers_file("empty", 0, &[]).await;
    let e = crate::seed::read_peers(&empty)
        .await
        .err()
        .expect("no rows");
    assert!(e.to_string().contains("0 worlds and 0 fortunes"), "{e}");
    std::fs::remove_file(&empty).ok();

    let other = std::env::temp_dir().join(format!(
        "manouche-bench-not-peers-{}.sqlite3",
        std::process::id()
    ));
    std::fs::write(&other, b"not a database at all, just text").expect("a file");
    let e = crate::seed::read_peers(&other)
        .await
        .err()
        .expect("not SQLite");
    assert!(e.to_string().contains("is it the Django peer's"), "{e}");
    std::fs::remove_file(&other).ok();
}
