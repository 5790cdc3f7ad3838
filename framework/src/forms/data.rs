//! Submitted form data: Django's `request.POST` (or `request.GET` for a
//! form sent with `method="get"`) and `request.FILES`.
//!
//! A `multipart/form-data` request is read as it streams in, with the
//! `multer` parser (the one behind axum's own `Multipart`, maintained with
//! axum and hyper; it yields each part chunk by chunk), so a file goes to a
//! temporary file once it passes `media.file_upload_max_memory_size`
//! instead of the whole body being buffered (see [`UploadedFile`]).
//! URL-encoded bodies are small (the body limit caps them) and are read
//! whole.
//!
//! When the CSRF check needs the token from a multipart body, it parses the
//! body this same way and hands the result to the view in the request's
//! extensions (`ParsedForm`), as Django caches `request.POST`: the body is
//! read once, and a large file is still never held in memory.

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use http::{Method, StatusCode};

use super::files::{FileReceiver, MAX_FILES, ReceiveError, UploadLimits, UploadedFile};
use crate::settings::MediaSettings;
use crate::web::form_body::{FormKind, urlencoded_pairs};

/// The most fields one request may send (Django's
/// `DATA_UPLOAD_MAX_NUMBER_FIELDS`): past it the request gets 400, so that
/// a body of a million empty fields cannot make a view build a million
/// strings.
pub const MAX_FIELDS: usize = 1000;

/// The submitted fields, in order, each name possibly repeated (a multiple
/// select sends one pair per chosen option), and the files.
///
/// As an extractor it reads the query string of a `GET` or `HEAD` request
/// and the body of any other: `application/x-www-form-urlencoded` or
/// `multipart/form-data`, the same way. File parts are not fields (Django
/// keeps them out of `request.POST`): they are [`UploadedFile`]s, read with
/// [`file`](Self::file); a file part with an empty file name (a file input
/// left empty) is no file, as in Django. Bad UTF-8 is replaced, as Django
/// does. A body of another type gets 415, more than [`MAX_FIELDS`] fields
/// or [`MAX_FILES`] files 400, a malformed or cut-short multipart body 400,
/// and a body over `server.body_limit` or a file over `media.max_file_size`
/// 413.
///
/// ```
/// use manouche::forms::FormData;
///
/// let data = FormData::from_urlencoded(b"tag=a&tag=b&title=Hi+there").unwrap();
/// assert_eq!(data.get("title"), Some("Hi there"));
/// assert_eq!(data.get_all("tag"), ["a", "b"]);
/// assert_eq!(data.get("missing"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormData {
    pairs: Vec<(String, String)>,
    files: Vec<(String, UploadedFile)>,
}

/// Why a request's form data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormDataError {
    /// More than [`MAX_FIELDS`] fields.
    #[error("the form sent more than {MAX_FIELDS} fields")]
    TooManyFields,
    /// More than [`MAX_FILES`] files.
    #[error("the form sent more than {MAX_FILES} files")]
    TooManyFiles,
    /// A body that is not a form.
    #[error(
        "expected a form body (application/x-www-form-urlencoded or multipart/form-data), got {0}"
    )]
    NotAForm(String),
}

impl From<FormDataError> for crate::Error {
    fn from(e: FormDataError) -> Self {
        let status = match e {
            FormDataError::NotAForm(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        crate::Error::new(status, e.to_string())
    }
}

impl FormData {
    /// No fields.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses an `application/x-www-form-urlencoded` body or query string.
    ///
    /// # Errors
    ///
    /// [`FormDataError::TooManyFields`].
    pub fn from_urlencoded(body: &[u8]) -> Result<Self, FormDataError> {
        Self::collect(urlencoded_pairs(body))
    }

    fn collect<'a>(
        pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
    ) -> Result<Self, FormDataError> {
        let mut out = Vec::new();
        for (key, value) in pairs {
            if out.len() == MAX_FIELDS {
                return Err(FormDataError::TooManyFields);
            }
            out.push((key.into_owned(), value.into_owned()));
        }
        Ok(Self {
            pairs: out,
            files: Vec::new(),
        })
    }

    /// Fields from `(name, value)` pairs, as a test or a view builds them.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            files: Vec::new(),
        }
    }

    /// The last value sent for `name` (Django's `QueryDict.get`).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value sent for `name`, in order (Django's `getlist`).
    #[must_use]
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `name` was sent at all (with any value, empty included).
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// Adds a value for `name`.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((name.into(), value.into()));
    }

    /// Replaces every value of `name` with `values`.
    pub fn set(&mut self, name: &str, values: impl IntoIterator<Item = String>) {
        self.pairs.retain(|(k, _)| k != name);
        self.pairs
            .extend(values.into_iter().map(|v| (name.to_owned(), v)));
    }

    /// Every `(name, value)` pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The last file sent as `name` (Django's `request.FILES.get`).
    #[must_use]
    pub fn file(&self, name: &str) -> Option<&UploadedFile> {
        self.files
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, f)| f)
    }

    /// Every file sent as `name`, in order (Django's
    /// `request.FILES.getlist`).
    #[must_use]
    pub fn files(&self, name: &str) -> Vec<&UploadedFile> {
        self.files
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, f)| f)
            .collect()
    }

    /// Adds a file sent as `name`, as a test builds a submission.
    pub fn append_file(&mut self, name: impl Into<String>, file: UploadedFile) {
        self.files.push((name.into(), file));
    }

    /// Every `(name, file)`, in order.
    pub fn iter_files(&self) -> impl Iterator<Item = (&str, &UploadedFile)> {
        self.files.iter().map(|(k, f)| (k.as_str(), f))
    }

    /// Whether nothing was sent: no field and no file.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.files.is_empty()
    }

    /// How many pairs were sent (files not counted).
    #[must_use]
    pub fn len(&self) -> usize {
        self.pairs.len()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for FormData {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_pairs(iter)
    }
}

/// A request body already parsed as a form (by the CSRF check): the
/// [`FormData`] extractor takes it instead of the body, which is empty.
#[derive(Debug, Clone)]
pub(crate) struct ParsedForm(pub(crate) FormData);

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = crate::Error;

    async fn from_request(mut req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ParsedForm(data)) = req.extensions_mut().remove::<ParsedForm>() {
            return Ok(data);
        }
        if matches!(*req.method(), Method::GET | Method::HEAD) {
            let query = req.uri().query().unwrap_or_default();
            return Ok(Self::from_urlencoded(query.as_bytes())?);
        }
        let kind = FormKind::of(req.headers()).ok_or_else(|| {
            let got = req
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "no Content-Type".to_owned(), ToOwned::to_owned);
            FormDataError::NotAForm(got)
        })?;
        if let FormKind::Multipart { boundary } = kind {
            return Self::read_multipart(req.into_body(), &boundary).await;
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| crate::Error::new(rejection.status(), rejection.body_text()))?;
        Ok(Self::from_urlencoded(&body)?)
    }
}

impl FormData {
    /// Reads a `multipart/form-data` body with `boundary` as it streams in:
    /// fields whole, files chunk by chunk into [`FileReceiver`]s, with the
    /// current project's `[media]` limits. On any error the files received
    /// so far are dropped, which removes their temporary files.
    pub(crate) async fn read_multipart(body: Body, boundary: &str) -> Result<Self, crate::Error> {
        let limits = crate::request::current_service::<MediaSettings>().map_or_else(
            || UploadLimits::of(&MediaSettings::default()),
            |m| UploadLimits::of(&m),
        );
        let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
        let mut data = Self::new();
        while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
            let Some(name) = field.name().map(str::to_owned) else {
                continue;
            };
            let Some(file_name) = field.file_name().map(str::to_owned) else {
                if data.pairs.len() == MAX_FIELDS {
                    return Err(FormDataError::TooManyFields.into());
                }
                let value = field.bytes().await.map_err(multipart_error)?;
                data.pairs
                    .push((name, String::from_utf8_lossy(&value).into_owned()));
                continue;
            };
            // An empty file input: the browser sends the part, with no
            // name and no content.
            if file_name.is_empty() {
                continue;
            }
            if data.files.len() == MAX_FILES {
                return Err(FormDataError::TooManyFiles.into());
            }
            let content_type = field.content_type().map(ToString::to_string);
            let mut receiver = FileReceiver::new(&limits);
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                receiver
                    .push(&chunk)
                    .await
                    .map_err(|e| receive_error(e, &file_name, &limits))?;
            }
            let file = receiver
                .finish(&file_name, content_type.as_deref())
                .await
                .map_err(|e| receive_error(e, &file_name, &limits))?;
            data.files.push((name, file));
        }
        Ok(data)
    }
}

/// The parser's error as a status: 413 for the body limit, 400 for
/// anything else the client did (a malformed body, or one cut short by a
/// client that went away), never a 500.
fn multipart_error(error: multer::Error) -> crate::Error {
    if let multer::Error::StreamReadFailed(source) = &error {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
        while let Some(e) = cause {
            if e.is::<http_body_util::LengthLimitError>() {
                return crate::Error::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is larger than server.body_limit",
                );
            }
            cause = e.source();
        }
    }
    crate::Error::new(
        StatusCode::BAD_REQUEST,
        format!("the multipart/form-data body is malformed or ended early: {error}"),
    )
}

fn receive_error(error: ReceiveError, file_name: &str, limits: &UploadLimits) -> crate::Error {
    match error {
        ReceiveError::TooLarge => crate::Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the file {file_name:?} is larger than media.max_file_size ({} bytes)",
                limits.max_file_size
            ),
        ),
        ReceiveError::Io(e) => crate::Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "could not write an upload to a temporary file: {e} (check that media.temp_dir exists and is writable)"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_fields_are_refused() {
        let body = "a=1&".repeat(MAX_FIELDS);
        assert_eq!(
            FormData::from_urlencoded(body.as_bytes()).unwrap().len(),
            MAX_FIELDS
        );
        let body = "a=1&".repeat(MAX_FIELDS + 1);
        assert_eq!(
            FormData::from_urlencoded(body.as_bytes()),
            Err(FormDataError::TooManyFields)
        );
    }

    #[tokio::test]
    async fn multipart_fields_keep_their_order_and_files_stay_apart() {
        let body = "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
                    --B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\n\
                    Content-Type: text/plain\r\n\r\nfile\r\n\
                    --B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n2\r\n--B--\r\n";
        let data = FormData::read_multipart(Body::from(body), "B")
            .await
            .unwrap();
        assert_eq!(data.get_all("a"), ["1", "2"]);
        assert!(!data.contains("f"), "a file is not a field");
        assert!(data.file("f").is_some());
        let broken = FormData::read_multipart(Body::from("--B\r\nnope"), "B").await;
        assert_eq!(broken.unwrap_err().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn set_replaces_every_value() {
        let mut data = FormData::from_pairs([("a", "1"), ("b", "2"), ("a", "3")]);
        data.set("a", ["x".to_owned()]);
        assert_eq!(data.iter().collect::<Vec<_>>(), [("b", "2"), ("a", "x")]);
    }
}
