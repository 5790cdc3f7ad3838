//! Serving static files: held in memory with their headers built at
//! startup, so that a request costs a map lookup and a few reference-count
//! increments (nginx's job, done in-process).

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};

use super::StaticError;
use super::collect::{Manifest, compress, compressible};
use super::finders::{Finder, safe_relative_path};

/// `Cache-Control` for content-hashed names: they never change.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// `Cache-Control` for plain names: they may change with the next deploy.
const SHORT: HeaderValue = HeaderValue::from_static("public, max-age=60");
/// `Cache-Control` in debug, where files are read fresh.
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

/// A response, or a future of one when the file must be read from disk.
pub(crate) enum StaticResponse {
    Ready(Response),
    Pending(Pin<Box<dyn Future<Output = Response> + Send>>),
}

/// Where the bytes of one representation are.
#[derive(Debug, Clone)]
enum Content {
    Memory(Bytes),
    Disk(PathBuf),
}

/// One representation (identity, gzip or brotli) with its 200 headers.
#[derive(Debug)]
struct Variant {
    content: Content,
    len: u64,
    etag: HeaderValue,
    headers: HeaderMap,
}

/// A file and its representations.
#[derive(Debug)]
struct Asset {
    identity: Variant,
    gzip: Option<Variant>,
    br: Option<Variant>,
    modified: Option<SystemTime>,
    /// Headers of a 304.
    not_modified: HeaderMap,
}

impl Asset {
    #[allow(clippy::too_many_arguments)]
    fn new(
        rel: &str,
        identity: (Content, u64),
        gzip: Option<(Content, u64)>,
        br: Option<(Content, u64)>,
        tag: &str,
        modified: Option<SystemTime>,
        cache_control: HeaderValue,
    ) -> Self {
        let content_type = mime_guess::from_path(rel)
            .first_raw()
            .unwrap_or("application/octet-stream");
        let content_type =
            if content_type.starts_with("text/") || content_type == "application/javascript" {
                format!("{content_type}; charset=utf-8")
            } else {
                content_type.to_owned()
            };
        let content_type = HeaderValue::try_from(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        let last_modified =
            modified.and_then(|m| HeaderValue::try_from(httpdate::fmt_http_date(m)).ok());
        let vary = (gzip.is_some() || br.is_some() || compressible(rel))
            .then_some(HeaderValue::from_static("accept-encoding"));
        let etag = |suffix: &str| {
            HeaderValue::try_from(format!("\"{tag}{suffix}\""))
                .expect("hex digits make a valid ETag")
        };
        let mut not_modified = HeaderMap::new();
        not_modified.insert(header::ETAG, etag(""));
        not_modified.insert(header::CACHE_CONTROL, cache_control.clone());
        if let Some(lm) = &last_modified {
            not_modified.insert(header::LAST_MODIFIED, lm.clone());
        }
        if let Some(v) = &vary {
            not_modified.insert(header::VARY, v.clone());
        }
        let variant = |(content, len): (Content, u64), encoding: Option<&'static str>| {
            let etag = etag(encoding.map_or("", |e| if e == "br" { "-br" } else { "-gz" }));
            let mut headers = HeaderMap::with_capacity(12);
            headers.insert(header::CONTENT_TYPE, content_type.clone());
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            headers.insert(header::ETAG, etag.clone());
            headers.insert(header::CACHE_CONTROL, cache_control.clone());
            headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let Some(lm) = &last_modified {
                headers.insert(header::LAST_MODIFIED, lm.clone());
            }
            if let Some(v) = &vary {
                headers.insert(header::VARY, v.clone());
            }
            if let Some(encoding) = encoding {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            Variant {
                content,
                len,
                etag,
                headers,
            }
        };
        Self {
            identity: variant(identity, None),
            gzip: gzip.map(|g| variant(g, Some("gzip"))),
            br: br.map(|b| variant(b, Some("br"))),
            modified,
            not_modified,
        }
    }

    /// Whether the client's cached copy is still good.
    fn is_fresh(&self, headers: &HeaderMap) -> bool {
        if let Some(tags) = headers.get(header::IF_NONE_MATCH) {
            let Ok(tags) = tags.to_str() else {
                return false;
            };
            return tags.split(',').map(str::trim).any(|tag| {
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                tag == "*"
                    || [Some(&self.identity), self.gzip.as_ref(), self.br.as_ref()]
                        .into_iter()
                        .flatten()
                        .any(|v| v.etag.as_bytes() == tag.as_bytes())
            });
        }
        if let (Some(since), Some(modified)) =
            (headers.get(header::IF_MODIFIED_SINCE), self.modified)
        {
            let since = since
                .to_str()
                .ok()
                .and_then(|s| httpdate::parse_http_date(s).ok());
            if let (Some(since), Ok(modified)) = (since, modified.duration_since(UNIX_EPOCH)) {
                let since = since
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                return modified.as_secs() <= since;
            }
        }
        false
    }

    /// The representation the client accepts best.
    fn negotiate(&self, headers: &HeaderMap) -> &Variant {
        let Some(accept) = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
        else {
            return &self.identity;
        };
        let accepts = |coding: &str| {
            accept.split(',').any(|item| {
                let mut parts = item.split(';');
                let name = parts.next().unwrap_or("").trim();
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                name.eq_ignore_ascii_case(coding) && q > 0.0
            })
        };
        if let Some(br) = &self.br
            && accepts("br")
        {
            return br;
        }
        if let Some(gzip) = &self.gzip
            && accepts("gzip")
        {
            return gzip;
        }
        &self.identity
    }
}

/// A single satisfiable byte range, or why not.
enum Range {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

fn parse_range(headers: &HeaderMap, len: u64, asset: &Asset) -> Range {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Range::Whole;
    };
    // If-Range: only honour the range for the representation the client has.
    if let Some(if_range) = headers.get(header::IF_RANGE)
        && if_range.as_bytes() != asset.identity.etag.as_bytes()
    {
        return Range::Whole;
    }
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Whole; // another unit: ignore, as the spec allows
    };
    if spec.contains(',') {
        return Range::Whole; // several ranges: the whole file is simpler and allowed
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Range::Unsatisfiable;
    };
    let (start, end) = (start.trim(), end.trim());
    let parsed = if start.is_empty() {
        // The last N bytes.
        match end.parse::<u64>() {
            Ok(0) | Err(_) => None,
            Ok(n) => Some((len.saturating_sub(n), len.saturating_sub(1))),
        }
    } else {
        match (start.parse::<u64>(), end) {
            (Ok(s), "") => Some((s, len.saturating_sub(1))),
            (Ok(s), e) => e
                .parse::<u64>()
                .ok()
                .filter(|e| *e >= s)
                .map(|e| (s, e.min(len.saturating_sub(1)))),
            _ => None,
        }
    };
    match parsed {
        Some((s, e)) if s < len && len > 0 => Range::Part(s, e),
        _ => Range::Unsatisfiable,
    }
}

/// How files are found.
#[derive(Debug)]
enum Source {
    /// Deploy: everything indexed at startup.
    Indexed(HashMap<String, Arc<Asset>>),
    /// Debug: read from the static folders on every request.
    Fresh(Finder),
}

/// The static files of a project, under one URL prefix.
#[derive(Debug)]
pub(crate) struct StaticStore {
    prefix: String,
    source: Source,
}

impl StaticStore {
    /// Indexes the collected root (or, when nothing was collected, the
    /// static folders) into memory.
    pub(crate) fn indexed(
        prefix: &str,
        root: &std::path::Path,
        manifest: Option<&Manifest>,
        finder: &Finder,
        max_memory: u64,
    ) -> Result<Self, StaticError> {
        let mut assets = HashMap::new();
        match manifest {
            Some(manifest) => {
                for (original, hashed) in &manifest.paths {
                    let path = root.join(hashed);
                    let asset = Arc::new(load(hashed, &path, max_memory, IMMUTABLE, true)?);
                    assets.insert(hashed.clone(), Arc::clone(&asset));
                    // The plain name serves the same bytes, with a short cache.
                    let plain = load(original, &root.join(original), max_memory, SHORT, true)?;
                    assets.insert(original.clone(), Arc::new(plain));
                }
            }
            None => {
                let files = finder.list().map_err(|source| StaticError::Io {
                    path: root.to_owned(),
                    source,
                })?;
                if !files.is_empty() {
                    tracing::warn!(
                        target: "manouche::static",
                        "no {}/staticfiles.json: serving {} file(s) from the static folders without hashed names; run `manage collectstatic` before deploying",
                        root.display(),
                        files.len()
                    );
                }
                for (rel, path) in files {
                    let asset = load(&rel, &path, max_memory, SHORT, false)?;
                    assets.insert(rel, Arc::new(asset));
                }
            }
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            source: Source::Indexed(assets),
        })
    }

    /// Serves straight from the static folders, re-reading each file.
    pub(crate) fn fresh(prefix: &str, finder: Finder) -> Self {
        Self {
            prefix: prefix.to_owned(),
            source: Source::Fresh(finder),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How many files are indexed.
    pub(crate) fn len(&self) -> usize {
        match &self.source {
            Source::Indexed(assets) => assets.len(),
            Source::Fresh(_) => 0,
        }
    }

    /// Answers a request whose path is `prefix` + `rest`.
    pub(crate) fn respond<B>(&self, req: &Request<B>, rest: &str) -> StaticResponse {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return StaticResponse::Ready(response);
        }
        let Some(rel) = safe_relative_path(rest) else {
            return StaticResponse::Ready(not_found());
        };
        match &self.source {
            Source::Indexed(assets) => match assets.get(&rel) {
                Some(asset) => answer(Arc::clone(asset), req.method(), req.headers()),
                None => StaticResponse::Ready(not_found()),
            },
            Source::Fresh(finder) => {
                let Some(path) = finder.find(&rel) else {
                    return StaticResponse::Ready(not_found());
                };
                let (method, headers) = (req.method().clone(), req.headers().clone());
                StaticResponse::Pending(Box::pin(async move {
                    let loaded = tokio::task::spawn_blocking(move || {
                        load(&rel, &path, u64::MAX, NO_CACHE, false)
                    })
                    .await;
                    match loaded {
                        Ok(Ok(asset)) => match answer(Arc::new(asset), &method, &headers) {
                            StaticResponse::Ready(response) => response,
                            StaticResponse::Pending(fut) => fut.await,
                        },
                        _ => not_found(),
                    }
                }))
            }
        }
    }
}

fn answer(asset: Arc<Asset>, method: &Method, headers: &HeaderMap) -> StaticResponse {
    if asset.is_fresh(headers) {
        let mut response = plain(StatusCode::NOT_MODIFIED);
        *response.headers_mut() = asset.not_modified.clone();
        return StaticResponse::Ready(response);
    }
    let head = *method == Method::HEAD;
    // Ranges are served from the identity representation.
    let range = if head {
        Range::Whole
    } else {
        parse_range(headers, asset.identity.len, &asset)
    };
    match range {
        Range::Unsatisfiable => {
            let mut response = plain(StatusCode::RANGE_NOT_SATISFIABLE);
            let value = format!("bytes */{}", asset.identity.len);
            if let Ok(value) = HeaderValue::try_from(value) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            StaticResponse::Ready(response)
        }
        Range::Part(start, end) => {
            let variant = &asset.identity;
            let mut headers = variant.headers.clone();
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
            if let Ok(value) = HeaderValue::try_from(format!("bytes {start}-{end}/{}", variant.len))
            {
                headers.insert(header::CONTENT_RANGE, value);
            }
            body_response(
                StatusCode::PARTIAL_CONTENT,
                headers,
                &variant.content,
                Some((start, end)),
            )
        }
        Range::Whole => {
            let variant = asset.negotiate(headers);
            let headers = variant.headers.clone();
            if head {
                let mut response = Response::new(Body::empty());
                *response.headers_mut() = headers;
                return StaticResponse::Ready(response);
            }
            body_response(StatusCode::OK, headers, &variant.content, None)
        }
    }
}

fn body_response(
    status: StatusCode,
    headers: HeaderMap,
    content: &Content,
    range: Option<(u64, u64)>,
) -> StaticResponse {
    match content {
        Content::Memory(bytes) => {
            let body = match range {
                Some((start, end)) => bytes.slice(start as usize..=end as usize),
                None => bytes.clone(),
            };
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            StaticResponse::Ready(response)
        }
        Content::Disk(path) => {
            let path = path.clone();
            StaticResponse::Pending(Box::pin(async move {
                use tokio::io::{AsyncReadExt, AsyncSeekExt};
                let file = match tokio::fs::File::open(&path).await {
                    Ok(file) => file,
                    Err(err) => {
                        tracing::error!(target: "manouche::static", "cannot open {}: {err}", path.display());
                        return not_found();
                    }
                };
                let body = match range {
                    Some((start, end)) => {
                        let mut file = file;
                        if file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
                            return not_found();
                        }
                        Body::from_stream(tokio_util::io::ReaderStream::new(
                            file.take(end - start + 1),
                        ))
                    }
                    None => Body::from_stream(tokio_util::io::ReaderStream::new(file)),
                };
                let mut response = Response::new(body);
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                response
            }))
        }
    }
}

fn plain(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

fn not_found() -> Response {
    axum::response::IntoResponse::into_response(crate::error_pages::ErrorReport::new(
        StatusCode::NOT_FOUND,
        "no such static file",
    ))
}

/// Reads one file (and its `.gz`/`.br` neighbours, or compresses it) into
/// an asset.
fn load(
    rel: &str,
    path: &std::path::Path,
    max_memory: u64,
    cache_control: HeaderValue,
    look_for_variants: bool,
) -> Result<Asset, StaticError> {
    let io = |source| StaticError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let modified = meta.modified().ok();
    let len = meta.len();
    if len > max_memory {
        // Streamed from disk; the tag comes from size and time.
        let stamp = modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let tag = format!("{len:x}-{stamp:x}");
        return Ok(Asset::new(
            rel,
            (Content::Disk(path.to_owned()), len),
            None,
            None,
            &tag,
            modified,
            cache_control,
        ));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let tag: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let read_variant = |ext: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{ext}"));
        std::fs::read(PathBuf::from(p)).ok()
    };
    let (mut gzip, mut br) = if look_for_variants {
        (read_variant("gz"), read_variant("br"))
    } else {
        (None, None)
    };
    if gzip.is_none()
        && br.is_none()
        && bytes.len() >= 256
        && compressible(rel)
        && cache_control != NO_CACHE
    {
        // Not made by collectstatic: make them now, quickly.
        (gzip, br) = compress(&bytes, 5);
    }
    let memory = |data: Vec<u8>| {
        let len = data.len() as u64;
        (Content::Memory(Bytes::from(data)), len)
    };
    Ok(Asset::new(
        rel,
        memory(bytes),
        gzip.map(memory),
        br.map(memory),
        &tag,
        modified,
        cache_control,
    ))
}
