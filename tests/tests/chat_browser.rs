//! The example site's chat in a real browser: two headless Chromium
//! sessions (a signed-in user on a desktop screen, a guest on a phone)
//! in one room; what one types appears in the other's page, with the
//! sender's name, over the page's own websocket script. The set-up
//! (chromedriver in a process group of its own, device emulation, the
//! layout checks) is the browser suite's (`tests/support/browser.rs`).
//!
//! **Off unless asked for**, like the browser suite:
//!
//! ```text
//! MANOUCHE_BROWSER_TESTS=1 cargo test -p manouche-e2e --test chat_browser
//! ```
//!
//! Screenshots of the room on both screens are kept under the tests'
//! temporary folder (`target/tmp/browser-screenshots/chat/`).

#![cfg(unix)]

use manouche::db::testing::for_each_database_with_url;
use manouche_e2e::Site;
use serde_json::json;

#[path = "support/browser.rs"]
mod harness;
use harness::*;

/// The messages the room's log shows: (who, text).
async fn chat_log(browser: &Browser) -> Vec<(String, String)> {
    let rows = browser
        .run(
            "return [...document.querySelectorAll('#chat-log li')].map(li => \
             [li.querySelector('.who').textContent, li.lastChild.textContent]);",
            vec![],
        )
        .await;
    rows.as_array()
        .expect("a list")
        .iter()
        .map(|row| {
            (
                row[0].as_str().unwrap_or_default().to_owned(),
                row[1].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The room is open in the page (its status says so).
const CONNECTED: &str = "return document.getElementById('chat-status').dataset.state === 'open';";

#[tokio::test]
async fn a_message_typed_in_one_browser_appears_in_the_other() {
    if !enabled("a_message_typed_in_one_browser_appears_in_the_other") {
        return;
    }
    for_each_database_with_url(|db, url| async move {
        let backend = if url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        };
        let dir = screenshot_dir("chat", backend);
        let site = Site::migrated(&db, &url);
        site.superuser("ana", PASSWORD);
        let server = site.serve(&[]);
        let base = server.url("");
        let (ana, guest) =
            tokio::join!(Browser::start(&base, DESKTOP), Browser::start(&base, PHONE));
        ana.log_in("ana", PASSWORD).await;

        // The room list leads to the room.
        guest.open("/chat/").await;
        guest.click(".rooms a[href='/chat/lobby/']").await;
        assert_eq!(guest.path().await, "/chat/lobby/");
        ana.open("/chat/lobby/").await;
        ana.wait_until("connecting", CONNECTED).await;
        guest.wait_until("connecting", CONNECTED).await;

        ana.type_into("#chat-message-input", "Hello from the desktop")
            .await;
        ana.find("#chat-message-submit")
            .await
            .click()
            .await
            .expect("sending the message");
        let seen = "return document.querySelectorAll('#chat-log li').length >= 1;";
        guest.wait_until("ana's message", seen).await;
        ana.wait_until("ana's own message", seen).await;
        assert_eq!(
            chat_log(&guest).await,
            [("ana".to_owned(), "Hello from the desktop".to_owned())]
        );

        // Enter sends too; the guest is shown as a guest.
        guest
            .type_into("#chat-message-input", "Hi Ana, from a phone\n")
            .await;
        let two = "return document.querySelectorAll('#chat-log li').length >= 2;";
        ana.wait_until("the guest's message", two).await;
        guest.wait_until("the guest's own message", two).await;
        let expected = [
            ("ana".to_owned(), "Hello from the desktop".to_owned()),
            ("guest".to_owned(), "Hi Ana, from a phone".to_owned()),
        ];
        assert_eq!(chat_log(&ana).await, expected);
        assert_eq!(chat_log(&guest).await, expected);
        // Markup typed is text, not markup.
        ana.type_into("#chat-message-input", "<b>bold?</b>\n").await;
        let three = "return document.querySelectorAll('#chat-log li').length >= 3;";
        guest.wait_until("the third message", three).await;
        assert_eq!(
            guest
                .run(
                    "return document.querySelectorAll('#chat-log b').length;",
                    vec![]
                )
                .await,
            json!(0)
        );

        ana.check_screen(&dir, "room").await;
        guest.check_screen(&dir, "room").await;
        guest.open("/chat/").await;
        guest.check_screen(&dir, "rooms").await;
        ana.open("/chat/").await;
        ana.check_screen(&dir, "rooms").await;
        ana.close().await;
        guest.close().await;
        Ok(())
    })
    .await;
}
