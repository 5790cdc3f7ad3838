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
//! hosts, as Django's test client does.

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
}

impl Client {
    /// Builds the project.
    ///
    /// # Errors
    /// Whatever [`Project::build`] reports.
    pub fn new(project: Project) -> Result<Self> {
        let mut site = project.build()?;
        site.allow_host("testserver");
        let service = site.into_service();
        Ok(Self { service })
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
            body: Bytes::new(),
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
    body: Bytes,
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
        self.body = body.into();
        self
    }

    /// Sends the request and reads the whole response.
    ///
    /// # Panics
    /// When the path is not a valid URI: a mistake in the test itself.
    pub async fn send(self) -> TestResponse {
        let mut request = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .body(Body::from(self.body))
            .expect("test request paths must be valid URIs");
        *request.headers_mut() = self.headers;
        let response = match self.service.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
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
