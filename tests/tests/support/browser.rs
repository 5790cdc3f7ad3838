//! The browser tests' harness: chromedriver in a process group of its
//! own, headless Chromium on a desktop or phone screen (device
//! emulation), a [`Browser`] that opens, fills, clicks and waits the way
//! a person would, and the layout checks every screenshot gets.
#![allow(dead_code, unreachable_pub)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use manouche_e2e::{Server, free_port};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse 42";

/// How long a page, an element or a process may take before the test
/// gives up.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Whether the suite is asked for (see the module docs); prints why not.
pub fn enabled(test: &str) -> bool {
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
pub fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// `CHROMEDRIVER`, or `chromedriver` on the `PATH`.
pub fn chromedriver_program() -> PathBuf {
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
pub fn chromium_program() -> Option<PathBuf> {
    std::env::var_os("CHROME")
        .map(PathBuf::from)
        .or_else(|| on_path(&["chromium", "chromium-browser", "google-chrome"]))
}

/// A chromedriver process in a process group of its own: killing the
/// group on drop takes the Chromium processes it started along.
pub struct ChromeDriver {
    pub child: Child,
    pub url: String,
}

impl ChromeDriver {
    pub fn start() -> Self {
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
pub struct Screen {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    /// Device pixels per CSS pixel.
    pub pixel_ratio: u32,
    /// A phone: touch, and the viewport meta tag honoured.
    pub mobile: bool,
}

pub const DESKTOP: Screen = Screen {
    name: "desktop",
    width: 1280,
    height: 800,
    pixel_ratio: 1,
    mobile: false,
};

/// An iPhone 12 to 15's screen.
pub const PHONE: Screen = Screen {
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
pub const LAYOUT_CHECKS: &str = r#"
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

/// One headless Chromium session, on its own chromedriver, pointed at one
/// server.
pub struct Browser {
    pub client: Client,
    pub base: String,
    pub screen: Screen,
    // Dropped after the client: killing it ends the browser.
    pub _driver: ChromeDriver,
}

impl Browser {
    /// A browser with a 1280x800 viewport, on `server`.
    pub async fn desktop(server: &Server) -> Self {
        Self::start(&server.url(""), DESKTOP).await
    }

    /// A browser on `screen`; paths are opened on `base` (`http://HOST`).
    pub async fn start(base: &str, screen: Screen) -> Self {
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
            base: base.to_owned(),
            screen,
            _driver: driver,
        }
    }

    /// Ends the session (Chromium quits); the driver goes on drop.
    pub async fn close(self) {
        let Self {
            client, _driver, ..
        } = self;
        client.close().await.expect("closing the session");
    }

    /// Opens a page of the site (a path) or any URL.
    pub async fn open(&self, path_or_url: &str) {
        let url = if path_or_url.starts_with('/') {
            format!("{}{path_or_url}", self.base)
        } else {
            path_or_url.to_owned()
        };
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The current page's path and query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("the current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("running {script:?}: {e}"))
    }

    /// The HTTP status of the response the current page came from.
    pub async fn status(&self) -> u64 {
        let status = self
            .run(
                "return performance.getEntriesByType('navigation')[0].responseStatus;",
                vec![],
            )
            .await;
        status
            .as_u64()
            .unwrap_or_else(|| panic!("no status for the page: {status}"))
    }

    /// The first element that matches `css`.
    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!(
                "no {css} on {} ({e}); the page:\n{}",
                self.path().await,
                self.source().await
            ),
        }
    }

    /// Whether an element matches `css`.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("searching the page")
            .is_empty()
    }

    /// Waits until an element matches `css`: what a page's script adds
    /// after a request.
    pub async fn wait_for(&self, css: &str) {
        let selector = serde_json::to_string(css).expect("a CSS selector as JSON");
        self.wait_until(
            &format!("{css} to appear"),
            &format!("return document.querySelector({selector}) !== null;"),
        )
        .await;
    }

    /// Waits until `script` (a function body) returns `true`.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.run(script, vec![]).await == Value::Bool(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {what} on the {} ({}); the page:\n{}",
                self.screen.name,
                self.path().await,
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap_or_default()
    }

    /// The text of the first element that matches `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .expect("an element's text")
    }

    /// The current value of the form field that matches `css`.
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("a field's value")
            .unwrap_or_default()
    }

    /// The page's `<h1>`.
    pub async fn heading(&self) -> String {
        self.text("h1").await
    }

    /// Chooses the file at `path` in the file input that matches `css`, as
    /// a user picking it in the file dialog.
    pub async fn attach(&self, css: &str, path: &Path) {
        let path = path.canonicalize().expect("the file to upload");
        self.find(css)
            .await
            .send_keys(&path.display().to_string())
            .await
            .unwrap_or_else(|e| panic!("choosing a file in {css}: {e}"));
    }

    /// Types `text` into the (emptied) field that matches `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("emptying a field");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Clicks what matches `css` (a submit button, a link) and waits for
    /// the page it leads to.
    pub async fn click(&self, css: &str) {
        let target = self.find(css).await;
        self.run("window.stalePage = true;", vec![]).await;
        target
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
        let deadline = Instant::now() + PATIENCE;
        loop {
            // Fails while the old page unloads: not there yet.
            let fresh = self
                .client
                .execute(
                    "return window.stalePage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(fresh, Ok(Value::Bool(true))) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "clicking {css} led to no new page"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The username the navigation bar shows, or `None` when it offers
    /// "Sign in" (panics when it shows neither: not a page with the bar).
    pub async fn signed_in_as(&self) -> Option<String> {
        if self.has("nav .username").await {
            assert_eq!(self.text("nav form button").await, "Sign out");
            return Some(self.text("nav .username").await);
        }
        assert_eq!(
            self.text("nav .account a").await,
            "Sign in",
            "a page without the navigation bar: {}",
            self.path().await
        );
        None
    }

    /// Who the home page says is signed in.
    pub async fn whoami(&self) -> Option<String> {
        self.open("/").await;
        self.signed_in_as().await
    }

    /// Fills in the login form (already open) and sends it.
    pub async fn submit_login(&self, username: &str, password: &str) {
        self.type_into("#id_username", username).await;
        self.type_into("#id_password", password).await;
        self.click("form button[type=submit]").await;
    }

    /// Logs in through the login page.
    pub async fn log_in(&self, username: &str, password: &str) {
        self.open("/accounts/login/").await;
        self.submit_login(username, password).await;
    }

    /// Saves a screenshot of the page as `dir/NAME-WxH.png` and checks it
    /// and the page's layout (see [`LAYOUT_CHECKS`]).
    pub async fn check_screen(&self, dir: &Path, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let screen = self.screen;
        let file = dir.join(format!("{name}-{}x{}.png", screen.width, screen.height));
        std::fs::write(&file, &png).expect("saving the screenshot");
        assert_eq!(
            png_size(&png),
            (
                screen.width * screen.pixel_ratio,
                screen.height * screen.pixel_ratio
            ),
            "{}: the screenshot is not the screen",
            file.display()
        );
        let problems = self.layout_problems().await;
        assert!(
            problems.is_empty(),
            "{name} on a {} ({}x{}) is broken, see {}:\n- {}",
            screen.name,
            screen.width,
            screen.height,
            file.display(),
            problems.join("\n- ")
        );
        file
    }

    /// What [`LAYOUT_CHECKS`] finds wrong with the page.
    pub async fn layout_problems(&self) -> Vec<String> {
        let problems = self
            .run(LAYOUT_CHECKS, vec![json!(self.screen.width)])
            .await;
        problems
            .as_array()
            .expect("a list of problems")
            .iter()
            .map(|p| p.as_str().expect("a problem").to_owned())
            .collect()
    }
}

/// A PNG's width and height (its IHDR chunk).
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let word = |at: usize| {
        u32::from_be_bytes(
            png.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .expect("a PNG header"),
        )
    };
    (word(16), word(20))
}

/// A fresh folder for `test`'s screenshots on `backend`.
pub fn screenshot_dir(test: &str, backend: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser-screenshots")
        .join(test)
        .join(backend);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder for screenshots");
    dir
}
