//! Static files: collectstatic, in-memory serving, validators, encodings,
//! ranges, traversal attempts and debug-mode fresh reads.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use manouche::prelude::*;
use manouche::test::{Client, TestResponse};

const CSS: &str = ".logo { background: url(img/logo.png) }\n@import 'base.css';\n";

/// A fresh project folder with `static/site/{app.css,base.css,img/logo.png}`.
fn project_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "manouche-static-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("static/site/img")).unwrap();
    // Long enough to be worth compressing.
    let css = format!("{CSS}{}", ".pad { color: red }\n".repeat(100));
    std::fs::write(dir.join("static/site/app.css"), css).unwrap();
    std::fs::write(
        dir.join("static/site/base.css"),
        "body { margin: 0 }\n".repeat(30),
    )
    .unwrap();
    std::fs::write(
        dir.join("static/site/img/logo.png"),
        [0x89, b'P', b'N', b'G', 1, 2, 3],
    )
    .unwrap();
    std::fs::write(dir.join("secret.txt"), "do not serve").unwrap();
    dir
}

fn settings(dir: &Path, debug: bool) -> Settings {
    let mut s = Settings::default();
    s.debug = debug;
    s.static_files.dirs = vec![dir.join("static")];
    s.static_files.root = dir.join("staticfiles");
    s
}

async fn collect(dir: &Path) {
    Project::new(settings(dir, false))
        .app(manouche::contrib::staticfiles::app())
        .manage_from(["site", "collectstatic", "--clear"])
        .await
        .unwrap();
}

fn build(dir: &Path, debug: bool) -> Client {
    Client::new(
        Project::new(settings(dir, debug))
            .app(manouche::contrib::staticfiles::app())
            // `static_url` answers for the project serving the request.
            .urls(Urls::new().path(
                "url/",
                get(|| async { manouche::templates::static_url("site/app.css") }),
                "url",
            )),
    )
    .unwrap()
}

fn client(dir: &Path, debug: bool) -> Client {
    build(dir, debug)
}

fn manifest(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("staticfiles/staticfiles.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hashed(dir: &Path, name: &str) -> String {
    manifest(dir)["paths"][name].as_str().unwrap().to_owned()
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> String {
    let mut out = String::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn collectstatic_hashes_names_rewrites_css_and_compresses() {
    let dir = project_dir();
    collect(&dir).await;
    let css = hashed(&dir, "site/app.css");
    let logo = hashed(&dir, "site/img/logo.png");
    let base = hashed(&dir, "site/base.css");
    assert!(
        css.starts_with("site/app.")
            && css.ends_with(".css")
            && css.len() == "site/app..css".len() + 12
    );
    let text = std::fs::read_to_string(dir.join("staticfiles").join(&css)).unwrap();
    let logo_file = logo.rsplit('/').next().unwrap();
    let base_file = base.rsplit('/').next().unwrap();
    assert!(text.contains(&format!("url(img/{logo_file})")), "{text}");
    assert!(text.contains(&format!("@import '{base_file}'")), "{text}");
    // Plain names are kept, and compressible files get variants.
    assert!(dir.join("staticfiles/site/app.css").is_file());
    assert!(dir.join("staticfiles").join(format!("{css}.gz")).is_file());
    assert!(dir.join("staticfiles").join(format!("{css}.br")).is_file());
    assert!(
        !dir.join("staticfiles").join(format!("{logo}.gz")).exists(),
        "png is not compressed"
    );
    // The template helper gives the hashed URL once collected.
    let site = build(&dir, false);
    assert_eq!(
        site.get("/url/").send().await.text(),
        format!("/static/{css}")
    );
    // Outside a request there is no current project: the plain name.
    assert_eq!(
        manouche::templates::static_url("site/app.css"),
        "/static/site/app.css"
    );
}

#[tokio::test]
async fn cache_headers_for_hashed_and_plain_names() {
    let dir = project_dir();
    collect(&dir).await;
    let c = client(&dir, false);
    let css = hashed(&dir, "site/app.css");
    let r = c.get(&format!("/static/{css}")).send().await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("vary"), Some("accept-encoding"));
    assert!(r.header("etag").is_some() && r.header("last-modified").is_some());
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("x-request-id").is_some());
    let plain = c.get("/static/site/app.css").send().await;
    assert_eq!(plain.header("cache-control"), Some("public, max-age=60"));
    assert_eq!(
        plain.text(),
        r.text(),
        "both names serve the collected bytes"
    );
    let png = c
        .get(&format!("/static/{}", hashed(&dir, "site/img/logo.png")))
        .send()
        .await;
    assert_eq!(png.header("content-type"), Some("image/png"));
    assert_eq!(png.bytes().as_ref(), [0x89, b'P', b'N', b'G', 1, 2, 3]);
}

#[tokio::test]
async fn validators_give_304() {
    let dir = project_dir();
    collect(&dir).await;
    let c = client(&dir, false);
    let first = c.get("/static/site/app.css").send().await;
    let etag = first.header("etag").unwrap().to_owned();
    let modified = first.header("last-modified").unwrap().to_owned();
    for (name, value) in [
        ("if-none-match", etag.clone()),
        ("if-none-match", format!("W/{etag}")),
        ("if-none-match", format!("\"other\", {etag}")),
        ("if-none-match", "*".to_owned()),
        ("if-modified-since", modified.clone()),
        (
            "if-modified-since",
            "Fri, 01 Jan 2100 00:00:00 GMT".to_owned(),
        ),
    ] {
        let r = c
            .get("/static/site/app.css")
            .header(name, &value)
            .send()
            .await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{name}: {value}");
        assert!(r.bytes().is_empty());
        assert_eq!(r.header("etag"), Some(etag.as_str()));
    }
    for (name, value) in [
        ("if-none-match", "\"stale\"".to_owned()),
        (
            "if-modified-since",
            "Mon, 01 Jan 1990 00:00:00 GMT".to_owned(),
        ),
        ("if-modified-since", "not a date".to_owned()),
    ] {
        let r = c
            .get("/static/site/app.css")
            .header(name, &value)
            .send()
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{name}: {value}");
    }
    // If-None-Match wins over If-Modified-Since.
    let r = c
        .get("/static/site/app.css")
        .header("if-none-match", "\"stale\"")
        .header("if-modified-since", &modified)
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn accept_encoding_picks_the_variant() {
    let dir = project_dir();
    collect(&dir).await;
    let c = client(&dir, false);
    let identity = c.get("/static/site/app.css").send().await;
    assert_eq!(identity.header("content-encoding"), None);
    let original = identity.text();
    let br = c
        .get("/static/site/app.css")
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.header("vary"), Some("accept-encoding"));
    assert!(br.bytes().len() < original.len());
    assert_eq!(unbrotli(br.bytes()), original);
    let gz = c
        .get("/static/site/app.css")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(gz.bytes()), original);
    assert_eq!(
        gz.header("content-length"),
        Some(gz.bytes().len().to_string().as_str())
    );
    let refused = c
        .get("/static/site/app.css")
        .header("accept-encoding", "br;q=0, gzip;q=0")
        .send()
        .await;
    assert_eq!(refused.header("content-encoding"), None);
    assert_ne!(
        br.header("etag"),
        gz.header("etag"),
        "each representation has its own tag"
    );
}

#[tokio::test]
async fn ranges_give_206_or_416() {
    let dir = project_dir();
    collect(&dir).await;
    let c = client(&dir, false);
    let full = c.get("/static/site/app.css").send().await.text();
    let len = full.len();
    let r = c
        .get("/static/site/app.css")
        .header("range", "bytes=0-9")
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.text(), full[..10]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-9/{len}").as_str())
    );
    assert_eq!(r.header("content-length"), Some("10"));
    let r = c
        .get("/static/site/app.css")
        .header("range", "bytes=-5")
        .send()
        .await;
    assert_eq!(r.text(), full[len - 5..]);
    let r = c
        .get("/static/site/app.css")
        .header("range", &format!("bytes={}-", len - 3))
        .send()
        .await;
    assert_eq!(r.text(), full[len - 3..]);
    let r = c
        .get("/static/site/app.css")
        .header("range", "bytes=5-100000")
        .send()
        .await;
    assert_eq!(r.text(), full[5..]);
    // Ranges are of the identity bytes, even when the client accepts br.
    let r = c
        .get("/static/site/app.css")
        .header("range", "bytes=0-3")
        .header("accept-encoding", "br")
        .send()
        .await;
    assert_eq!(
        (r.status(), r.text()),
        (StatusCode::PARTIAL_CONTENT, full[..4].to_owned())
    );
    for bad in [
        format!("bytes={len}-"),
        "bytes=9-2".to_owned(),
        "bytes=-0".to_owned(),
        "bytes=x-y".to_owned(),
    ] {
        let r = c
            .get("/static/site/app.css")
            .header("range", &bad)
            .send()
            .await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{bad}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{len}").as_str())
        );
    }
    // Several ranges, another unit, or a stale If-Range: the whole file.
    for (name, value) in [("range", "bytes=0-1,5-6"), ("range", "items=0-1")] {
        let r = c
            .get("/static/site/app.css")
            .header(name, value)
            .send()
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{value}");
    }
    let r = c
        .get("/static/site/app.css")
        .header("range", "bytes=0-1")
        .header("if-range", "\"old\"")
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn head_and_other_methods() {
    let dir = project_dir();
    collect(&dir).await;
    let c = client(&dir, false);
    let get = c.get("/static/site/app.css").send().await;
    let head = c
        .request(http::Method::HEAD, "/static/site/app.css")
        .send()
        .await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.bytes().is_empty());
    assert_eq!(head.header("content-length"), get.header("content-length"));
    assert_eq!(head.header("etag"), get.header("etag"));
    let post = c.post("/static/site/app.css").send().await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

async fn assert_traversal_refused(c: &Client) {
    for path in [
        "/static/../secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/site/..%2f..%2fsecret.txt",
        "/static/site/%2e%2e/%2e%2e/secret.txt",
        "/static/..%5csecret.txt",
        "/static/%2fetc%2fpasswd",
        "/static//etc/passwd",
        "/static/site/app.css%00.png",
        "/static/%c0%ae%c0%ae/secret.txt",
        "/static/.%2e/secret.txt",
        "/static/site/./app.css",
        "/static/site/.hidden",
        "/static/%252e%252e/secret.txt",
        "/static/",
    ] {
        let r: TestResponse = c.get(path).send().await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().contains("do not serve"), "{path}");
    }
}

#[tokio::test]
async fn traversal_attempts_get_404_in_deploy_and_debug() {
    let dir = project_dir();
    collect(&dir).await;
    assert_traversal_refused(&client(&dir, false)).await;
    assert_traversal_refused(&client(&dir, true)).await;
}

#[tokio::test]
async fn debug_reads_files_fresh_with_plain_names() {
    let dir = project_dir();
    let c = build(&dir, true);
    assert_eq!(c.get("/url/").send().await.text(), "/static/site/app.css");
    let r = c.get("/static/site/base.css").send().await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    std::fs::write(dir.join("static/site/base.css"), "body { margin: 1px }").unwrap();
    let r = c.get("/static/site/base.css").send().await;
    assert_eq!(r.text(), "body { margin: 1px }");
    let tag = r.header("etag").unwrap().to_owned();
    let r = c
        .get("/static/site/base.css")
        .header("if-none-match", &tag)
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        c.get("/static/site/nope.css").send().await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn large_files_are_streamed_from_disk() {
    let dir = project_dir();
    let big: String = (0..50_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    std::fs::write(dir.join("static/site/big.txt"), &big).unwrap();
    collect(&dir).await;
    let mut s = settings(&dir, false);
    s.static_files.max_memory_file_size = 10_000;
    let c = { Client::new(Project::new(s).app(manouche::contrib::staticfiles::app())).unwrap() };
    let r = c.get("/static/site/big.txt").send().await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text(), big);
    assert_eq!(r.header("content-length"), Some("50000"));
    let r = c
        .get("/static/site/big.txt")
        .header("range", "bytes=49990-")
        .send()
        .await;
    assert_eq!(
        (r.status(), r.text()),
        (StatusCode::PARTIAL_CONTENT, big[49_990..].to_owned())
    );
}

#[tokio::test]
async fn without_collectstatic_the_folders_are_served_with_plain_names() {
    let dir = project_dir();
    let c = client(&dir, false);
    let r = c.get("/static/site/app.css").send().await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text().contains("url(img/logo.png)"),
        "not rewritten: nothing was hashed"
    );
    let br = c
        .get("/static/site/app.css")
        .header("accept-encoding", "br")
        .send()
        .await;
    assert_eq!(
        br.header("content-encoding"),
        Some("br"),
        "compressed at startup"
    );
}

#[test]
fn the_apps_checks_report_a_missing_folder_and_a_missing_collect() {
    let dir = project_dir();
    let mut s = settings(&dir, false);
    s.static_files.dirs.push(dir.join("nope"));
    let project = Project::new(s)
        .app(manouche::contrib::staticfiles::app())
        .app(App::new("themes").static_dir(dir.join("themes-static")));
    let ids = |deploy| -> Vec<String> {
        project
            .check(deploy)
            .unwrap()
            .into_iter()
            .filter(|m| m.id.starts_with("staticfiles."))
            .map(|m| format!("{} {}", m.id, m.message))
            .collect()
    };
    let found = ids(false);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].contains("nope") && found[1].contains("themes-static"),
        "{found:?}"
    );
    // Deploying without `collectstatic`.
    assert!(ids(true).iter().any(|m| m.starts_with("staticfiles.W002")));
    // The default folder may be missing without a warning.
    let mut s = settings(&dir, false);
    s.static_files.dirs = manouche::settings::StaticSettings::default().dirs;
    let quiet = Project::new(s).app(manouche::contrib::staticfiles::app());
    assert!(quiet.check(false).unwrap().is_empty());
}
