//! The example site's chat in a real browser: two headless Chromium
//! sessions (a signed-in user on a desktop screen, a guest on a phone)
//! in one room; what one types appears in the other's page, with the
//! sender's name, over the page's own websocket script. The set-up
//! (chromedriver in a process group of its own, device emulation, the
//! layout checks) is `tests/browser.rs`'s.
//!
//! **Off unless asked for**, like the browser suite:
//!
//! ```text
//! MANOUCHE_BROWSER_TESTS=1 cargo test -p manouche-e2e --test chat_browser
//! ```
//!
//! Screenshots of the room on both screens are kept under the tests'
//! temporary folder (`target/tmp/chat-browser-screenshots/`).

#![cfg(unix)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use manouche::db::testing::for_each_database_with_url;
use manouche_e2e::{Server, Site, free_port};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse 42";

/// How long a page, an element or a process may take before the test
/// gives up.
const PATIENCE: Duration = Duration::from_secs(15);

/// Whether the suite is asked for (see the module docs); prints why not.
fn enabled(test: &str) -> bool {
    if std::env::var("MANOUCHE_BROWSER_TESTS").as_deref() == Ok("1") {
        return true;
    }
    println!(
        "{test}: skipped (set MANOUCHE_BROWSER_TESTS=1 to drive the site through headless \
         Chromium; it needs chromedriver and chromium)"
    );
    false
}

// ---- chromedriver and Chromium ----

/// The first of `names` found in a folder of the `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// `CHROMEDRIVER`, or `chromedriver` on the `PATH`.
fn chromedriver_program() -> PathBuf {
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| on_path(&["chromedriver"]))
        .unwrap_or_else(|| {
            panic!(
                "MANOUCHE_BROWSER_TESTS=1 but no chromedriver: install it \
                 (`apt-get install chromium chromium-driver`), put it on the PATH \
                 or set CHROMEDRIVER to its path"
            )
        })
}

/// `CHROME`, or Chromium (or Chrome) on the `PATH`; `None` leaves the
/// choice to chromedriver.
fn chromium_program() -> Option<PathBuf> {
    std::env::var_os("CHROME")
        .map(PathBuf::from)
        .or_else(|| on_path(&["chromium", "chromium-browser", "google-chrome"]))
}

/// A chromedriver process in a process group of its own: killing the
/// group on drop takes the Chromium processes it started along.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> Self {
        let program = chromedriver_program();
        let port = free_port();
        let child = Command::new(&program)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not listen on port {port}",
                program.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        driver
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (`process_group(0)`).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The screen a browser emulates.
#[derive(Debug, Clone, Copy)]
struct Screen {
    name: &'static str,
    width: u32,
    height: u32,
    /// Device pixels per CSS pixel.
    pixel_ratio: u32,
    /// A phone: touch, and the viewport meta tag honoured.
    mobile: bool,
}

const DESKTOP: Screen = Screen {
    name: "desktop",
    width: 1280,
    height: 800,
    pixel_ratio: 1,
    mobile: false,
};

/// An iPhone 12 to 15's screen.
const PHONE: Screen = Screen {
    name: "phone",
    width: 390,
    height: 844,
    pixel_ratio: 3,
    mobile: true,
};

/// Checks, run in the page, for what a broken layout shows: the document
/// wider than the screen, the page laid out for another width (no
/// viewport meta tag), a stylesheet that did not load, something cut off
/// at the sides, the heading below the first screen, text too small to
/// read, or (on a touch screen) a control too small to tap, its labels
/// included (WCAG 2.2's 24 by 24 px). Returns one line per problem.
const LAYOUT_CHECKS: &str = r#"
const screenWidth = arguments[0];
const problems = [];
const root = document.documentElement;
if (window.innerWidth !== screenWidth) {
  problems.push(`the page is laid out ${window.innerWidth}px wide on a ${screenWidth}px screen`);
}
if (root.scrollWidth > window.innerWidth || root.scrollWidth > screenWidth) {
  problems.push(`the document is ${root.scrollWidth}px wide on a ${screenWidth}px screen`);
}
if (document.styleSheets.length === 0) {
  problems.push("no stylesheet");
}
for (const sheet of document.styleSheets) {
  let rules = 0;
  try { rules = sheet.cssRules.length; } catch (e) { rules = 0; }
  if (rules === 0) problems.push(`the stylesheet ${sheet.href || "in the page"} has no rules`);
}
const label = (el) => `<${el.tagName.toLowerCase()}> ${JSON.stringify((el.textContent || el.name || "").trim().slice(0, 40))}`;
const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
const touch = matchMedia("(pointer: coarse)").matches;
for (const el of document.querySelectorAll("h1, h2, p, li, label, a, input:not([type=hidden]), button, textarea, pre, code, nav, main")) {
  if (!shown(el)) continue;
  const box = el.getBoundingClientRect();
  if (box.left < -0.5 || box.right > screenWidth + 0.5) {
    problems.push(`${label(el)} runs off the screen (${Math.round(box.left)} to ${Math.round(box.right)}px)`);
  }
  if (parseFloat(getComputedStyle(el).fontSize) < 12) {
    problems.push(`${label(el)} has ${getComputedStyle(el).fontSize} text`);
  }
  if (touch && el.matches("input, button, textarea")) {
    // A label is part of its control's target: tapping it ticks the box.
    let [top, right, bottom, left] = [box.top, box.right, box.bottom, box.left];
    for (const other of el.labels || []) {
      const more = other.getBoundingClientRect();
      [top, right, bottom, left] = [Math.min(top, more.top), Math.max(right, more.right), Math.max(bottom, more.bottom), Math.min(left, more.left)];
    }
    if (bottom - top < 24 || right - left < 24) {
      problems.push(`${label(el)} is ${Math.round(right - left)}x${Math.round(bottom - top)}px with its label, too small to tap`);
    }
  }
}
const heading = document.querySelector("h1");
if (!heading || !shown(heading)) {
  problems.push("no heading");
} else if (heading.getBoundingClientRect().bottom > window.innerHeight) {
  problems.push("the heading is below the first screen");
}
return problems;
"#;

/// One headless Chromium session on its own chromedriver.
struct Browser {
    client: Client,
    base: String,
    screen: Screen,
    // Dropped after the client: killing it ends the browser.
    _driver: ChromeDriver,
}

impl Browser {
    async fn start(server: &Server, screen: Screen) -> Self {
        let driver = ChromeDriver::start();
        let mut options = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                format!("--window-size={},{}", screen.width, screen.height),
            ],
            "mobileEmulation": {
                "deviceMetrics": {
                    "width": screen.width,
                    "height": screen.height,
                    "pixelRatio": screen.pixel_ratio,
                    "mobile": screen.mobile,
                    "touch": screen.mobile,
                },
            },
        });
        if let Some(chromium) = chromium_program() {
            options["binary"] = json!(chromium.display().to_string());
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}"));
        Self {
            client,
            base: server.url(""),
            screen,
            _driver: driver,
        }
    }

    async fn close(self) {
        let Self {
            client, _driver, ..
        } = self;
        client.close().await.expect("closing the session");
    }

    async fn open(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("running {script:?}: {e}"))
    }

    /// Types `text` into the field that matches `css`.
    async fn type_into(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        field.clear().await.expect("emptying a field");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Clicks what matches `css`.
    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Waits until `script` (a function body) returns `true`.
    async fn wait_for(&self, what: &str, script: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.run(script, vec![]).await == Value::Bool(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not happen on the {}; the page:\n{}",
                self.screen.name,
                self.client.source().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Signs in through the login page, then waits for the next page.
    async fn log_in(&self, username: &str) {
        self.open("/accounts/login/").await;
        self.type_into("#id_username", username).await;
        self.type_into("#id_password", PASSWORD).await;
        self.click("form button[type=submit]").await;
        self.wait_for(
            "signing in",
            "return location.pathname !== '/accounts/login/' && document.readyState === 'complete';",
        )
        .await;
    }

    /// The messages the room's log shows: (who, text).
    async fn log(&self) -> Vec<(String, String)> {
        let rows = self
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

    /// Saves a screenshot as `dir/NAME-WxH.png` and checks the layout.
    async fn check_screen(&self, dir: &Path, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let screen = self.screen;
        let file = dir.join(format!("{name}-{}x{}.png", screen.width, screen.height));
        std::fs::write(&file, &png).expect("saving the screenshot");
        let problems = self.run(LAYOUT_CHECKS, vec![json!(screen.width)]).await;
        let problems: Vec<&str> = problems
            .as_array()
            .expect("a list of problems")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            problems.is_empty(),
            "{name} on a {} is broken, see {}:\n- {}",
            screen.name,
            file.display(),
            problems.join("\n- ")
        );
        file
    }
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
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("chat-browser-screenshots")
            .join(backend);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for screenshots");
        let site = Site::migrated(&db, &url);
        site.superuser("ana", PASSWORD);
        let server = site.serve(&[]);
        let (ana, guest) = tokio::join!(
            Browser::start(&server, DESKTOP),
            Browser::start(&server, PHONE)
        );
        ana.log_in("ana").await;

        // The room list leads to the room.
        guest.open("/chat/").await;
        guest.click(".rooms a[href='/chat/lobby/']").await;
        guest
            .wait_for(
                "the room page",
                "return location.pathname === '/chat/lobby/';",
            )
            .await;
        ana.open("/chat/lobby/").await;
        ana.wait_for("connecting", CONNECTED).await;
        guest.wait_for("connecting", CONNECTED).await;

        ana.type_into("#chat-message-input", "Hello from the desktop")
            .await;
        ana.click("#chat-message-submit").await;
        let seen = "return document.querySelectorAll('#chat-log li').length >= 1;";
        guest.wait_for("ana's message", seen).await;
        ana.wait_for("ana's own message", seen).await;
        assert_eq!(
            guest.log().await,
            [("ana".to_owned(), "Hello from the desktop".to_owned())]
        );

        // Enter sends too; the guest is shown as a guest.
        guest
            .type_into("#chat-message-input", "Hi Ana, from a phone\n")
            .await;
        let two = "return document.querySelectorAll('#chat-log li').length >= 2;";
        ana.wait_for("the guest's message", two).await;
        guest.wait_for("the guest's own message", two).await;
        let expected = [
            ("ana".to_owned(), "Hello from the desktop".to_owned()),
            ("guest".to_owned(), "Hi Ana, from a phone".to_owned()),
        ];
        assert_eq!(ana.log().await, expected);
        assert_eq!(guest.log().await, expected);
        // Markup typed is text, not markup.
        ana.type_into("#chat-message-input", "<b>bold?</b>\n").await;
        let three = "return document.querySelectorAll('#chat-log li').length >= 3;";
        guest.wait_for("the third message", three).await;
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
