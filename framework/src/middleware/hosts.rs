//! The `ALLOWED_HOSTS` check: a request whose `Host` is not one of the
//! site's gets 400, so that forged hosts cannot poison caches or
//! password-reset links.

use http::Request;

/// One entry of `allowed_hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// `*`: any host.
    Any,
    /// `.example.com`: the domain and all its subdomains.
    Domain(String),
    /// `example.com`: exactly this host.
    Exact(String),
}

impl HostPattern {
    /// Parses an `allowed_hosts` entry; `None` when it is not a host name.
    pub(crate) fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim().to_ascii_lowercase();
        if entry == "*" {
            return Some(Self::Any);
        }
        let (domain, name) = match entry.strip_prefix('.') {
            Some(rest) => (true, rest.to_owned()),
            None => (false, entry),
        };
        let name = name.strip_suffix('.').map(str::to_owned).unwrap_or(name);
        if !is_host_name(&name) {
            return None;
        }
        Some(if domain {
            Self::Domain(name)
        } else {
            Self::Exact(name)
        })
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(name) => host.eq_ignore_ascii_case(name),
            Self::Domain(name) => {
                host.eq_ignore_ascii_case(name)
                    || (host.len() > name.len() + 1
                        && host.as_bytes()[host.len() - name.len() - 1] == b'.'
                        && host[host.len() - name.len()..].eq_ignore_ascii_case(name))
            }
        }
    }
}

/// Host names (`example.com`, `localhost`), IPv4 and bracketed IPv6.
fn is_host_name(name: &str) -> bool {
    if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The compiled `allowed_hosts` list.
#[derive(Debug, Clone)]
pub(crate) struct AllowedHosts {
    patterns: Vec<HostPattern>,
}

impl AllowedHosts {
    /// From the settings; with `debug` on and an empty list, the local
    /// names are allowed (as Django does).
    pub(crate) fn new(entries: &[String], debug: bool) -> Self {
        let mut patterns: Vec<HostPattern> = entries
            .iter()
            .filter_map(|e| HostPattern::parse(e))
            .collect();
        if patterns.is_empty() && debug {
            patterns = [".localhost", "127.0.0.1", "[::1]"]
                .iter()
                .filter_map(|e| HostPattern::parse(e))
                .collect();
        }
        Self { patterns }
    }

    /// Adds a host (the test client's `testserver`).
    pub(crate) fn allow(&mut self, host: &str) {
        if let Some(p) = HostPattern::parse(host) {
            self.patterns.push(p);
        }
    }

    /// Whether `raw` (`host` or `host:port`, as an `Origin` names it) is
    /// an allowed host.
    pub(crate) fn allows(&self, raw: &str) -> bool {
        split_host(raw).is_some_and(|host| self.patterns.iter().any(|p| p.matches(host)))
    }

    /// `Ok` when the request's host is allowed, else why not. Also refused
    /// (RFC 9112 and 9113): more than one `Host` header, an HTTP/2
    /// `:authority` that a `host` header contradicts, a request target in
    /// authority form (`GET example.com:80`) or with a scheme other than
    /// `http`/`https`, and a port outside 1–65535.
    pub(crate) fn check<B>(&self, req: &Request<B>) -> Result<(), String> {
        let raw = named_host(req.uri(), req.headers())?;
        let host =
            split_host(raw).ok_or_else(|| format!("invalid Host header {:?}", shorten(raw)))?;
        if self.patterns.iter().any(|p| p.matches(host)) {
            Ok(())
        } else {
            Err(format!(
                "invalid Host header {:?}: add {:?} to allowed_hosts (or MANOUCHE_ALLOWED_HOSTS)",
                shorten(raw),
                shorten(host)
            ))
        }
    }
}

/// The host a request names, as `host` or `host:port`: its target's
/// authority (absolute form, HTTP/2's `:authority`), which a `Host`
/// header must then repeat, or else its one `Host` header. `Err` says
/// why the request names no usable host (see [`AllowedHosts::check`]).
pub(crate) fn named_host<'r>(
    uri: &'r http::Uri,
    headers: &'r http::HeaderMap,
) -> Result<&'r str, String> {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let header = hosts.next();
    if hosts.next().is_some() {
        return Err("the request has more than one Host header".into());
    }
    match uri.authority() {
        Some(authority) => {
            match uri.scheme_str() {
                None => return Err("a request target in authority form is not served".into()),
                Some(scheme)
                    if !scheme.eq_ignore_ascii_case("http")
                        && !scheme.eq_ignore_ascii_case("https") =>
                {
                    return Err(format!(
                        "a request target with the scheme {:?} is not served",
                        shorten(scheme)
                    ));
                }
                Some(_) => {}
            }
            let authority = authority.as_str();
            if let Some(value) = header
                && !value.as_bytes().eq_ignore_ascii_case(authority.as_bytes())
            {
                return Err(format!(
                    "the Host header {:?} contradicts the request's authority {:?}",
                    shorten(&String::from_utf8_lossy(value.as_bytes())),
                    shorten(authority)
                ));
            }
            Ok(authority)
        }
        None => match header {
            Some(value) => value
                .to_str()
                .map_err(|_| "the Host header is not valid text".to_owned()),
            None => Err("the request has no Host header".into()),
        },
    }
}

/// At most 100 characters of a client's value, for messages and logs (a
/// hostile client must not fill the log).
pub(crate) fn shorten(value: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 100;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}… ({} bytes)", &value[..end], value.len()).into(),
        None => value.into(),
    }
}

/// `example.com:8000` → `example.com`; `[::1]:8000` → `[::1]`; `None` when
/// the value is not a host (with optional port).
fn split_host(raw: &str) -> Option<&str> {
    let (host, port) = if raw.starts_with('[') {
        let end = raw.find(']')?;
        let rest = &raw[end + 1..];
        let port = if rest.is_empty() {
            None
        } else {
            Some(rest.strip_prefix(':')?)
        };
        (&raw[..=end], port)
    } else {
        // A byte search: `rsplit_once(':')` goes through the generic
        // pattern searcher, three times the cost on every request.
        match raw.bytes().rposition(|b| b == b':') {
            Some(colon) => (&raw[..colon], Some(&raw[colon + 1..])),
            None => (raw, None),
        }
    };
    // A port is a number from 1 to 65535.
    if port.is_some_and(|p| {
        !p.bytes().all(|b| b.is_ascii_digit()) || !matches!(p.parse::<u16>(), Ok(1..))
    }) {
        return None;
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    is_host_name(host).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: &str) -> Request<()> {
        Request::builder()
            .uri("/")
            .header("host", host)
            .body(())
            .unwrap()
    }

    #[test]
    fn exact_domain_and_any() {
        let hosts = AllowedHosts::new(&["example.com".into(), ".example.org".into()], false);
        assert!(hosts.check(&req("example.com")).is_ok());
        assert!(hosts.check(&req("EXAMPLE.com:8000")).is_ok());
        assert!(hosts.check(&req("example.com.")).is_ok());
        assert!(hosts.check(&req("www.example.com")).is_err());
        assert!(hosts.check(&req("example.org")).is_ok());
        assert!(hosts.check(&req("a.b.example.org")).is_ok());
        assert!(hosts.check(&req("badexample.org")).is_err());
        assert!(hosts.check(&req("evil.com")).is_err());
        let any = AllowedHosts::new(&["*".into()], false);
        assert!(any.check(&req("whatever.test")).is_ok());
    }

    #[test]
    fn malformed_hosts_are_rejected() {
        let any = AllowedHosts::new(&["*".into()], false);
        for bad in [
            "",
            "exa mple.com",
            "example.com:80x",
            "example.com:",
            "a@b.com",
            "[::1",
            "x/y",
        ] {
            assert!(any.check(&req(bad)).is_err(), "{bad:?}");
        }
        let no_host = Request::builder().uri("/").body(()).unwrap();
        assert!(any.check(&no_host).is_err());
        for port in ["0", "65536", "99999", &"9".repeat(1000)] {
            let bad = format!("example.com:{port}");
            assert!(any.check(&req(&bad)).is_err(), "{bad:?}");
        }
        assert!(any.check(&req("example.com:65535")).is_ok());
    }

    #[test]
    fn a_second_host_and_odd_request_targets_are_refused() {
        let hosts = AllowedHosts::new(&["example.com".into()], false);
        let two = Request::builder()
            .uri("/")
            .header("host", "example.com")
            .header("host", "evil.example")
            .body(())
            .unwrap();
        let err = hosts.check(&two).unwrap_err();
        assert!(err.contains("more than one Host"), "{err}");
        // Absolute form: the authority is checked, and a host header must agree.
        let absolute = |uri: &str, host: Option<&str>| {
            let mut b = Request::builder().uri(uri);
            if let Some(h) = host {
                b = b.header("host", h);
            }
            hosts.check(&b.body(()).unwrap())
        };
        assert!(absolute("http://example.com/", None).is_ok());
        assert!(absolute("https://example.com/x", Some("EXAMPLE.com")).is_ok());
        assert!(
            absolute("http://example.com/", Some("evil.example"))
                .unwrap_err()
                .contains("contradicts")
        );
        assert!(
            absolute("ftp://example.com/", None)
                .unwrap_err()
                .contains("scheme")
        );
        // Authority form (CONNECT-style).
        assert!(
            absolute("example.com:443", Some("example.com"))
                .unwrap_err()
                .contains("authority form")
        );
    }

    #[test]
    fn a_huge_bad_host_makes_a_short_message() {
        let hosts = AllowedHosts::new(&["example.com".into()], false);
        let long = "a".repeat(300_000);
        let err = hosts.check(&req(&long)).unwrap_err();
        assert!(err.len() < 400, "{} bytes", err.len());
        assert!(err.contains("300000 bytes"), "{err}");
    }

    #[test]
    fn debug_allows_local_names_only_when_the_list_is_empty() {
        let hosts = AllowedHosts::new(&[], true);
        assert!(hosts.check(&req("localhost:8000")).is_ok());
        assert!(hosts.check(&req("127.0.0.1:8000")).is_ok());
        assert!(hosts.check(&req("[::1]:8000")).is_ok());
        assert!(hosts.check(&req("example.com")).is_err());
        let deploy = AllowedHosts::new(&[], false);
        assert!(deploy.check(&req("localhost")).is_err());
    }
}
