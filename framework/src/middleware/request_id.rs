//! Request ids: one per request, in the `X-Request-Id` response header, the
//! access log and error pages, so that a user's report can be matched to a
//! log line.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;

use crate::request::RequestId;

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
        // random as a prefix needs.
        let prefix = RandomState::new().hash_one(std::process::id()) as u32;
        Self {
            prefix,
            next: AtomicU64::new(1),
        }
    }

    /// The incoming `X-Request-Id` when a proxy set a sane one, else a new id.
    pub(crate) fn assign(&self, headers: &HeaderMap) -> RequestId {
        if let Some(incoming) = headers.get(&super::X_REQUEST_ID)
            && is_sane(incoming.as_bytes())
        {
            return RequestId::incoming(incoming.clone());
        }
        RequestId::generated(self.prefix, self.next.fetch_add(1, Ordering::Relaxed))
    }
}

fn is_sane(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id.iter().all(|b| {
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
        let (a, b) = (
            ids.assign(&empty).to_string(),
            ids.assign(&empty).to_string(),
        );
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", "lb-1234".parse().unwrap());
        assert_eq!(ids.assign(&headers).to_string(), "lb-1234");
        headers.insert("x-request-id", "<script>".parse().unwrap());
        assert_ne!(ids.assign(&headers).to_string(), "<script>");
    }
}
