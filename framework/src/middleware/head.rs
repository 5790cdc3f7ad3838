//! Checks on the request head that the HTTP parser lets through: the sizes
//! of the request line and the header lines (nginx's
//! `large_client_header_buffers`), and the transfer coding.
//!
//! The parser itself stops a head bigger than `max_request_line +
//! max_header_size` while it arrives (the server sets hyper's read buffer
//! to that size); what fits in the buffer is measured here, line by line,
//! so that each limit gets its own status: 414 for the request line, 431
//! for a header line or all of them.

use http::{HeaderMap, Request, StatusCode, Version, header};

use crate::settings::ServerSettings;

/// The limits, from `settings.server`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadLimits {
    request_line: usize,
    header_line: usize,
    headers: usize,
}

/// Why a head is refused: the status and a message for the log and the
/// error page (no client value in it).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) detail: String,
    /// The request's framing cannot be trusted: the connection must not
    /// carry another request.
    pub(crate) close: bool,
    /// What its warning is counted as by the log's rate limit.
    pub(crate) kind: &'static str,
}

impl HeadLimits {
    pub(crate) fn new(settings: &ServerSettings) -> Self {
        Self {
            request_line: settings.max_request_line,
            header_line: settings.max_header_line,
            headers: settings.max_header_size,
        }
    }

    /// The size hyper's HTTP/1 read buffer may reach while a head arrives.
    pub(crate) fn read_buffer(settings: &ServerSettings) -> usize {
        // hyper refuses a buffer under 8 KiB.
        (settings.max_request_line + settings.max_header_size).max(8192)
    }

    /// `Ok` when the head is within the limits and its body framing is one
    /// the server reads.
    pub(crate) fn check<B>(&self, req: &Request<B>) -> Result<(), Refused> {
        let line = request_line_len(req);
        if line > self.request_line {
            return Err(Refused {
                status: StatusCode::URI_TOO_LONG,
                detail: format!(
                    "the request line has {line} bytes; server.max_request_line allows {}",
                    self.request_line
                ),
                close: false,
                kind: "head",
            });
        }
        if self.check_headers(req.headers())? {
            check_transfer_encoding(req.headers())?;
        }
        Ok(())
    }

    /// Measures the header lines; `Ok(true)` when one is
    /// `Transfer-Encoding` (found on the way rather than by a lookup on
    /// every request).
    fn check_headers(&self, headers: &HeaderMap) -> Result<bool, Refused> {
        let mut total = 0;
        let mut transfer_encoding = false;
        for (name, value) in headers {
            transfer_encoding |= name == header::TRANSFER_ENCODING;
            // `name: value` and CRLF, as on the wire.
            let line = name.as_str().len() + 2 + value.len();
            if line > self.header_line {
                return Err(Refused {
                    status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    detail: format!(
                        "the header line {name} has {line} bytes; server.max_header_line allows {}",
                        self.header_line
                    ),
                    close: false,
                    kind: "head",
                });
            }
            total += line + 2;
        }
        if total > self.headers {
            return Err(Refused {
                status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                detail: format!(
                    "the headers have {total} bytes in all; server.max_header_size allows {}",
                    self.headers
                ),
                close: false,
                kind: "head",
            });
        }
        Ok(transfer_encoding)
    }
}

/// The request line's length as sent: `METHOD SP target SP HTTP/1.1`. Over
/// HTTP/2 the target is the `:path`.
fn request_line_len<B>(req: &Request<B>) -> usize {
    let uri = req.uri();
    let path = uri.path_and_query().map_or(1, |p| p.as_str().len());
    let target = match (req.version(), uri.scheme_str(), uri.authority()) {
        (Version::HTTP_2 | Version::HTTP_3, ..) => path,
        (_, Some(scheme), Some(authority)) => scheme.len() + 3 + authority.as_str().len() + path,
        (_, None, Some(authority)) => authority.as_str().len(),
        _ => path,
    };
    req.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len()
}

/// RFC 9112 §6.1: a server that does not understand a transfer coding
/// answers 501. The only coding read here is `chunked`, alone: a list such
/// as `identity, chunked` or `gzip, chunked` is refused rather than
/// guessed at (proxies that read it otherwise are how requests get
/// smuggled).
fn check_transfer_encoding(headers: &HeaderMap) -> Result<(), Refused> {
    let mut values = headers.get_all(header::TRANSFER_ENCODING).iter();
    let Some(first) = values.next() else {
        return Ok(());
    };
    let chunked = first
        .to_str()
        .is_ok_and(|v| v.trim_matches([' ', '\t']).eq_ignore_ascii_case("chunked"));
    if chunked && values.next().is_none() {
        return Ok(());
    }
    Err(Refused {
        status: StatusCode::NOT_IMPLEMENTED,
        detail: "the request's Transfer-Encoding is not `chunked` alone; no other transfer coding is read".into(),
        close: true,
        kind: "transfer_encoding",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HeadLimits {
        HeadLimits::new(&ServerSettings::default())
    }

    fn get(uri: &str) -> http::request::Builder {
        Request::builder().uri(uri)
    }

    #[test]
    fn a_long_request_line_gets_414() {
        let ok = get(&format!("/{}", "a".repeat(8000))).body(()).unwrap();
        assert!(limits().check(&ok).is_ok());
        let long = get(&format!("/?q={}", "a".repeat(8200))).body(()).unwrap();
        let err = limits().check(&long).unwrap_err();
        assert_eq!(err.status, StatusCode::URI_TOO_LONG);
        assert!(err.detail.contains("server.max_request_line"), "{err:?}");
        let method = http::Method::from_bytes("M".repeat(9000).as_bytes()).unwrap();
        let long = get("/").method(method).body(()).unwrap();
        assert_eq!(
            limits().check(&long).unwrap_err().status,
            StatusCode::URI_TOO_LONG
        );
    }

    #[test]
    fn a_long_header_line_or_too_many_bytes_of_headers_get_431() {
        let ok = get("/").header("x-a", "a".repeat(8000)).body(()).unwrap();
        assert!(limits().check(&ok).is_ok());
        let long = get("/").header("x-a", "a".repeat(8200)).body(()).unwrap();
        let err = limits().check(&long).unwrap_err();
        assert_eq!(err.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert!(err.detail.contains("x-a"), "{err:?}");
        assert!(!err.detail.contains("aaaa"), "no client value: {err:?}");
        let mut many = get("/");
        for i in 0..5 {
            many = many.header(format!("x-{i}"), "b".repeat(7000));
        }
        let err = limits().check(&many.body(()).unwrap()).unwrap_err();
        assert_eq!(err.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert!(err.detail.contains("server.max_header_size"), "{err:?}");
    }

    #[test]
    fn only_chunked_alone_is_a_transfer_coding_read() {
        let te = |values: &[&str]| {
            let mut b = get("/").method("POST");
            for v in values {
                b = b.header("transfer-encoding", *v);
            }
            limits().check(&b.body(()).unwrap())
        };
        assert!(te(&[]).is_ok());
        assert!(te(&["chunked"]).is_ok());
        assert!(te(&["Chunked "]).is_ok());
        for bad in [
            &["identity, chunked"][..],
            &["gzip, chunked"],
            &["chunked, chunked"],
            &["chunked", "chunked"],
            &["identity"],
            &["xchunked"],
            &[""],
        ] {
            let err = te(bad).unwrap_err();
            assert_eq!(err.status, StatusCode::NOT_IMPLEMENTED, "{bad:?}");
            assert!(err.close, "{bad:?}");
        }
    }

    #[test]
    fn the_read_buffer_holds_the_request_line_and_the_headers() {
        let mut s = ServerSettings::default();
        assert_eq!(HeadLimits::read_buffer(&s), 40 * 1024);
        s.max_request_line = 256;
        s.max_header_size = 256;
        assert_eq!(HeadLimits::read_buffer(&s), 8192);
    }
}
