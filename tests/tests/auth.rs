//! Sessions, auth and CSRF end to end: the real `example-site` binary,
//! migrated by its own `migrate`, served on a real port and driven over
//! real HTTP by a small cookie-keeping client, as a browser would.
//!
//! Every test runs on a fresh SQLite database, and again on a fresh
//! PostgreSQL database when `DATABASE_URL` points at one (the framework's
//! `for_each_database_with_url`). The servers run with the deploy
//! settings (debug off, so the cookies are `Secure`; this client sends
//! them over plain HTTP to 127.0.0.1 as browsers do for localhost).
//!
//! Superusers are made by the binary's `createsuperuser --noinput` (the
//! `MANOUCHE_SUPERUSER_*` variables); other users, which that command
//! does not make, are saved by the test through the ORM, their passwords
//! hashed with `make_password` (`User::new`). The servers and the users
//! share cheap argon2id parameters, so that a login costs milliseconds
//! ([`manouche_e2e::Site`] has the site's set-up).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use manouche::contrib::auth::User;
use manouche::contrib::sessions::SessionRow;
use manouche::db::testing::for_each_database_with_url;
use manouche::db::{Database, Model, raw};
use manouche_e2e::{Server, Site, workspace_root};
use reqwest::Method;
use reqwest::header::{HeaderMap, SET_COOKIE};

const PASSWORD: &str = "correct horse 42";

// ---- The site's log ----

/// Waits until the server has logged a line containing `needle` (its
/// output is read by another thread) and returns that line.
fn logged(server: &Server, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(line) = server.output().lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the server never logged {needle:?}; output:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- A browser: cookies kept per site, redirects not followed ----

/// What came back.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    /// The `Set-Cookie` header for `name`, if the response sent one.
    fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
    }

    /// The username the navigation bar shows, or `None` when it offers
    /// "Sign in" (panics when it shows neither: not a page with the bar).
    fn signed_in_as(&self) -> Option<String> {
        const START: &str = "<span class=\"username\">";
        if let Some(at) = self.body.find(START) {
            let rest = &self.body[at + START.len()..];
            let name = &rest[..rest.find('<').expect("the span closes")];
            assert!(self.body.contains(">Sign out</button>"), "{}", self.body);
            return Some(name.to_owned());
        }
        assert!(
            self.body.contains(">Sign in</a>"),
            "a page without the navigation bar ({}):\n{}",
            self.status,
            self.body
        );
        None
    }

    /// The form token of the first form on the page.
    fn csrf_token(&self) -> String {
        const FIELD: &str = "name=\"csrfmiddlewaretoken\" value=\"";
        let at = self
            .body
            .find(FIELD)
            .unwrap_or_else(|| panic!("no CSRF input on the page:\n{}", self.body));
        let rest = &self.body[at + FIELD.len()..];
        rest[..rest.find('"').expect("the value closes")].to_owned()
    }
}

/// An HTTP client that keeps cookies as a browser does (they are kept
/// per host, not per port, so one browser talks to two servers on
/// 127.0.0.1 with the same cookies) and does not follow redirects.
struct Browser {
    http: reqwest::Client,
    base: Mutex<String>,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    fn new(server: &Server) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            base: Mutex::new(server.url("")),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// Sends the next requests to `server`.
    fn switch_to(&self, server: &Server) {
        *self.base.lock().expect("lock") = server.url("");
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().expect("lock").get(name).cloned()
    }

    fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .expect("lock")
            .insert(name.to_owned(), value.to_owned());
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.base.lock().expect("lock"));
        let cookies = self.cookies.lock().expect("lock");
        let mut builder = self.http.request(method, url);
        if !cookies.is_empty() {
            let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            builder = builder.header("cookie", header.join("; "));
        }
        builder
    }

    async fn send(&self, builder: reqwest::RequestBuilder) -> Reply {
        let response = builder.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        {
            let mut cookies = self.cookies.lock().expect("lock");
            for value in headers.get_all(SET_COOKIE) {
                let value = value.to_str().expect("an ASCII cookie");
                let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
                let (name, content) = pair.split_once('=').expect("name=value");
                if attributes.to_ascii_lowercase().contains("max-age=0") {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().to_owned(), content.trim().to_owned());
                }
            }
        }
        let body = response.text().await.expect("a text body");
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        self.send(self.request(Method::POST, path).form(fields))
            .await
    }

    /// Submits the form of the page at `path`: its CSRF token and `fields`.
    async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let token = self.get(path).await.csrf_token();
        let mut all = vec![("csrfmiddlewaretoken", token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    async fn log_in(&self, username: &str, password: &str) -> Reply {
        self.submit(
            "/accounts/login/",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// Signs out with the navigation bar's form on `page` (a path).
    async fn sign_out_from(&self, page: &str) -> Reply {
        let token = self.get(page).await.csrf_token();
        self.post(
            "/accounts/logout/",
            &[("csrfmiddlewaretoken", &token), ("next", page)],
        )
        .await
    }

    /// Who the home page says is signed in.
    async fn whoami(&self) -> Option<String> {
        let home = self.get("/").await;
        assert_eq!(home.status, 200, "{}", home.body);
        home.signed_in_as()
    }
}

// ---- The tests ----

#[tokio::test]
async fn login_gives_a_new_session_id_and_logout_is_post_only() {
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.superuser("ana", PASSWORD);
        site.user("bob", PASSWORD).await;
        let server = site.serve(&[]);
        let browser = Browser::new(&server);

        // A visitor's page offers "Sign in", coming back to it.
        let blog = browser.get("/blog/").await;
        assert_eq!(blog.signed_in_as(), None);
        assert!(
            blog.body
                .contains("href=\"/accounts/login/?next=/blog/\">Sign in</a>"),
            "{}",
            blog.body
        );
        assert!(blog.set_cookie("sessionid").is_none(), "lazy sessions");

        // A session id planted before login (session fixation) is not
        // adopted.
        let planted = "0123456789abcdefghijklmnopqrstuv";
        browser.set_cookie("sessionid", planted);
        let login = browser.log_in("bob", PASSWORD).await;
        assert_eq!(login.status, 302, "{}", login.body);
        assert_eq!(login.location(), Some("/"));
        let cookie = login.set_cookie("sessionid").expect("a session cookie");
        for attribute in ["; HttpOnly", "; SameSite=Lax", "; Secure", "; Path=/"] {
            assert!(cookie.contains(attribute), "{attribute} in {cookie}");
        }
        let bobs = browser.cookie("sessionid").expect("logged in");
        assert_ne!(bobs, planted);
        assert_eq!(browser.whoami().await.as_deref(), Some("bob"));

        // Logging in as someone else: the session before login is not
        // the one after, and the one before is gone.
        let login = browser.log_in("ana", PASSWORD).await;
        assert_eq!(login.status, 302, "{}", login.body);
        let anas = browser.cookie("sessionid").expect("logged in");
        assert_ne!(anas, bobs);
        assert_eq!(browser.whoami().await.as_deref(), Some("ana"));
        let replay = Browser::new(&server);
        replay.set_cookie("sessionid", &bobs);
        assert_eq!(replay.whoami().await, None, "bob's old session is gone");

        // Logout by GET is refused, and changes nothing.
        let get = browser.get("/accounts/logout/").await;
        assert_eq!(get.status, 405);
        assert_eq!(browser.whoami().await.as_deref(), Some("ana"));

        // The "Sign out" form posts, and comes back to the page.
        let out = browser.sign_out_from("/blog/").await;
        assert_eq!(out.status, 302, "{}", out.body);
        assert_eq!(out.location(), Some("/blog/"));
        let deleted = out.set_cookie("sessionid").expect("the cookie is deleted");
        assert!(deleted.contains("Max-Age=0"), "{deleted}");
        assert_eq!(browser.cookie("sessionid"), None);
        assert_eq!(browser.whoami().await, None);
        // The session is gone from the store, not only from the browser.
        let replay = Browser::new(&server);
        replay.set_cookie("sessionid", &anas);
        assert_eq!(replay.whoami().await, None);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_next_off_the_site_is_ignored_after_login() {
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.user("ana", PASSWORD).await;
        let server = site.serve(&[]);
        for (next, expected) in [
            ("https://evil.example", "/"),
            ("//evil.example", "/"),
            ("https%3A%2F%2Fevil.example", "/"),
            ("%2F%2Fevil.example", "/"),
            // A page of the site is followed (so the test can fail).
            ("/blog/", "/blog/"),
        ] {
            // Through a link to the login page: the form does not carry it.
            let browser = Browser::new(&server);
            let path = format!("/accounts/login/?next={next}");
            let form = browser.get(&path).await;
            assert!(!form.body.contains("evil.example"), "{}", form.body);
            let r = browser
                .post(
                    &path,
                    &[
                        ("csrfmiddlewaretoken", &form.csrf_token()),
                        ("username", "ana"),
                        ("password", PASSWORD),
                    ],
                )
                .await;
            assert_eq!(r.status, 302, "{next}: {}", r.body);
            assert_eq!(r.location(), Some(expected), "next={next}");
            // Through the form's own field.
            let browser = Browser::new(&server);
            let next = next.replace("%3A", ":").replace("%2F", "/");
            let r = browser
                .submit(
                    "/accounts/login/",
                    &[("username", "ana"), ("password", PASSWORD), ("next", &next)],
                )
                .await;
            assert_eq!(r.location(), Some(expected), "form next={next}");
            assert_eq!(browser.whoami().await.as_deref(), Some("ana"));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_but_not_this_one() {
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.user("ana", PASSWORD).await;
        let server = site.serve(&[]);
        let laptop = Browser::new(&server);
        let phone = Browser::new(&server);
        assert_eq!(laptop.log_in("ana", PASSWORD).await.status, 302);
        assert_eq!(phone.log_in("ana", PASSWORD).await.status, 302);
        assert_eq!(phone.whoami().await.as_deref(), Some("ana"));
        let before = laptop.cookie("sessionid").expect("logged in");

        let r = laptop
            .submit(
                "/accounts/password_change/",
                &[
                    ("old_password", PASSWORD),
                    ("new_password1", "a brand new horse 7"),
                    ("new_password2", "a brand new horse 7"),
                ],
            )
            .await;
        assert_eq!(r.status, 302, "{}", r.body);
        assert_eq!(r.location(), Some("/accounts/password_change/done/"));
        // This session goes on, under a new id.
        assert_ne!(laptop.cookie("sessionid").as_deref(), Some(before.as_str()));
        assert_eq!(laptop.whoami().await.as_deref(), Some("ana"));
        // The other one ended.
        assert_eq!(phone.whoami().await, None);
        // The new password logs in, the old one no longer does.
        assert_eq!(
            Browser::new(&server)
                .log_in("ana", "a brand new horse 7")
                .await
                .status,
            302
        );
        let old = Browser::new(&server).log_in("ana", PASSWORD).await;
        assert_eq!(old.status, 200);
        assert!(
            old.body
                .contains("Please enter a correct username and password"),
            "{}",
            old.body
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unsafe_requests_need_the_csrf_token_and_the_sites_origin() {
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.user("ana", PASSWORD).await;
        let server = site.serve(&[]);
        let browser = Browser::new(&server);
        let form = browser.get("/accounts/login/").await;
        let token = form.csrf_token();
        assert_eq!(token.len(), 64, "a masked token: {token}");
        assert!(browser.cookie("csrftoken").is_some(), "the page set the cookie");
        let credentials = [("username", "ana"), ("password", PASSWORD)];
        let with_token = |token: &str| {
            let mut fields = vec![("csrfmiddlewaretoken", token.to_owned())];
            fields.extend(credentials.iter().map(|(k, v)| (*k, (*v).to_owned())));
            fields
        };

        // No token in the form.
        let r = browser.post("/accounts/login/", &credentials).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("reload the page and try again"), "{}", r.body);
        assert!(!r.body.contains("CSRF"), "the reason is logged, not shown: {}", r.body);
        logged(&server, "Forbidden (CSRF token missing.): /accounts/login/");
        // A wrong token: another masked token of another secret.
        let wrong = "A".repeat(64);
        let r = browser
            .send(
                browser
                    .request(Method::POST, "/accounts/login/")
                    .form(&with_token(&wrong)),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        logged(&server, "Forbidden (CSRF token from POST incorrect.): /accounts/login/");
        // The right token without the cookie it matches.
        let cookieless = Browser::new(&server);
        let r = cookieless
            .send(
                cookieless
                    .request(Method::POST, "/accounts/login/")
                    .form(&with_token(&token)),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        logged(&server, "Forbidden (CSRF cookie not set.): /accounts/login/");
        assert_eq!(browser.whoami().await, None, "none of these logged in");

        // The right token, from another origin.
        let r = browser
            .send(
                browser
                    .request(Method::POST, "/accounts/login/")
                    .header("origin", "https://evil.example")
                    .form(&with_token(&token)),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        logged(
            &server,
            "Forbidden (Origin checking failed - https://evil.example does not match any trusted origins.)",
        );
        assert_eq!(browser.whoami().await, None);

        // The right token (cookie + form field), from the site's origin.
        let r = browser
            .send(
                browser
                    .request(Method::POST, "/accounts/login/")
                    .header("origin", server.url(""))
                    .form(&with_token(&token)),
            )
            .await;
        assert_eq!(r.status, 302, "{}", r.body);
        assert_eq!(browser.whoami().await.as_deref(), Some("ana"));
        // Logging in rotated the secret: the token of before is refused.
        let r = browser
            .send(
                browser
                    .request(Method::POST, "/accounts/logout/")
                    .header("x-csrftoken", &token),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        logged(
            &server,
            "Forbidden (CSRF token from the 'X-CSRFToken' HTTP header incorrect.): /accounts/logout/",
        );
        assert_eq!(browser.whoami().await.as_deref(), Some("ana"));

        // The header, as JavaScript sends it, with a token of this page.
        let fresh = browser.get("/blog/").await.csrf_token();
        let r = browser
            .send(
                browser
                    .request(Method::POST, "/accounts/logout/")
                    .header("x-csrftoken", &fresh),
            )
            .await;
        assert_eq!(r.status, 200, "the logged-out page: {}", r.body);
        assert!(r.body.contains("Logged out"), "{}", r.body);
        assert_eq!(browser.whoami().await, None);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn failed_logins_get_429_with_retry_after_for_real_and_unknown_users_alike() {
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.user("ana", PASSWORD).await;
        site.user("bob", PASSWORD).await;
        let server = site.serve(&[(
            "MANOUCHE_AUTH_THROTTLE",
            "{ per_username = 3, per_address = 100, window = 60 }",
        )]);
        let browser = Browser::new(&server);
        for username in ["ana", "nobody"] {
            for attempt in 1..=3 {
                let r = browser.log_in(username, "wrong password").await;
                assert_eq!(r.status, 200, "{username}, attempt {attempt}");
                assert!(
                    r.body
                        .contains("Please enter a correct username and password")
                );
            }
            let r = browser.log_in(username, "wrong password").await;
            assert_eq!(r.status, 429, "{username}: {}", r.body);
            let retry: u64 = r
                .headers
                .get("retry-after")
                .expect("Retry-After")
                .to_str()
                .expect("text")
                .parse()
                .expect("seconds");
            assert!((1..=60).contains(&retry), "Retry-After: {retry}");
            assert!(
                r.body.contains("Too many failed login attempts"),
                "{}",
                r.body
            );
        }
        // Even the right password waits now, whatever its case.
        assert_eq!(browser.log_in("ANA", PASSWORD).await.status, 429);
        assert_eq!(browser.whoami().await, None);
        // Another user is not held up.
        assert_eq!(browser.log_in("bob", PASSWORD).await.status, 302);
        Ok(())
    })
    .await;
}

/// `framework/tests/fixtures/django_password_hashes.json`: hashes made by
/// Django 5.2's own `make_password`.
fn django_fixture() -> (String, String) {
    let path = workspace_root().join("framework/tests/fixtures/django_password_hashes.json");
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the fixture")).expect("JSON");
    let password = fixture["password"].as_str().expect("password").to_owned();
    let hash = fixture["hashes"]["pbkdf2_sha256"]
        .as_str()
        .expect("a pbkdf2_sha256 hash")
        .to_owned();
    assert!(hash.starts_with("pbkdf2_sha256$1000000$"), "{hash}");
    (password, hash)
}

#[tokio::test]
async fn a_django_pbkdf2_hash_logs_in_and_is_stored_as_argon2id() {
    for_each_database_with_url(|db, url| async move {
        let (password, hash) = django_fixture();
        let site = Site::migrated(&db, &url);
        let mut user = site.user("django", "replaced below").await;
        user.password = hash.clone();
        user.save(&db).await?;
        let stored = async || {
            User::objects()
                .filter(User::username.eq("django"))
                .get(&db)
                .await
                .expect("the user")
                .password
        };
        let server = site.serve(&[]);
        let r = Browser::new(&server).log_in("django", "not it").await;
        assert_eq!(r.status, 200);
        assert_eq!(stored().await, hash, "a failed login changes nothing");

        let browser = Browser::new(&server);
        let r = browser.log_in("django", &password).await;
        assert_eq!(r.status, 302, "{}", r.body);
        assert_eq!(browser.whoami().await.as_deref(), Some("django"));
        let upgraded = stored().await;
        assert!(
            upgraded.starts_with("argon2$argon2id$v=19$m=1024,t=1,p=1$"),
            "{upgraded}"
        );
        // The new hash logs in too.
        let again = Browser::new(&server);
        assert_eq!(again.log_in("django", &password).await.status, 302);
        assert_eq!(stored().await, upgraded, "no second rehash");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_new_article_page_needs_blog_add_article() {
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        let ana = site.user("ana", PASSWORD).await;
        site.user("bob", PASSWORD).await;
        site.grant(&ana, "blog.add_article").await;
        let server = site.serve(&[]);

        // A visitor is sent to log in, and back.
        let visitor = Browser::new(&server);
        let r = visitor.get("/blog/new/").await;
        assert_eq!(r.status, 302);
        assert_eq!(r.location(), Some("/accounts/login/?next=/blog/new/"));

        // A user without the permission: 403, and no link to the page.
        let bob = Browser::new(&server);
        assert_eq!(bob.log_in("bob", PASSWORD).await.status, 302);
        let r = bob.get("/blog/new/").await;
        assert_eq!(r.status, 403);
        assert!(
            r.body.contains("<h1>Not allowed</h1>"),
            "the site's page: {}",
            r.body
        );
        assert!(
            !r.body.contains("blog.add_article"),
            "no details: debug is off"
        );
        let token = bob.get("/blog/").await.csrf_token();
        let r = bob
            .post(
                "/blog/new/",
                &[
                    ("csrfmiddlewaretoken", &token),
                    ("title", "Not mine to write"),
                    ("body", "No."),
                ],
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(!bob.get("/blog/").await.body.contains("/blog/new/"));

        // A user with it: the link, the form, its errors, the article.
        let writer = Browser::new(&server);
        let r = writer
            .post(
                "/accounts/login/?next=/blog/new/",
                &[
                    (
                        "csrfmiddlewaretoken",
                        &writer.get("/accounts/login/").await.csrf_token(),
                    ),
                    ("username", "ana"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.location(), Some("/blog/new/"));
        let index = writer.get("/blog/").await;
        assert!(
            index.body.contains("href=\"/blog/new/\">New article</a>"),
            "{}",
            index.body
        );
        let r = writer
            .submit("/blog/new/", &[("title", ""), ("body", "Kept.")])
            .await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("This field is required."), "{}", r.body);
        // Django's textarea starts with a line break.
        assert!(r.body.contains(">\nKept.</textarea>"), "{}", r.body);
        let r = writer
            .submit(
                "/blog/new/",
                &[
                    ("title", "Sessions, end to end"),
                    ("body", "Over real HTTP."),
                ],
            )
            .await;
        assert_eq!(r.status, 302, "{}", r.body);
        let location = r.location().expect("to the article").to_owned();
        assert!(location.starts_with("/blog/articles/"), "{location}");
        let article = writer.get(&location).await;
        assert_eq!(article.status, 200);
        assert!(
            article.body.contains("<h1>Sessions, end to end</h1>"),
            "{}",
            article.body
        );
        assert!(
            article.body.contains("Ana Example, "),
            "the user's author: {}",
            article.body
        );
        // A superuser holds every permission.
        site.superuser("root", PASSWORD);
        let root = Browser::new(&server);
        assert_eq!(root.log_in("root", PASSWORD).await.status, 302);
        assert_eq!(root.get("/blog/new/").await.status, 200);
        // Written by the author tied to ana's account.
        let rows: Vec<(Option<i64>,)> = raw("SELECT blog_author.user_id FROM blog_article \
             JOIN blog_author ON blog_author.id = blog_article.author_id \
             WHERE blog_article.slug = $1")
        .bind("sessions-end-to-end".to_owned())
        .fetch_all(&db)
        .await?;
        assert_eq!(rows, [(ana.pk(),)]);
        Ok(())
    })
    .await;
}

/// The path of the reset link in the newest mail to `to`.
fn reset_link(site: &Site, to: &str) -> String {
    let link = site.reset_link(to);
    let at = link.find("/accounts/reset/").expect("the path");
    link[at..].to_owned()
}

#[tokio::test]
async fn a_password_reset_link_works_once_and_expires() {
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.user("ana", PASSWORD).await;
        site.user("bob", PASSWORD).await;
        let server = site.serve(&[]);
        let browser = Browser::new(&server);
        let r = browser
            .submit("/accounts/password_reset/", &[("email", "ana@example.com")])
            .await;
        assert_eq!(r.status, 302, "{}", r.body);
        assert_eq!(r.location(), Some("/accounts/password_reset/done/"));
        let link = reset_link(&site, "ana@example.com");

        // The link moves its token into the session, out of the URL.
        let r = browser.get(&link).await;
        assert_eq!(r.status, 302, "{}", r.body);
        let form_path = r.location().expect("the set-password page").to_owned();
        assert!(form_path.ends_with("/set-password/"), "{form_path}");
        let anonymous = browser.cookie("sessionid").expect("a visitor's session");
        let r = browser
            .submit(
                &form_path,
                &[
                    ("new_password1", "a reset horse 99"),
                    ("new_password2", "a reset horse 99"),
                ],
            )
            .await;
        assert_eq!(r.status, 302, "{}", r.body);
        assert_eq!(r.location(), Some("/accounts/reset/done/"));

        // Used: refused, in this browser and in another.
        for b in [&browser, &Browser::new(&server)] {
            let r = b.get(&link).await;
            assert_eq!(r.status, 200);
            assert!(r.body.contains("Password reset unsuccessful"), "{}", r.body);
        }
        // The new password works; the session before login is not the
        // one after.
        assert_eq!(browser.log_in("ana", "a reset horse 99").await.status, 302);
        assert_ne!(browser.cookie("sessionid"), Some(anonymous));
        assert_eq!(
            Browser::new(&server).log_in("ana", PASSWORD).await.status,
            200
        );

        // Expired: a server whose links last one second.
        let hasty = site.serve(&[("MANOUCHE_AUTH_PASSWORD_RESET_TIMEOUT", "1")]);
        let browser = Browser::new(&hasty);
        let r = browser
            .submit("/accounts/password_reset/", &[("email", "bob@example.com")])
            .await;
        assert_eq!(r.status, 302, "{}", r.body);
        let link = reset_link(&site, "bob@example.com");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let r = browser.get(&link).await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("Password reset unsuccessful"), "{}", r.body);
        // The same link is good where links last three days: it is the
        // age that the first server refused.
        let r = Browser::new(&server).get(&link).await;
        assert_eq!(r.status, 302, "{}", r.body);
        Ok(())
    })
    .await;
}

/// Logs in on `first`, then reads and ends the session on `second`;
/// checks whether the session was kept in `db`'s session table.
async fn share_a_session(first: &Server, second: &Server, db: &Database, kept_in_db: bool) {
    let rows = async || SessionRow::objects().count(db).await.expect("count");
    let before = rows().await;
    let browser = Browser::new(first);
    assert_eq!(browser.log_in("ana", PASSWORD).await.status, 302);
    assert_eq!(browser.whoami().await.as_deref(), Some("ana"));
    assert_eq!(rows().await, before + i64::from(kept_in_db));
    browser.switch_to(second);
    assert_eq!(browser.whoami().await.as_deref(), Some("ana"));
    let r = browser.sign_out_from("/").await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert!(r.set_cookie("sessionid").is_some(), "the cookie is deleted");
    browser.switch_to(first);
    assert_eq!(browser.whoami().await, None);
    assert_eq!(rows().await, before);
}

#[tokio::test]
async fn a_session_made_by_one_process_is_read_by_another() {
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.superuser("ana", PASSWORD);
        let first = site.serve(&[]);
        let second = site.serve(&[]);
        assert_ne!(first.pid(), second.pid());
        share_a_session(&first, &second, &db, true).await;

        // With Redis as the store, when there is one.
        if let Ok(redis) = std::env::var("REDIS_URL") {
            let env = [
                ("MANOUCHE_SESSIONS_STORE", "redis"),
                ("REDIS_URL", redis.as_str()),
            ];
            let first = site.serve(&env);
            let second = site.serve(&env);
            share_a_session(&first, &second, &db, false).await;
        }
        Ok(())
    })
    .await;
}
