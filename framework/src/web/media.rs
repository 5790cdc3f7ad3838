//! Uploaded files served under `media.url` while `debug` is on (Django's
//! `static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)` in a
//! development URLconf).
//!
//! Only in debug, and only `GET`/`HEAD`: in production a web server or a
//! CDN serves `media.root`, since the files come from users and deserve
//! their own origin and caching rules. Names go through
//! [`FileSystemStorage::path`], so no request reaches outside the root; a
//! missing file is the site's 404.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};

use crate::storage::FileSystemStorage;

/// What the layer needs: the storage and its URL prefix (a path).
#[derive(Debug, Clone)]
pub(crate) struct MediaServing {
    pub(crate) storage: FileSystemStorage,
    pub(crate) prefix: String,
}

/// Serves `prefix/name` from the storage, or passes the request on.
pub(crate) async fn serve(
    axum::extract::State(media): axum::extract::State<MediaServing>,
    request: Request,
    next: Next,
) -> Response {
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    let Some(raw) = request
        .uri()
        .path()
        .strip_prefix(media.prefix.as_str())
        .filter(|_| is_read)
    else {
        return next.run(request).await;
    };
    let not_found = || {
        crate::Error::new(
            StatusCode::NOT_FOUND,
            format!("no file {raw:?} in media.root"),
        )
        .into_response()
    };
    let Ok(name) = percent_encoding::percent_decode_str(raw).decode_utf8() else {
        return not_found();
    };
    let Ok(path) = media.storage.path(&name) else {
        return not_found();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let content_type = mime_guess::from_path(&path)
                .first_or_octet_stream()
                .to_string();
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    // The type comes from the name a user chose: never let
                    // a browser guess another.
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
                ],
                bytes,
            )
                .into_response()
        }
        Err(_) => not_found(),
    }
}
