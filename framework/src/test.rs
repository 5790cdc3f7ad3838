//! An in-process test client: requests go through the same pipeline as on
//! the server (host check, limits, error pages, headers), without sockets.
//!
//! ```
//! use manouche::prelude::*;
//! use manouche::test::Client;
//!
//! # tokio_test_block_on(async {
//! let project = Project::new(Settings::default())
//!     .urls(Urls::new().path("hello/<name>/", get(|Path(n): Path<String>| async move { format!("hi {n}") }), "hello"));
//! let client = Client::new(project).unwrap();
//! let response = client.get("/hello/ana/").send().await;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.text(), "hi ana");
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! Requests carry `Host: testserver`, which the client adds to the allowed
//! hosts, as Django's test client does. Like Django's, the client keeps the
//! cookies responses set (a session stays logged in across requests);
//! [`Client::new_browser`] is a second visitor on the same site. Also like
//! Django's, it does not enforce CSRF checks unless asked
//! ([`Client::enforce_csrf_checks`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::Result;
use crate::middleware::SiteService;
use crate::project::Project;

/// Sends requests to a project in the same process.
#[derive(Debug, Clone)]
pub struct Client {
    service: SiteService,
    cookies: Jar,
    database: Option<crate::db::Database>,
    services: Arc<crate::services::Services>,
    enforce_csrf: bool,
}

/// The cookies a client holds, by name (clones of a client share them).
type Jar = Arc<Mutex<BTreeMap<String, String>>>;

impl Client {
    /// Builds the project.
    ///
    /// # Errors
    /// Whatever [`Project::build`] reports.
    pub fn new(project: Project) -> Result<Self> {
        let mut site = project.build()?;
        site.allow_host("testserver");
        let database = site.database().cloned();
        let services = Arc::new(site.services().clone());
        let service = site.into_service();
        Ok(Self {
            service,
            cookies: Jar::default(),
            database,
            services,
            enforce_csrf: false,
        })
    }

    /// The site's services (the mailer's outbox in a test, say).
    #[must_use]
    pub fn services(&self) -> &crate::services::Services {
        &self.services
    }

    /// Makes this client's unsafe requests pass the CSRF check like a
    /// browser's (token and origin), instead of skipping it (Django's
    /// `Client(enforce_csrf_checks=True)`).
    #[must_use]
    pub fn enforce_csrf_checks(mut self) -> Self {
        self.enforce_csrf = true;
        self
    }

    /// The site's database (its own pool: count its queries with
    /// [`Database::query_count`](crate::db::Database::query_count)).
    #[must_use]
    pub fn database(&self) -> Option<&crate::db::Database> {
        self.database.as_ref()
    }

    /// Another visitor of the same site: no cookies yet.
    #[must_use]
    pub fn new_browser(&self) -> Self {
        Self {
            service: self.service.clone(),
            cookies: Jar::default(),
            database: self.database.clone(),
            services: Arc::clone(&self.services),
            enforce_csrf: self.enforce_csrf,
        }
    }

    /// The value of the cookie `name` the client holds.
    #[must_use]
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar().get(name).cloned()
    }

    /// Sets a cookie for the next requests.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar().insert(name.to_owned(), value.to_owned());
    }

    /// Forgets every cookie.
    pub fn clear_cookies(&self) {
        self.jar().clear();
    }

    fn jar(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.cookies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A GET request.
    pub fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }

    /// A POST request.
    pub fn post(&self, path: &str) -> TestRequest {
        self.request(Method::POST, path)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static("testserver"));
        TestRequest {
            service: self.service.clone(),
            method,
            path: path.to_owned(),
            headers,
            body: Body::empty(),
            cookies: Arc::clone(&self.cookies),
            enforce_csrf: self.enforce_csrf,
        }
    }
}

/// A request being built; [`send`](Self::send) it.
#[derive(Debug)]
#[must_use]
pub struct TestRequest {
    service: SiteService,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Body,
    cookies: Jar,
    enforce_csrf: bool,
}

impl TestRequest {
    /// Sets a header (replacing `Host` changes the host checked).
    ///
    /// # Panics
    /// On a malformed header name or value: a mistake in the test itself.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).expect("test header names must be valid");
        let value = HeaderValue::try_from(value).expect("test header values must be valid");
        self.headers.insert(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::from(body.into());
        self
    }

    /// A body that arrives in chunks, with no `Content-Length`; an `Err`
    /// item ends it as a client that disconnects half way would.
    pub fn body_stream<S>(mut self, chunks: S) -> Self
    where
        S: futures_util::Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + 'static,
    {
        self.body = Body::from_stream(chunks);
        self
    }

    /// A `multipart/form-data` body of these fields and files (`(field,
    /// file name, content)`, sent as `application/octet-stream`), as a
    /// browser posts a form with `enctype="multipart/form-data"`.
    pub fn multipart(self, fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Self {
        const BOUNDARY: &str = "manouche-test-boundary-7d3f9a";
        let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n",
                    quote(name)
                )
                .as_bytes(),
            );
        }
        for (name, file_name, content) in files {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                    quote(name),
                    quote(file_name)
                )
                .as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.header(
            "content-type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
    }

    /// A form body (`application/x-www-form-urlencoded`) of these fields,
    /// as a browser posts it.
    pub fn form(self, fields: &[(&str, &str)]) -> Self {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// Sends the request and reads the whole response.
    ///
    /// # Panics
    /// When the path is not a valid URI: a mistake in the test itself.
    pub async fn send(self) -> TestResponse {
        let method = self.method.clone();
        let mut request = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .body(self.body)
            .expect("test request paths must be valid URIs");
        let mut headers = self.headers;
        if !headers.contains_key(http::header::COOKIE) {
            let jar = self
                .cookies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !jar.is_empty() {
                let line = jar
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                headers.insert(
                    http::header::COOKIE,
                    HeaderValue::try_from(line).expect("cookies set by the site are header-safe"),
                );
            }
        }
        *request.headers_mut() = headers;
        if !self.enforce_csrf {
            request.extensions_mut().insert(crate::csrf::ChecksOff);
        }
        let response = match self.service.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (mut parts, body) = response.into_parts();
        keep_cookies(&self.cookies, &parts.headers);
        // What the server writes on the wire: the pipeline leaves a body's
        // exact length to hyper, which sends it as `Content-Length`.
        let status = parts.status;
        if let Some(length) = http_body::Body::size_hint(&body).exact()
            && crate::middleware::server_writes_length(&method, status)
        {
            parts
                .headers
                .entry(http::header::CONTENT_LENGTH)
                .or_insert_with(|| HeaderValue::from(length));
        }
        let body = body
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// `application/x-www-form-urlencoded` escaping of one name or value.
fn form_encode(text: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b' ');
    utf8_percent_encode(text, FORM)
        .to_string()
        .replace(' ', "+")
}

/// Applies a response's `Set-Cookie` headers to the jar: a cookie with
/// `Max-Age=0` (or a negative one) is deleted.
fn keep_cookies(jar: &Jar, headers: &HeaderMap) {
    let mut jar = jar
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for value in headers.get_all(http::header::SET_COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        let mut parts = text.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            continue;
        };
        let expired = parts.any(|attr| {
            attr.trim().split_once('=').is_some_and(|(k, v)| {
                k.eq_ignore_ascii_case("max-age") && v.trim().parse::<i64>().is_ok_and(|n| n <= 0)
            })
        });
        if expired {
            jar.remove(name.trim());
        } else {
            jar.insert(name.trim().to_owned(), value.trim().to_owned());
        }
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }
}
