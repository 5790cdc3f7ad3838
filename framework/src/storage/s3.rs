//! Files in an S3-compatible object store (cargo feature `s3`): Amazon
//! S3, MinIO, Cloudflare R2, Backblaze B2, Garage, Ceph...
//!
//! Chosen with `[media] storage = "s3"` and described by `[media.s3]`
//! ([`S3Settings`]), it becomes the project's
//! [`DefaultStorage`](super::DefaultStorage), where model forms store
//! uploads:
//!
//! ```toml
//! [media]
//! storage = "s3"
//!
//! [media.s3]
//! bucket = "my-site-media"
//! region = "eu-west-3"
//! public_url = "https://my-site-media.s3.eu-west-3.amazonaws.com/"
//! ```
//!
//! ```
//! use manouche::settings::S3Settings;
//! use manouche::storage::{S3Storage, Storage};
//!
//! let mut settings = S3Settings::default();
//! settings.bucket = "media".into();
//! settings.endpoint = Some("http://127.0.0.1:9000".into());
//! settings.path_style = true;
//! let storage = S3Storage::from_settings(&settings)?;
//! assert_eq!(storage.url("covers/ada.png")?, "http://127.0.0.1:9000/media/covers/ada.png");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How, and why:
//!
//! - Every request is signed with AWS Signature V4 as a presigned URL
//!   (rusty-s3, which does no I/O) valid for five minutes, and sent with
//!   reqwest. Anonymous requests, for a store that allows them, are sent
//!   unsigned when no access key is given.
//! - Names are checked as [`FileSystemStorage`](super::FileSystemStorage)
//!   checks them, so a name is valid in both and moving from one to the
//!   other keeps the rows' names.
//! - Saving never overwrites: a name that a `HEAD` finds taken gets a
//!   random suffix, and the `PUT` carries `If-None-Match: *` so that a
//!   store that supports conditional writes (S3 since 2024, MinIO, R2)
//!   refuses a name taken in between (412), which also moves on to another
//!   name. A large upload is streamed from its temporary file, never read
//!   into memory; its `Content-Type` comes from its name, not from what the
//!   client declared.
//! - [`url`](Storage::url) is `public_url` + the name (a public bucket, or
//!   a CDN in front of a private one), else the object's own address. For
//!   a private bucket without a CDN, [`S3Storage::presigned_url`] gives a
//!   link that works for a while.
//! - A store that cannot be reached or that refuses is a
//!   [`StorageError::Remote`] naming the operation, the name and the
//!   store's answer (a 503 if it reaches a response; a model form shows it
//!   as an error on the field).

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use reqwest::{Method, StatusCode, Url};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::{Storage, StorageError, checked_name, encoded_name, valid_name, with_random_suffix};
use crate::forms::UploadedFile;
use crate::forms::files::Source;
use crate::settings::S3Settings;

/// How long the signature of a request the storage sends stays valid.
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(300);

/// How many names [`Storage::save`] tries before giving up.
const NAME_ATTEMPTS: usize = 100;

/// How much of an error response is quoted in a [`StorageError`].
const QUOTED_ERROR: usize = 300;

/// An S3-compatible bucket as a [`Storage`] (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct S3Storage {
    bucket: Bucket,
    credentials: Option<Credentials>,
    public_url: Option<String>,
    client: reqwest::Client,
}

impl S3Storage {
    /// The bucket `[media.s3]` describes.
    ///
    /// # Errors
    ///
    /// An endpoint that is not an `http(s)` URL, or an empty bucket name.
    pub fn from_settings(settings: &S3Settings) -> Result<Self, crate::StartupError> {
        let bad = |what: String| crate::StartupError::improperly_configured(what);
        if settings.bucket.is_empty() {
            return Err(bad("media.s3.bucket must name the bucket".to_owned()));
        }
        let endpoint = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", settings.region));
        let url: Url = endpoint.parse().map_err(|e| {
            bad(format!(
                "media.s3.endpoint {endpoint:?} is not a URL ({e}); write it as https://host[:port]"
            ))
        })?;
        let style = if settings.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(url, style, settings.bucket.clone(), settings.region.clone())
            .map_err(|e| {
                bad(format!(
                    "media.s3.endpoint {endpoint:?} cannot address bucket {:?}: {e}",
                    settings.bucket
                ))
            })?;
        let credentials = (!settings.access_key_id.is_empty()).then(|| {
            Credentials::new(
                settings.access_key_id.clone(),
                settings.secret_access_key.clone(),
            )
        });
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| bad(format!("could not set up the object store's client: {e}")))?;
        Ok(Self {
            bucket,
            credentials,
            public_url: settings.public_url.clone(),
            client,
        })
    }

    /// A link to `name` that works for `expires_in` (at most a week, S3's
    /// limit) without making the bucket public: for private files shown
    /// to the users allowed to see them.
    ///
    /// # Errors
    ///
    /// [`StorageError::InvalidName`].
    pub fn presigned_url(&self, name: &str, expires_in: Duration) -> Result<String, StorageError> {
        let name = checked_name(name)?;
        Ok(self
            .bucket
            .get_object(self.credentials.as_ref(), name)
            .sign(expires_in)
            .into())
    }

    /// The signed address of `action` (unsigned without credentials).
    fn address<'a>(&self, action: impl S3Action<'a>) -> Url {
        action.sign(SIGNATURE_LIFETIME)
    }

    /// Sends `request`; a failure to reach the store is a
    /// [`StorageError::Remote`] that says where it was looked for.
    async fn send(
        &self,
        operation: &'static str,
        name: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, StorageError> {
        request.send().await.map_err(|e| StorageError::Remote {
            operation,
            name: name.to_owned(),
            message: format!(
                "could not reach the object store at {} ({}); check media.s3.endpoint and that \
                 the store is up",
                self.bucket.base_url(),
                error_chain(&e)
            ),
        })
    }

    /// Whether `key` is stored.
    async fn head(&self, key: &str) -> Result<bool, StorageError> {
        let url = self.address(self.bucket.head_object(self.credentials.as_ref(), key));
        let response = self
            .send("HEAD", key, self.client.request(Method::HEAD, url))
            .await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(refused("HEAD", key, response).await),
        }
    }

    /// Writes `file` as `key` unless the store has it already: `false`
    /// when it refused because the name is taken.
    async fn put_new(&self, key: &str, file: &UploadedFile) -> Result<bool, StorageError> {
        let url = self.address(self.bucket.put_object(self.credentials.as_ref(), key));
        let body = match file.source() {
            Source::Memory(bytes) => reqwest::Body::from(bytes.clone()),
            Source::File(path) => {
                let opened =
                    tokio::fs::File::open(path)
                        .await
                        .map_err(|source| StorageError::Io {
                            path: path.to_owned(),
                            source,
                        })?;
                reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(opened))
            }
        };
        let content_type = mime_guess::from_path(key).first_or_octet_stream();
        let request = self
            .client
            .put(url)
            .header(http::header::CONTENT_LENGTH, file.size())
            .header(http::header::CONTENT_TYPE, content_type.as_ref())
            .header(http::header::IF_NONE_MATCH, "*")
            .body(body);
        let response = self.send("PUT", key, request).await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            // Taken meanwhile (412), or another conditional write in
            // flight for the name (409, S3's ConditionalRequestConflict).
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => Ok(false),
            _ => Err(refused("PUT", key, response).await),
        }
    }
}

/// The store answered with an error: its status and the start of its
/// message (S3 sends an XML `<Error>` with a code and a message).
async fn refused(operation: &'static str, name: &str, response: reqwest::Response) -> StorageError {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let quoted: String = body.trim().chars().take(QUOTED_ERROR).collect();
    let hint = match status {
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
            "; check the access key and its rights on the bucket"
        }
        StatusCode::NOT_FOUND => "; check media.s3.bucket, region and path_style",
        _ => "",
    };
    StorageError::Remote {
        operation,
        name: name.to_owned(),
        message: format!("the store answered {status}{hint}: {quoted}"),
    }
}

/// `e` and its causes, as one line ("error sending request: connection
/// refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

impl Storage for S3Storage {
    fn save<'a>(
        &'a self,
        name: &'a str,
        file: &'a UploadedFile,
    ) -> BoxFuture<'a, Result<String, StorageError>> {
        Box::pin(async move {
            let wanted = valid_name(name)?;
            let mut key = wanted.clone();
            for _ in 0..NAME_ATTEMPTS {
                if !self.head(&key).await? && self.put_new(&key, file).await? {
                    return Ok(key);
                }
                key = with_random_suffix(&wanted);
            }
            Err(StorageError::NoFreeName(wanted))
        })
    }

    fn exists<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move { self.head(checked_name(name)?).await })
    }

    fn read<'a>(
        &'a self,
        name: &'a str,
        limit: Option<u64>,
    ) -> BoxFuture<'a, Result<Bytes, StorageError>> {
        Box::pin(async move {
            let key = checked_name(name)?;
            let url = self.address(self.bucket.get_object(self.credentials.as_ref(), key));
            let mut request = self.client.get(url);
            match limit {
                Some(0) => return Ok(Bytes::new()),
                Some(n) => {
                    request = request.header(http::header::RANGE, format!("bytes=0-{}", n - 1));
                }
                None => {}
            }
            let response = self.send("GET", key, request).await?;
            match response.status() {
                s if s.is_success() => {}
                StatusCode::NOT_FOUND => return Err(StorageError::NotFound(key.to_owned())),
                // A range past the end of an empty object.
                StatusCode::RANGE_NOT_SATISFIABLE => return Ok(Bytes::new()),
                _ => return Err(refused("GET", key, response).await),
            }
            let bytes = response.bytes().await.map_err(|e| StorageError::Remote {
                operation: "GET",
                name: key.to_owned(),
                message: format!("the transfer broke off: {}", error_chain(&e)),
            })?;
            // A store that ignores Range sends it all.
            Ok(match limit {
                Some(n) => bytes.slice(..bytes.len().min(usize::try_from(n).unwrap_or(usize::MAX))),
                None => bytes,
            })
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let key = checked_name(name)?;
            let url = self.address(self.bucket.delete_object(self.credentials.as_ref(), key));
            let response = self.send("DELETE", key, self.client.delete(url)).await?;
            match response.status() {
                s if s.is_success() => Ok(()),
                StatusCode::NOT_FOUND => Ok(()),
                _ => Err(refused("DELETE", key, response).await),
            }
        })
    }

    fn url(&self, name: &str) -> Result<String, StorageError> {
        let encoded = encoded_name(name)?;
        match &self.public_url {
            Some(base) => Ok(format!("{base}{encoded}")),
            None => Ok(format!("{}{encoded}", self.bucket.base_url())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes as Body;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, Method as HttpMethod, StatusCode as Status, Uri};
    use axum::routing::any;

    use super::*;

    fn settings(endpoint: &str) -> S3Settings {
        S3Settings {
            bucket: "media".into(),
            endpoint: Some(endpoint.into()),
            path_style: true,
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            ..S3Settings::default()
        }
    }

    #[test]
    fn urls_are_built_from_the_public_url_or_the_bucket() {
        let storage = S3Storage::from_settings(&settings("http://127.0.0.1:9000")).unwrap();
        assert_eq!(
            storage.url("covers/my ada.png").unwrap(),
            "http://127.0.0.1:9000/media/covers/my%20ada.png"
        );
        let mut aws = S3Settings {
            bucket: "site-media".into(),
            region: "eu-west-3".into(),
            ..S3Settings::default()
        };
        let storage = S3Storage::from_settings(&aws).unwrap();
        assert_eq!(
            storage.url("a/b.png").unwrap(),
            "https://site-media.s3.eu-west-3.amazonaws.com/a/b.png"
        );
        aws.public_url = Some("https://cdn.example.com/m/".into());
        let storage = S3Storage::from_settings(&aws).unwrap();
        assert_eq!(
            storage.url("a/été.png").unwrap(),
            "https://cdn.example.com/m/a/%C3%A9t%C3%A9.png"
        );
        for bad in ["", "../x", "a//b", ".hidden", "/etc/passwd", "a\0b", "a\\b"] {
            assert!(
                matches!(storage.url(bad), Err(StorageError::InvalidName(_))),
                "{bad:?}"
            );
            assert!(storage.presigned_url(bad, Duration::from_secs(60)).is_err());
        }
        assert!(S3Storage::from_settings(&settings("ftp://host")).is_err());
        assert!(S3Storage::from_settings(&settings("not a url")).is_err());
    }

    #[test]
    fn requests_are_signed_as_aws_documents() {
        // The presigned GET of the AWS Signature V4 documentation
        // ("Authenticating Requests: Using Query Parameters").
        let mut s = settings("https://s3.amazonaws.com");
        s.bucket = "examplebucket".into();
        s.path_style = false;
        let storage = S3Storage::from_settings(&s).unwrap();
        let time: jiff::Timestamp = "2013-05-24T00:00:00Z".parse().unwrap();
        let url = storage
            .bucket
            .get_object(storage.credentials.as_ref(), "test.txt")
            .sign_with_time(Duration::from_secs(86400), &time);
        assert_eq!(
            url.as_str(),
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
        let link = storage
            .presigned_url("covers/ada.png", Duration::from_secs(600))
            .unwrap();
        assert!(
            link.starts_with("https://examplebucket.s3.amazonaws.com/covers/ada.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&")
                && link.contains("X-Amz-Expires=600&"),
            "{link}"
        );
        // Without a key: plain addresses, for a store open to anyone.
        s.access_key_id.clear();
        let open = S3Storage::from_settings(&s).unwrap();
        assert_eq!(
            open.presigned_url("a.png", Duration::from_secs(60))
                .unwrap(),
            "https://examplebucket.s3.amazonaws.com/a.png"
        );
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_reached_is_a_clear_error() {
        // A port nothing listens on.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let storage =
            S3Storage::from_settings(&settings(&format!("http://127.0.0.1:{port}"))).unwrap();
        let file = UploadedFile::from_bytes("a.txt", "text/plain", "hello");
        let err = storage.save("docs/a.txt", &file).await.unwrap_err();
        let StorageError::Remote {
            operation, name, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!((*operation, name.as_str()), ("HEAD", "docs/a.txt"));
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "could not reach the object store at http://127.0.0.1:{port}/media/"
            )) && text.contains("check media.s3.endpoint"),
            "{text}"
        );
        assert!(matches!(
            storage.read("docs/a.txt", Some(10)).await,
            Err(StorageError::Remote {
                operation: "GET",
                ..
            })
        ));
        assert!(matches!(
            storage.delete("docs/a.txt").await,
            Err(StorageError::Remote {
                operation: "DELETE",
                ..
            })
        ));
        // A bad name fails before any request.
        assert!(matches!(
            storage.save("../x", &file).await,
            Err(StorageError::InvalidName(_))
        ));
        let status = crate::Error::from(err).status();
        assert_eq!(status, http::StatusCode::SERVICE_UNAVAILABLE);
    }

    /// What the fake store keeps, and every request it got.
    #[derive(Default)]
    struct Fake {
        objects: HashMap<String, (Vec<u8>, String)>,
        log: Vec<String>,
        /// Refuse the next conditional PUT as if another client won.
        lose_next_race: bool,
    }

    /// An S3 stand-in: path-style objects under `/media/`, conditional
    /// PUTs, ranged GETs; it checks that every request is signed.
    async fn fake_s3(
        State(fake): State<Arc<Mutex<Fake>>>,
        method: HttpMethod,
        uri: Uri,
        Path(key): Path<String>,
        headers: HeaderMap,
        body: Body,
    ) -> (Status, Vec<u8>) {
        let mut fake = fake.lock().unwrap();
        let query = uri.query().unwrap_or_default();
        fake.log.push(format!("{method} {key}"));
        if !query.contains("X-Amz-Signature=") || !query.contains("X-Amz-Credential=AKIA") {
            return (
                Status::FORBIDDEN,
                b"<Error><Code>AccessDenied</Code></Error>".to_vec(),
            );
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        match method {
            HttpMethod::HEAD => {
                let status = if fake.objects.contains_key(&key) {
                    Status::OK
                } else {
                    Status::NOT_FOUND
                };
                (status, Vec::new())
            }
            HttpMethod::PUT => {
                assert_eq!(header("if-none-match"), Some("*"));
                assert_eq!(
                    header("content-length"),
                    Some(body.len().to_string().as_str())
                );
                if std::mem::take(&mut fake.lose_next_race) || fake.objects.contains_key(&key) {
                    return (Status::PRECONDITION_FAILED, Vec::new());
                }
                let content_type = header("content-type").unwrap_or_default().to_owned();
                fake.objects.insert(key, (body.to_vec(), content_type));
                (Status::OK, Vec::new())
            }
            HttpMethod::GET => match fake.objects.get(&key) {
                None => (
                    Status::NOT_FOUND,
                    b"<Error><Code>NoSuchKey</Code></Error>".to_vec(),
                ),
                Some((content, _)) => {
                    match header("range").and_then(|r| r.strip_prefix("bytes=0-")) {
                        Some(last) => {
                            let end = (last.parse::<usize>().unwrap() + 1).min(content.len());
                            (Status::PARTIAL_CONTENT, content[..end].to_vec())
                        }
                        None => (Status::OK, content.clone()),
                    }
                }
            },
            HttpMethod::DELETE => {
                fake.objects.remove(&key);
                (Status::NO_CONTENT, Vec::new())
            }
            _ => (Status::METHOD_NOT_ALLOWED, Vec::new()),
        }
    }

    #[tokio::test]
    async fn files_are_stored_without_overwriting() {
        let fake = Arc::new(Mutex::new(Fake::default()));
        let app = axum::Router::new()
            .route("/media/{*key}", any(fake_s3))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let storage = S3Storage::from_settings(&settings(&format!("http://{address}"))).unwrap();

        let small = UploadedFile::from_bytes("ada.png", "text/html", "not really a png");
        assert_eq!(
            storage.save("covers/ada.png", &small).await.unwrap(),
            "covers/ada.png"
        );
        // Taken: a suffix; and a name taken between the HEAD and the PUT
        // moves on too.
        let second = storage.save("covers/ada.png", &small).await.unwrap();
        assert!(
            second.starts_with("covers/ada_") && second.ends_with(".png"),
            "{second}"
        );
        fake.lock().unwrap().lose_next_race = true;
        let third = storage.save("covers/new.png", &small).await.unwrap();
        assert!(third.starts_with("covers/new_"), "{third}");
        {
            let fake = fake.lock().unwrap();
            assert_eq!(fake.objects.len(), 3);
            // The type comes from the name, not from what the client said.
            assert_eq!(fake.objects["covers/ada.png"].1, "image/png");
        }

        // A large upload, from its temporary file.
        let dir = tempfile::tempdir().unwrap();
        let limits = crate::forms::files::UploadLimits {
            max_memory_size: 10,
            max_file_size: 1 << 20,
            temp_dir: Some(dir.path().to_owned()),
        };
        let mut receiver = crate::forms::files::FileReceiver::new(&limits);
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        receiver.push(&content).await.unwrap();
        let big = receiver.finish("big.bin", None).await.unwrap();
        assert!(!big.is_in_memory());
        let name = storage.save("files/big.bin", &big).await.unwrap();
        assert_eq!(&storage.read(&name, None).await.unwrap()[..], &content[..]);
        assert_eq!(
            &storage.read(&name, Some(16)).await.unwrap()[..],
            &content[..16]
        );

        assert!(storage.exists("covers/ada.png").await.unwrap());
        storage.delete("covers/ada.png").await.unwrap();
        assert!(!storage.exists("covers/ada.png").await.unwrap());
        storage.delete("covers/ada.png").await.unwrap();
        assert!(matches!(
            storage.read("covers/ada.png", None).await,
            Err(StorageError::NotFound(_))
        ));

        // A key the store refuses: the store's answer, with what to check.
        let mut unsigned = settings(&format!("http://{address}"));
        unsigned.access_key_id.clear();
        let anonymous = S3Storage::from_settings(&unsigned).unwrap();
        let err = anonymous.exists("x.png").await.unwrap_err().to_string();
        assert!(err.contains("403 Forbidden; check the access key"), "{err}");
        let log = fake.lock().unwrap().log.clone();
        assert_eq!(
            &log[..4],
            [
                "HEAD covers/ada.png",
                "PUT covers/ada.png",
                "HEAD covers/ada.png",
                format!("HEAD {second}").as_str()
            ]
        );
    }
}
