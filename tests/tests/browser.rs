//! The example site driven through a real browser: headless Chromium,
//! steered over WebDriver (chromedriver) with fantoccini, typing into the
//! forms and clicking their buttons as a user does. What `tests/auth.rs`
//! checks request by request, this checks as a browser sees it: that the
//! pages' forms carry what the server needs (the CSRF field, the `next`
//! field, the username kept after a mistake), that the browser keeps the
//! cookies the server sets (`Secure` ones on a plain-HTTP localhost
//! included), that the mailed reset link opens, and that the pages fit a
//! desktop and a phone screen.
//!
//! **Off unless asked for.** The tests need `chromedriver` and Chromium
//! (Debian: `apt-get install chromium chromium-driver`), so each returns
//! at once, with a note, unless `MANOUCHE_BROWSER_TESTS=1` is set:
//!
//! ```text
//! MANOUCHE_BROWSER_TESTS=1 cargo test -p manouche-e2e --test browser
//! ```
//!
//! `CHROMEDRIVER` and `CHROME` name the two programs when they are not on
//! the `PATH` as `chromedriver` and `chromium`.
//!
//! **One browser per test.** Each [`Browser`] starts its own chromedriver
//! on a free port, in a process group of its own, and one headless
//! Chromium session in it; the session is closed at the end of the test,
//! and dropping the browser (a failed assertion included) kills the whole
//! group, so no Chromium outlives its test. Tests run in parallel, each on
//! its own servers and browsers.
//!
//! **Screens.** The viewport is set exactly with Chromium's device
//! emulation (a window of 1280x800 leaves less than 800 pixels to the page
//! once Chromium's window frame is counted): 1280x800 for a desktop, and
//! 390x844 at three device pixels per CSS pixel, with touch, for a phone.
//! Emulating a phone matters: a phone honours the page's viewport meta tag
//! and, when the content is wider than the screen, widens the layout
//! viewport to fit it (`window.innerWidth` then grows with the content).
//! So the layout checks compare the document with the *screen's* width,
//! not only with `innerWidth`.
//!
//! Every test runs on a fresh SQLite database, and again on a fresh
//! PostgreSQL database when `DATABASE_URL` points at one; the site comes
//! from [`manouche_e2e::Site`] (deploy settings: debug off, `Secure`
//! cookies, mail written to files). Screenshots are kept under the tests'
//! temporary folder (`target/tmp/browser-screenshots/`).

#![cfg(unix)]

use std::path::Path;

use fantoccini::Locator;
use manouche::db::testing::for_each_database_with_url;
use manouche_e2e::Site;
use serde_json::json;

#[path = "support/browser.rs"]
mod harness;
use harness::*;

// ---- The tests ----

#[tokio::test]
async fn logging_in_through_the_form() {
    if !enabled("logging_in_through_the_form") {
        return;
    }
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.user("ana", PASSWORD).await;
        let server = site.serve(&[]);
        let browser = Browser::desktop(&server).await;

        // A visitor follows "Sign in" from the blog.
        browser.open("/blog/").await;
        assert_eq!(browser.signed_in_as().await, None);
        browser.click("nav .account a").await;
        assert_eq!(browser.path().await, "/accounts/login/?next=/blog/");
        assert_eq!(browser.heading().await, "Log in");
        // The form carries a masked CSRF token and where to go next.
        let token = browser
            .value("form input[type=hidden][name=csrfmiddlewaretoken]")
            .await;
        assert_eq!(token.len(), 64, "a masked token: {token:?}");
        assert_eq!(browser.value("form input[name=next]").await, "/blog/");

        // A wrong password: the form again, with its error, the username
        // kept and the password not.
        browser.submit_login("ana", "not the password").await;
        assert_eq!(browser.status().await, 200);
        assert_eq!(browser.heading().await, "Log in");
        assert!(
            browser
                .text(".errors[role=alert]")
                .await
                .contains("Please enter a correct username and password"),
            "{}",
            browser.source().await
        );
        assert_eq!(browser.value("#id_username").await, "ana");
        assert_eq!(browser.value("#id_password").await, "");
        assert_eq!(browser.whoami().await, None);

        // The form without its token (removed by a script, as a page of
        // another site would send it): refused.
        browser.open("/accounts/login/").await;
        browser
            .run(
                "document.querySelector('input[name=csrfmiddlewaretoken]').remove();",
                vec![],
            )
            .await;
        browser.submit_login("ana", PASSWORD).await;
        assert_eq!(browser.status().await, 403);
        assert_eq!(browser.heading().await, "Not allowed");
        assert!(
            browser
                .text("main p")
                .await
                .contains("reload the page and try again")
        );
        assert_eq!(browser.whoami().await, None, "refused, not logged in");

        // The right password: back to the blog, signed in.
        browser.open("/accounts/login/?next=/blog/").await;
        browser.submit_login("ana", PASSWORD).await;
        assert_eq!(browser.path().await, "/blog/");
        assert_eq!(browser.signed_in_as().await.as_deref(), Some("ana"));
        // The browser kept the session cookie (Secure, HttpOnly) on a
        // plain-HTTP localhost, and scripts cannot read it.
        let cookie = browser
            .client
            .get_named_cookie("sessionid")
            .await
            .expect("the session cookie");
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.http_only(), Some(true));
        let visible = browser.run("return document.cookie;", vec![]).await;
        assert!(
            !visible.as_str().unwrap_or_default().contains("sessionid"),
            "{visible}"
        );
        assert_eq!(browser.whoami().await.as_deref(), Some("ana"));
        browser.close().await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn writing_an_article_needs_the_permission() {
    if !enabled("writing_an_article_needs_the_permission") {
        return;
    }
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        let ana = site.user("ana", PASSWORD).await;
        site.user("bob", PASSWORD).await;
        site.grant(&ana, "blog.add_article").await;
        let server = site.serve(&[]);

        // Without the permission: no link to the page, and its 403 page.
        let browser = Browser::desktop(&server).await;
        browser.log_in("bob", PASSWORD).await;
        browser.open("/blog/").await;
        assert_eq!(browser.signed_in_as().await.as_deref(), Some("bob"));
        assert!(!browser.has("a[href='/blog/new/']").await);
        browser.open("/blog/new/").await;
        assert_eq!(browser.status().await, 403);
        assert_eq!(browser.heading().await, "Not allowed");
        assert_eq!(browser.client.title().await.expect("a title"), "Forbidden");
        assert!(!browser.has("form.article-form").await);
        browser.close().await;

        // With it: sent to log in from the page, and back to it.
        let browser = Browser::desktop(&server).await;
        browser.open("/blog/new/").await;
        assert_eq!(browser.path().await, "/accounts/login/?next=/blog/new/");
        browser.submit_login("ana", PASSWORD).await;
        assert_eq!(browser.path().await, "/blog/new/");
        assert_eq!(browser.status().await, 200);
        assert_eq!(browser.heading().await, "New article");

        // A missing title: the form again, the text kept.
        browser.type_into("#id_body", "Typed, not lost.").await;
        browser.click("form.article-form button[type=submit]").await;
        assert_eq!(browser.heading().await, "New article");
        assert!(
            browser
                .text("#id_title_error")
                .await
                .contains("This field is required.")
        );
        assert_eq!(browser.value("#id_body").await, "Typed, not lost.");

        // Published, with a tag ticked.
        browser.type_into("#id_title", "Seen in a browser").await;
        browser
            .type_into("#id_body", "First paragraph.\n\nSecond paragraph.")
            .await;
        let rust = browser
            .client
            .find(Locator::XPath("//label[contains(., 'Rust')]/input"))
            .await
            .expect("the Rust tag's box");
        rust.click().await.expect("ticking a box");
        browser.click("form.article-form button[type=submit]").await;
        assert!(
            browser.path().await.starts_with("/blog/articles/"),
            "{}",
            browser.path().await
        );
        assert_eq!(browser.heading().await, "Seen in a browser");
        assert!(
            browser
                .text("article .byline")
                .await
                .starts_with("Ana Example, ")
        );
        assert_eq!(browser.text("article .tags").await, "Rust");
        assert_eq!(
            browser.text("article p:nth-of-type(4)").await,
            "Second paragraph."
        );
        // Listed on the blog, linked to its page.
        browser.open("/blog/").await;
        browser.click("a[href='/blog/new/']").await;
        assert_eq!(browser.heading().await, "New article");
        browser.open("/blog/").await;
        browser.click("article h2 a[href^='/blog/articles/']").await;
        assert_eq!(browser.heading().await, "Seen in a browser");
        browser.close().await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_article_with_a_cover_image() {
    if !enabled("an_article_with_a_cover_image") {
        return;
    }
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        let ana = site.user("ana", PASSWORD).await;
        site.grant(&ana, "blog.add_article").await;
        // In debug, so that the site serves the uploaded files itself.
        let server = site.serve(&[("MANOUCHE_DEBUG", "true")]);
        let backend = format!("{:?}", db.backend()).to_lowercase();
        let dir = screenshot_dir("cover", &backend);
        let cover = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cover.png");
        let fake = dir.join("not-an-image.png");
        std::fs::write(&fake, "<script>alert(1)</script>").expect("a fake image");
        for screen in [DESKTOP, PHONE] {
            let browser = Browser::start(&server.url(""), screen).await;
            browser.log_in("ana", PASSWORD).await;
            browser.open("/blog/new/").await;
            browser.check_screen(&dir, "new-article").await;

            // A file that is not an image: the form again, the message
            // under the field, the text kept.
            let title = format!("A cover on a {}", screen.name);
            browser.type_into("#id_title", &title).await;
            browser.type_into("#id_body", "Under a picture.").await;
            browser.attach("#id_cover", &fake).await;
            browser.click("form.article-form button[type=submit]").await;
            assert_eq!(browser.heading().await, "New article");
            assert_eq!(
                browser.text("#id_cover_error").await,
                "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
            );
            assert_eq!(browser.value("#id_title").await, title);
            browser.check_screen(&dir, "new-article-bad-cover").await;

            // A picture: published, shown above the text, loaded.
            browser.attach("#id_cover", &cover).await;
            browser.click("form.article-form button[type=submit]").await;
            assert!(browser.path().await.starts_with("/blog/articles/"));
            assert_eq!(browser.heading().await, title);
            let src = browser
                .run(
                    "const img = document.querySelector('article figure.cover img');\
                     return img && img.complete ? [img.getAttribute('src'), img.naturalWidth] : null;",
                    vec![],
                )
                .await;
            let src = src.as_array().expect("the cover is on the page");
            assert!(
                src[0].as_str().is_some_and(|s| s.starts_with("/media/covers/cover")),
                "{src:?}"
            );
            assert_eq!(src[1], json!(1200), "the browser loaded the picture");
            browser.check_screen(&dir, "article-with-cover").await;
            browser.close().await;
        }
        let stored: Vec<_> = std::fs::read_dir(site.media_dir.join("covers"))
            .expect("the covers folder")
            .collect();
        assert_eq!(stored.len(), 2, "one file per article, none for the fake");
        println!("screenshots: {}", dir.display());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn commenting_on_an_article() {
    if !enabled("commenting_on_an_article") {
        return;
    }
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        let server = site.serve(&[]);
        let browser = Browser::desktop(&server).await;
        // A visitor opens the first article from the blog.
        browser.open("/blog/").await;
        browser.click("article h2 a[href^='/blog/articles/']").await;
        let article = browser.path().await;
        assert_eq!(browser.heading().await, "Welcome to Manouche");
        let token = browser
            .value("#comment-form input[type=hidden][name=csrfmiddlewaretoken]")
            .await;
        assert_eq!(token.len(), 64, "a masked token: {token:?}");

        // Only a name: the page again, the error on the comment field
        // (linked to it for screen readers), the name kept.
        browser.type_into("#id_name", "Grace").await;
        browser.click("#comment-form button[type=submit]").await;
        assert_eq!(browser.status().await, 200);
        assert!(
            browser
                .text("#id_body_error")
                .await
                .contains("This field is required."),
            "{}",
            browser.source().await
        );
        let described = browser
            .run(
                "return document.querySelector('#id_body').getAttribute('aria-describedby');",
                vec![],
            )
            .await;
        assert_eq!(described.as_str(), Some("id_body_error"));
        assert_eq!(browser.value("#id_name").await, "Grace");
        assert!(
            !browser.has("ul.messages").await,
            "no message before a success"
        );

        // The comment: published, thanked once, shown under the article.
        browser
            .type_into("#id_body", "Typed in a real browser <b>bold?</b>")
            .await;
        browser.click("#comment-form button[type=submit]").await;
        assert_eq!(browser.path().await, article);
        assert!(
            browser
                .text("ul.messages li.success")
                .await
                .contains("your comment is published"),
            "{}",
            browser.source().await
        );
        assert!(
            browser
                .text(".comments .comment")
                .await
                .contains("Typed in a real browser <b>bold?</b>"),
            "shown as text, not markup: {}",
            browser.source().await
        );
        browser.open(&article).await;
        assert!(
            !browser.has("ul.messages").await,
            "the message is shown once"
        );
        browser.close().await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn changing_the_password_and_signing_out() {
    if !enabled("changing_the_password_and_signing_out") {
        return;
    }
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.user("ana", PASSWORD).await;
        let server = site.serve(&[]);
        let browser = Browser::desktop(&server).await;
        let new_password = "a brand new horse 7";

        // The page needs a login, and comes back to it.
        browser.open("/accounts/password_change/").await;
        assert_eq!(
            browser.path().await,
            "/accounts/login/?next=/accounts/password_change/"
        );
        browser.submit_login("ana", PASSWORD).await;
        assert_eq!(browser.path().await, "/accounts/password_change/");
        assert_eq!(browser.heading().await, "Password change");

        // A wrong old password: the error under its field.
        browser.type_into("#id_old_password", "not it").await;
        browser.type_into("#id_new_password1", new_password).await;
        browser.type_into("#id_new_password2", new_password).await;
        browser.click("form button[type=submit]").await;
        assert_eq!(browser.heading().await, "Password change");
        assert!(
            browser
                .text(".field-errors")
                .await
                .contains("Your old password was entered incorrectly"),
            "{}",
            browser.source().await
        );

        // The right one.
        browser.type_into("#id_old_password", PASSWORD).await;
        browser.type_into("#id_new_password1", new_password).await;
        browser.type_into("#id_new_password2", new_password).await;
        browser.click("form button[type=submit]").await;
        assert_eq!(browser.path().await, "/accounts/password_change/done/");
        assert_eq!(browser.heading().await, "Password change successful");
        // Still signed in, on the session the change renewed.
        assert_eq!(browser.whoami().await.as_deref(), Some("ana"));

        // Signing out with the navigation bar's button (a POST form)
        // comes back to the page, signed out.
        browser.open("/blog/").await;
        browser.click("nav form button[type=submit]").await;
        assert_eq!(browser.path().await, "/blog/");
        assert_eq!(browser.signed_in_as().await, None);
        assert!(
            browser.client.get_named_cookie("sessionid").await.is_err(),
            "the session cookie is gone"
        );
        browser.open("/accounts/password_change/").await;
        assert!(
            browser.path().await.starts_with("/accounts/login/"),
            "the session ended: {}",
            browser.path().await
        );

        // The old password no longer logs in; the new one does.
        browser.log_in("ana", PASSWORD).await;
        assert_eq!(browser.heading().await, "Log in");
        assert!(
            browser
                .text(".errors")
                .await
                .contains("Please enter a correct username and password")
        );
        browser.log_in("ana", new_password).await;
        assert_eq!(browser.path().await, "/");
        assert_eq!(browser.signed_in_as().await.as_deref(), Some("ana"));
        browser.close().await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn resetting_a_forgotten_password_by_mail() {
    if !enabled("resetting_a_forgotten_password_by_mail") {
        return;
    }
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.user("ana", PASSWORD).await;
        let server = site.serve(&[]);
        let browser = Browser::desktop(&server).await;
        let new_password = "a reset horse 99";

        // From the login page's link, ask for the mail.
        browser.open("/accounts/login/").await;
        browser.click("p.links a").await;
        assert_eq!(browser.path().await, "/accounts/password_reset/");
        assert_eq!(browser.heading().await, "Password reset");
        browser.type_into("#id_email", "ana@example.com").await;
        browser.click("form button[type=submit]").await;
        assert_eq!(browser.path().await, "/accounts/password_reset/done/");
        assert_eq!(browser.heading().await, "Password reset sent");

        // The link in the mail, opened as it is written.
        let link = site.reset_link("ana@example.com");
        assert!(link.starts_with(&server.url("/accounts/reset/")), "{link}");
        browser.open(&link).await;
        assert!(
            browser.path().await.ends_with("/set-password/"),
            "the token leaves the address: {}",
            browser.path().await
        );
        assert_eq!(browser.heading().await, "Enter new password");
        // Two passwords that differ: the error, and nothing changed.
        browser.type_into("#id_new_password1", new_password).await;
        browser
            .type_into("#id_new_password2", "something else 1")
            .await;
        browser.click("form button[type=submit]").await;
        assert!(
            browser
                .text(".field-errors")
                .await
                .contains("The two password fields didn’t match."),
            "{}",
            browser.source().await
        );
        browser.type_into("#id_new_password1", new_password).await;
        browser.type_into("#id_new_password2", new_password).await;
        browser.click("form button[type=submit]").await;
        assert_eq!(browser.path().await, "/accounts/reset/done/");
        assert_eq!(browser.heading().await, "Password reset complete");

        // The page's link to log in, with the new password.
        browser.click("p.links a").await;
        assert_eq!(browser.path().await, "/accounts/login/");
        browser.submit_login("ana", new_password).await;
        assert_eq!(browser.path().await, "/");
        assert_eq!(browser.signed_in_as().await.as_deref(), Some("ana"));

        // The link worked once.
        browser.open(&link).await;
        assert_eq!(browser.heading().await, "Password reset unsuccessful");
        browser.close().await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_pages_fit_a_desktop_and_a_phone() {
    if !enabled("the_pages_fit_a_desktop_and_a_phone") {
        return;
    }
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.user("bob", PASSWORD).await;
        let ana = site.user("ana", PASSWORD).await;
        site.grant(&ana, "blog.add_article").await;
        let server = site.serve(&[]);
        let backend = format!("{:?}", db.backend()).to_lowercase();
        let dir = screenshot_dir("pages", &backend);
        for screen in [DESKTOP, PHONE] {
            let browser = Browser::start(&server.url(""), screen).await;
            browser.open("/accounts/login/").await;
            browser.check_screen(&dir, "login").await;
            // With the error, which takes room above the form.
            browser.submit_login("bob", "not the password").await;
            assert!(browser.has(".errors").await);
            browser.check_screen(&dir, "login-error").await;

            // bob, who may not write articles.
            browser.submit_login("bob", PASSWORD).await;
            assert_eq!(browser.signed_in_as().await.as_deref(), Some("bob"));
            browser.check_screen(&dir, "home").await;
            browser.open("/accounts/password_change/").await;
            assert_eq!(browser.heading().await, "Password change");
            browser.check_screen(&dir, "password-change").await;
            browser.open("/blog/new/").await;
            assert_eq!(browser.status().await, 403);
            browser.check_screen(&dir, "403").await;

            // ana, who may.
            browser.open("/blog/").await;
            browser.click("nav form button[type=submit]").await;
            browser.log_in("ana", PASSWORD).await;
            browser.open("/blog/").await;
            assert!(browser.has("a.button[href='/blog/new/']").await);
            browser.check_screen(&dir, "blog").await;
            browser.click("a.button[href='/blog/new/']").await;
            browser.click("form.article-form button[type=submit]").await;
            assert!(browser.has("#id_title_error").await);
            browser.check_screen(&dir, "new-article-errors").await;
            browser.close().await;
        }
        println!("screenshots: {}", dir.display());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_layout_checks_catch_broken_pages() {
    if !enabled("the_layout_checks_catch_broken_pages") {
        return;
    }
    const VIEWPORT: &str = "<meta name=viewport content='width=device-width, initial-scale=1'>";
    const STYLE: &str = "<style>body { margin: 1em }</style>";
    let phone = Browser::start("", PHONE).await;
    let page = |html: String| format!("data:text/html;charset=utf-8,<!DOCTYPE html>{html}");
    // A page that fits, so that the ones below fail for their fault.
    phone
        .open(&page(format!(
            "{VIEWPORT}{STYLE}<h1>Fine</h1><p>Some text.</p>"
        )))
        .await;
    assert_eq!(phone.layout_problems().await, Vec::<String>::new());
    for (html, expected) in [
        (
            format!("{VIEWPORT}{STYLE}<h1>Wide</h1><div style='width: 600px'>a table</div>"),
            "the document is 616px wide on a 390px screen",
        ),
        (
            format!("{STYLE}<h1>No viewport tag</h1>"),
            "the page is laid out 980px wide on a 390px screen",
        ),
        (format!("{VIEWPORT}<h1>No style</h1>"), "no stylesheet"),
        (
            format!(
                "{VIEWPORT}{STYLE}<h1>Small</h1><button style='font-size: 10px; padding: 0'>ok</button>"
            ),
            "<button> \"ok\" has 10px text",
        ),
        (
            format!("{VIEWPORT}{STYLE}<h1>Small</h1><button style='padding: 0'>ok</button>"),
            "too small to tap",
        ),
        (
            format!("{VIEWPORT}{STYLE}<h1>Cut</h1><p style='margin-left: -50px'>cut off</p>"),
            "<p> \"cut off\" runs off the screen",
        ),
        (
            format!("{VIEWPORT}{STYLE}<div style='height: 2000px'></div><h1>Low</h1>"),
            "the heading is below the first screen",
        ),
    ] {
        phone.open(&page(html.clone())).await;
        let problems = phone.layout_problems().await;
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{html}: {expected:?} not in {problems:?}"
        );
    }
    phone.close().await;
}

#[tokio::test]
async fn the_admin_in_a_browser() {
    if !enabled("the_admin_in_a_browser") {
        return;
    }
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.superuser("root", PASSWORD);
        let server = site.serve(&[]);
        let backend = format!("{:?}", db.backend()).to_lowercase();
        let dir = screenshot_dir("admin", &backend);

        let browser = Browser::desktop(&server).await;
        // Sent to log in, and back to the admin.
        browser.open("/admin/").await;
        assert_eq!(browser.path().await, "/admin/login/?next=/admin/");
        browser.check_screen(&dir, "login").await;
        browser.submit_login("root", PASSWORD).await;
        assert_eq!(browser.path().await, "/admin/");
        assert_eq!(browser.heading().await, "Site administration");
        browser.check_screen(&dir, "index").await;

        // Add an article: a missing title first, then fixed.
        browser.click("a[href='/admin/blog/article/add/']").await;
        assert_eq!(browser.heading().await, "Add article");
        browser.type_into("#id_slug", "from-the-admin").await;
        browser.type_into("#id_body", "Written in the admin.").await;
        browser.click("button[name=_save]").await;
        assert_eq!(browser.heading().await, "Add article");
        assert!(browser.has(".errorlist").await);
        assert_eq!(browser.value("#id_body").await, "Written in the admin.");
        browser.check_screen(&dir, "change-form-error").await;
        browser.type_into("#id_title", "From the admin").await;
        // The author is found by searching (autocomplete_fields).
        assert!(!browser.has("#id_author option[value='1']").await);
        browser
            .type_into("input.autocomplete[aria-controls=id_author]", "manouche")
            .await;
        browser.wait_for("#id_author option[value='1']").await;
        browser
            .find("#id_author")
            .await
            .select_by_value("1")
            .await
            .expect("choosing the author");
        browser.click("button[name=_save]").await;
        assert_eq!(browser.path().await, "/admin/blog/article/");
        assert!(
            browser
                .text(".messages")
                .await
                .contains("The article “From the admin” was added successfully."),
        );
        browser.check_screen(&dir, "list").await;

        // Search, filter and sort.
        browser.type_into("#searchbar", "admin").await;
        browser.click("form[role=search] button").await;
        assert!(
            browser.path().await.ends_with("?q=admin"),
            "{}",
            browser.path().await
        );
        assert_eq!(browser.text("tbody th a").await, "From the admin");
        browser.open("/admin/blog/article/").await;
        browser
            .click("aside.filters a[href='?published=false']")
            .await;
        assert_eq!(browser.text("tbody th a").await, "From the admin");
        browser.check_screen(&dir, "list-filtered").await;
        browser.open("/admin/blog/article/").await;
        browser.click("thead th:nth-child(2) a").await;
        assert!(
            browser.path().await.ends_with("?o=1"),
            "{}",
            browser.path().await
        );
        assert!(browser.has("thead th[aria-sort=ascending]").await);

        // Change it, continuing to edit.
        browser.open("/admin/blog/article/?q=admin").await;
        browser.click("tbody th a").await;
        assert_eq!(browser.heading().await, "Change article");
        browser
            .find("#id_published")
            .await
            .click()
            .await
            .expect("ticking the box");
        browser.click("button[name=_continue]").await;
        assert!(browser.path().await.ends_with("/change/"));
        assert!(
            browser
                .text(".messages")
                .await
                .contains("(changed: Published)")
        );

        // An inline comment: added under the article, then edited.
        browser.type_into("#id_comments-0-name", "Ada").await;
        browser
            .type_into("#id_comments-0-body", "First comment")
            .await;
        browser.click("button[name=_continue]").await;
        assert!(
            browser.text(".messages").await.contains("Added comment"),
            "{}",
            browser.text(".messages").await
        );
        assert_eq!(browser.value("#id_comments-0-body").await, "First comment");
        browser
            .type_into("#id_comments-0-body", "Edited comment")
            .await;
        browser.click("button[name=_continue]").await;
        assert!(browser.text(".messages").await.contains("Changed comment"));
        assert_eq!(browser.value("#id_comments-0-body").await, "Edited comment");
        browser.check_screen(&dir, "change-form-inline").await;

        // The article's history: added, changed, its comment added and
        // changed.
        browser.click("p.tools a").await;
        assert_eq!(browser.heading().await, "Change history: From the admin");
        let history = browser.text("#change-history").await;
        assert!(history.contains("Added."), "{history}");
        assert!(history.contains("Changed Published."), "{history}");
        assert!(history.contains("Added comment"), "{history}");
        assert!(history.contains("Changed comment"), "{history}");
        browser.check_screen(&dir, "history").await;

        // Bulk delete through the confirmation page.
        browser.open("/admin/blog/article/?q=admin").await;
        browser
            .find("tbody input.action-select")
            .await
            .click()
            .await
            .expect("ticking the row");
        assert_eq!(browser.text(".selected-count").await, "1 of 1 selected");
        browser
            .find("#action-select")
            .await
            .select_by_value("delete_selected")
            .await
            .expect("choosing the action");
        browser.click(".actions button").await;
        assert_eq!(browser.heading().await, "Are you sure?");
        let summary = browser.text("main").await;
        assert!(summary.contains("blog.Article: 1"), "{summary}");
        assert!(summary.contains("blog.Comment: 1"), "{summary}");
        browser.check_screen(&dir, "delete-confirmation").await;
        browser.click("button.danger").await;
        assert_eq!(browser.path().await, "/admin/blog/article/?q=admin");
        assert!(
            browser
                .text(".messages")
                .await
                .contains("Successfully deleted 1 article.")
        );
        assert!(!browser.has("tbody th a").await);

        // Log out from the admin's header.
        browser.click("header.site form button[type=submit]").await;
        browser.open("/admin/").await;
        assert!(browser.path().await.starts_with("/admin/login/"));
        browser.close().await;

        // The list on a phone.
        let phone = Browser::start(&server.url(""), PHONE).await;
        phone.log_in("root", PASSWORD).await;
        phone.open("/admin/blog/article/").await;
        phone.check_screen(&dir, "list").await;
        phone.open("/admin/blog/article/add/").await;
        phone.check_screen(&dir, "add").await;
        phone.close().await;
        println!("screenshots: {}", dir.display());
        Ok(())
    })
    .await;
}
