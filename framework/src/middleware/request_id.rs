//! Request ids: one per request, in the `X-Request-Id` response header, the
//! access log and error pages, so that a user's report can be matched to a
//! log line.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;

/// The id of the current request; an extractor-friendly request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(String::from("-"))))
    }
}

/// Hands out ids: a random per-process prefix and a counter, which is unique,
/// sortable within a process and costs no system call.
#[derive(Debug)]
pub(crate) struct RequestIds {
    prefix: u32,
    next: AtomicU64,
}

impl RequestIds {
    pub(crate) fn new() -> Self {
        // `RandomState` is seeded from the OS; its hash of the pid is as
        // random as we need for a prefix.
        let prefix = RandomState::new().hash_one(std::process::id()) as u32;
        Self {
            prefix,
            next: AtomicU64::new(1),
        }
    }

    /// The incoming `X-Request-Id` when a proxy set a sane one, else a new id.
    pub(crate) fn assign(&self, headers: &HeaderMap) -> String {
        if let Some(incoming) = headers.get("x-request-id").and_then(|v| v.to_str().ok())
            && is_sane(incoming)
        {
            return incoming.to_owned();
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}{:08x}", self.prefix, n)
    }
}

fn is_sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'+' | b'/' | b'=')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_and_incoming_sane_ones_kept() {
        let ids = RequestIds::new();
        let empty = HeaderMap::new();
        let (a, b) = (ids.assign(&empty), ids.assign(&empty));
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", "lb-1234".parse().unwrap());
        assert_eq!(ids.assign(&headers), "lb-1234");
        headers.insert("x-request-id", "<script>".parse().unwrap());
        assert_ne!(ids.assign(&headers), "<script>");
    }
}
