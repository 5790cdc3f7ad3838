//! Where an unsafe request comes from: its `Origin` against the site's own
//! origin and `csrf.trusted_origins`, and, over HTTPS without `Origin`, its
//! `Referer` (Django's `_origin_verified` and `_check_referer`).
//!
//! Header values are read as Latin-1, one character per byte, as Django
//! gets them from the server; comparisons are Django's, to the letter
//! (`Origin` must equal the site's origin exactly; a wildcard trusted
//! origin matches by suffix).

use std::borrow::Cow;

use crate::middleware::hosts::shorten;

/// `csrf.trusted_origins`, compiled.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedOrigins {
    /// Entries without `*`, compared whole with `Origin`.
    exact: Vec<String>,
    /// Wildcard entries: the scheme and the domain pattern
    /// (`https://*.example.com` → `("https", ".example.com")`).
    subdomains: Vec<(String, String)>,
    /// Every entry's host (and port), the `*` dropped: what a `Referer`'s
    /// host may be.
    referer_hosts: Vec<String>,
}

impl TrustedOrigins {
    /// Compiles the entries (already checked by the settings).
    pub(crate) fn new(entries: &[String]) -> Self {
        let mut trusted = Self::default();
        for entry in entries {
            let Ok(url) = split_url(entry) else { continue };
            let host = url.netloc.trim_start_matches('*').to_owned();
            if entry.contains('*') {
                trusted.subdomains.push((url.scheme.clone(), host.clone()));
            } else {
                trusted.exact.push(entry.clone());
            }
            trusted.referer_hosts.push(host);
        }
        trusted
    }

    /// Whether `entry` is a usable trusted origin: `scheme://host[:port]`,
    /// the host possibly starting with `*.`. The error completes a sentence
    /// that starts with the entry.
    pub(crate) fn check_entry(entry: &str) -> Result<(), &'static str> {
        // Django's check (4_0.E001) asks for a scheme; the rest would never
        // match an `Origin` and is refused here rather than ignored.
        if !entry.contains("://") {
            return Err(
                "has no scheme: write the origin as the browser sends it, e.g. \"https://example.com\" or \"https://*.example.com\"",
            );
        }
        let url = split_url(entry).map_err(|_| "is not a URL")?;
        if url.scheme.is_empty() || !entry.starts_with(&format!("{}://", url.scheme)) {
            return Err("must start with a lowercase scheme such as \"https://\"");
        }
        if url.netloc.is_empty() {
            return Err("has no host: write e.g. \"https://example.com\"");
        }
        if entry.len() != url.scheme.len() + 3 + url.netloc.len() {
            return Err(
                "has a path: an origin is only a scheme, a host and maybe a port (\"https://example.com:8443\")",
            );
        }
        if let Some(rest) = url.netloc.strip_prefix("*.") {
            if rest.is_empty() || rest.contains('*') {
                return Err("must have one '*', followed by a domain (\"https://*.example.com\")");
            }
        } else if url.netloc.contains('*') {
            return Err("can only use '*' as its first label (\"https://*.example.com\")");
        }
        Ok(())
    }
}

/// What the check needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'a> {
    /// The host as the request gave it (with its port, if any), which has
    /// passed the host check.
    pub(crate) host: Option<&'a str>,
    /// Whether the request came over TLS.
    pub(crate) secure: bool,
    /// `csrf.cookie_domain`.
    pub(crate) cookie_domain: Option<&'a str>,
}

/// Django's `_origin_verified`: `origin` is the site's own origin or a
/// trusted one.
pub(crate) fn origin_verified(origin: &str, site: Site<'_>, trusted: &TrustedOrigins) -> bool {
    let scheme = if site.secure { "https" } else { "http" };
    if let Some(host) = site.host
        && origin
            .strip_prefix(scheme)
            .and_then(|rest| rest.strip_prefix("://"))
            == Some(host)
    {
        return true;
    }
    if trusted.exact.iter().any(|e| e == origin) {
        return true;
    }
    let Ok(url) = split_url(origin) else {
        return false;
    };
    trusted
        .subdomains
        .iter()
        .any(|(s, pattern)| *s == url.scheme && is_same_domain(&url.netloc, pattern))
}

/// Django's `_check_referer`, for HTTPS requests without `Origin`: the
/// `Referer` must be an `https` URL of this host, of a trusted origin, or
/// of the cookie's domain. The error is Django's reason.
pub(crate) fn check_referer(
    referer: Option<&str>,
    site: Site<'_>,
    trusted: &TrustedOrigins,
) -> Result<(), String> {
    let Some(referer) = referer else {
        return Err("Referer checking failed - no Referer.".into());
    };
    let malformed = || "Referer checking failed - Referer is malformed.".to_owned();
    let url = split_url(referer).map_err(|()| malformed())?;
    if url.scheme.is_empty() || url.netloc.is_empty() {
        return Err(malformed());
    }
    if url.scheme != "https" {
        return Err("Referer checking failed - Referer is insecure while host is secure.".into());
    }
    if trusted
        .referer_hosts
        .iter()
        .any(|host| is_same_domain(&url.netloc, host))
    {
        return Ok(());
    }
    let good: Cow<'_, str> = match site.cookie_domain {
        Some(domain) => match site.host.and_then(port_of) {
            Some(port) if port != "443" && port != "80" => format!("{domain}:{port}").into(),
            _ => domain.into(),
        },
        None => match site.host {
            Some(host) => host.into(),
            None => "".into(),
        },
    };
    if is_same_domain(&url.netloc, &good) {
        Ok(())
    } else {
        Err(format!(
            "Referer checking failed - {} does not match any trusted origins.",
            shorten(&url.full)
        ))
    }
}

/// The port of a `host[:port]` value, if it names one.
fn port_of(host: &str) -> Option<&str> {
    let after_bracket = match host.rfind(']') {
        Some(end) => &host[end + 1..],
        None => host,
    };
    after_bracket
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|p| !p.is_empty())
}

/// Django's `is_same_domain`: `pattern` is `host` exactly, or starts with
/// `.` and `host` is that domain or under it. Only the pattern is
/// lowercased, as in Django.
pub(crate) fn is_same_domain(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix('.') {
        Some(domain) => host.ends_with(&pattern) || host == domain,
        None => host == pattern,
    }
}

/// The parts of a URL the checks use, split as Python's `urlsplit` does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SplitUrl {
    /// Lowercased; empty when there is none.
    pub(crate) scheme: String,
    /// The authority (`user@host:port`) as written; empty when none.
    pub(crate) netloc: String,
    /// The URL as Python's `geturl` rebuilds it (scheme lowercased, tabs
    /// and line breaks dropped), for messages.
    pub(crate) full: String,
}

/// Python's `urllib.parse.urlsplit`, for the scheme and the authority:
/// `Err` where Python raises `ValueError` (unbalanced or invalid brackets).
pub(crate) fn split_url(url: &str) -> Result<SplitUrl, ()> {
    // What urlsplit removes first: tabs and line breaks anywhere, then
    // leading controls and spaces.
    let cleaned: Cow<'_, str> = if url.contains(['\t', '\r', '\n']) {
        url.chars()
            .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
            .collect::<String>()
            .into()
    } else {
        url.into()
    };
    let url = cleaned.trim_start_matches(|c: char| c <= ' ');
    let mut scheme = String::new();
    let mut rest = url;
    if let Some(colon) = url.find(':')
        && colon > 0
        && url.as_bytes()[0].is_ascii_alphabetic()
        && url[..colon]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        scheme = url[..colon].to_ascii_lowercase();
        rest = &url[colon + 1..];
    }
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        let (open, close) = (netloc.contains('['), netloc.contains(']'));
        if open != close {
            return Err(());
        }
        if open {
            check_bracketed(netloc)?;
        }
    }
    let full = if scheme.is_empty() {
        url.to_owned()
    } else {
        format!("{scheme}:{rest}")
    };
    Ok(SplitUrl {
        scheme,
        netloc: netloc.to_owned(),
        full,
    })
}

/// Python's `_check_bracketed_netloc`: `[...]` holds an IPv6 address (or
/// an `IPvFuture`), nothing stands before it, and only a port after it.
fn check_bracketed(netloc: &str) -> Result<(), ()> {
    let host_port = netloc.rsplit_once('@').map_or(netloc, |(_, hp)| hp);
    let Some((before, bracketed)) = host_port.split_once('[') else {
        return Ok(());
    };
    if !before.is_empty() {
        return Err(());
    }
    let (host, port) = bracketed.split_once(']').unwrap_or((bracketed, ""));
    if !port.is_empty() && !port.starts_with(':') {
        return Err(());
    }
    if let Some(future) = host.strip_prefix('v') {
        // IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        return match future.split_once('.') {
            Some((version, tail))
                if !version.is_empty()
                    && version.bytes().all(|b| b.is_ascii_hexdigit())
                    && !tail.is_empty() =>
            {
                Ok(())
            }
            _ => Err(()),
        };
    }
    let address = host
        .split_once('%')
        .map_or(host, |(address, _zone)| address);
    address
        .parse::<std::net::Ipv6Addr>()
        .map(|_| ())
        .map_err(|_| ())
}

/// A header value as Django sees it: Latin-1, one character per byte.
pub(crate) fn latin1(bytes: &[u8]) -> Cow<'_, str> {
    if bytes.is_ascii() {
        // ASCII is valid UTF-8.
        Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default())
    } else {
        Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(entries: &[&str]) -> TrustedOrigins {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
        for e in &entries {
            TrustedOrigins::check_entry(e).unwrap();
        }
        TrustedOrigins::new(&entries)
    }

    fn site(host: &str, secure: bool) -> Site<'_> {
        Site {
            host: Some(host),
            secure,
            cookie_domain: None,
        }
    }

    #[test]
    fn urls_split_as_python_does() {
        // Scheme and authority as Python 3's urllib.parse.urlsplit gives
        // them (the venv's), and ValueError as Err.
        let split = |u: &str| split_url(u).map(|s| (s.scheme, s.netloc));
        let ok = |scheme: &str, netloc: &str| Ok((scheme.to_owned(), netloc.to_owned()));
        assert_eq!(split("https://["), Err(()));
        assert_eq!(split("https://[zz]/"), Err(()));
        assert_eq!(split("https://x[::1]/"), Err(()));
        assert_eq!(split("https://::1]/"), Err(()));
        assert_eq!(split("ØBöIß"), ok("", ""));
        assert_eq!(split("//example.com/"), ok("", "example.com"));
        assert_eq!(split("https://"), ok("https", ""));
        assert_eq!(split("http://http://www.example.com/"), ok("http", "http:"));
        assert_eq!(
            split("HTTPS://Foo.Example.com:443/x?y#z"),
            ok("https", "Foo.Example.com:443")
        );
        assert_eq!(split("https://a.com?x"), ok("https", "a.com"));
        assert_eq!(split("https:/a.com"), ok("https", ""));
        assert_eq!(split("https:a.com"), ok("https", ""));
        assert_eq!(split(" https://a.com"), ok("https", "a.com"));
        assert_eq!(split("https://a.com\t/"), ok("https", "a.com"));
        assert_eq!(split("https://[::1]:8000/"), ok("https", "[::1]:8000"));
        assert_eq!(split("https://[v1.x]/"), ok("https", "[v1.x]"));
        assert_eq!(split("null"), ok("", ""));
        assert_eq!(split("1https://a.com"), ok("", ""));
        // geturl(), for messages.
        let full = |u: &str| split_url(u).unwrap().full;
        assert_eq!(
            full("HTTPS://Foo.Example.com:443/x?y#z"),
            "https://Foo.Example.com:443/x?y#z"
        );
        assert_eq!(full(" https://a.com\t/"), "https://a.com/");
        assert_eq!(full("null"), "null");
    }

    #[test]
    fn same_domain_is_djangos() {
        assert!(is_same_domain("example.com", "example.com"));
        assert!(is_same_domain("example.com", ".example.com"));
        assert!(is_same_domain("foo.example.com", ".example.com"));
        assert!(is_same_domain("foo.example.com", ".EXAMPLE.com"));
        assert!(is_same_domain("FOO.example.com", ".example.com"));
        assert!(!is_same_domain("example.com", "Example.com.evil"));
        assert!(!is_same_domain("badexample.com", ".example.com"));
        assert!(!is_same_domain("example.com:8000", ".example.com"));
        assert!(!is_same_domain("example.com", ""));
    }

    #[test]
    fn the_sites_own_origin_passes_with_its_scheme_and_port() {
        let none = TrustedOrigins::default();
        assert!(origin_verified(
            "http://www.example.com",
            site("www.example.com", false),
            &none
        ));
        assert!(origin_verified(
            "https://www.example.com",
            site("www.example.com", true),
            &none
        ));
        assert!(origin_verified(
            "http://localhost:8000",
            site("localhost:8000", false),
            &none
        ));
        // Django's test_bad_origin_*: another host, the other scheme, a
        // missing port, null, an unparsable value.
        for (origin, host, secure) in [
            ("https://www.evil.org", "www.example.com", false),
            ("http://www.example.com", "www.example.com", true),
            ("https://www.example.com", "www.example.com", false),
            ("http://localhost", "localhost:8000", false),
            ("null", "www.example.com", false),
            ("https://[", "www.example.com", false),
        ] {
            assert!(
                !origin_verified(origin, site(host, secure), &none),
                "{origin} from {host}"
            );
        }
        // A host the request did not give cannot match.
        let unknown = Site {
            host: None,
            secure: false,
            cookie_domain: None,
        };
        assert!(!origin_verified("http://", unknown, &none));
    }

    #[test]
    fn trusted_origins_exact_and_wildcard() {
        let t = trusted(&[
            "http://no-match.com",
            "https://*.example.com",
            "http://*.no-match.com",
            "https://dashboard.example.org",
            "https://api.example.net:8443",
        ]);
        assert_eq!(
            t.exact,
            [
                "http://no-match.com",
                "https://dashboard.example.org",
                "https://api.example.net:8443"
            ]
        );
        assert_eq!(
            t.subdomains,
            [
                ("https".to_owned(), ".example.com".to_owned()),
                ("http".to_owned(), ".no-match.com".to_owned())
            ]
        );
        let here = site("www.example.com", true);
        for good in [
            "https://dashboard.example.org",
            "https://foo.example.com",
            "https://a.b.example.com",
            "https://example.com",
            "http://x.no-match.com",
            "https://api.example.net:8443",
        ] {
            assert!(origin_verified(good, here, &t), "{good}");
        }
        for bad in [
            // Django's test_bad_origin_csrf_trusted_origin_bad_protocol.
            "http://foo.example.com",
            "https://dashboard.example.org:444",
            "https://api.example.net",
            "https://evilexample.com",
            "https://foo.example.com.evil",
            "http://dashboard.example.org",
        ] {
            assert!(!origin_verified(bad, here, &t), "{bad}");
        }
    }

    #[test]
    fn trusted_origin_entries_are_checked() {
        for good in [
            "https://example.com",
            "http://localhost:8000",
            "https://*.example.com",
            "https://[::1]:8443",
        ] {
            assert_eq!(TrustedOrigins::check_entry(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("example.com", "no scheme"),
            ("*.example.com", "no scheme"),
            ("https://", "no host"),
            ("https://example.com/", "has a path"),
            ("https://example.com/app", "has a path"),
            ("https://ex*ample.com", "first label"),
            ("https://*.", "followed by a domain"),
            ("https://*.*.example.com", "one '*'"),
            ("HTTPS://example.com", "lowercase scheme"),
            ("https://[", "not a URL"),
        ] {
            let err = TrustedOrigins::check_entry(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn referer_rules_are_djangos() {
        let none = TrustedOrigins::default();
        let here = site("www.example.com", true);
        let check = |referer: Option<&str>, site: Site<'_>, t: &TrustedOrigins| {
            check_referer(referer, site, t)
        };
        assert_eq!(
            check(None, here, &none).unwrap_err(),
            "Referer checking failed - no Referer."
        );
        for malformed in ["", "ØBöIß", "//example.com/", "https://", "https://["] {
            assert_eq!(
                check(Some(malformed), here, &none).unwrap_err(),
                "Referer checking failed - Referer is malformed.",
                "{malformed:?}"
            );
        }
        for insecure in ["http://http://www.example.com/", "http://www.example.com/"] {
            assert_eq!(
                check(Some(insecure), here, &none).unwrap_err(),
                "Referer checking failed - Referer is insecure while host is secure."
            );
        }
        assert_eq!(
            check(Some("https://www.evil.org/somepage"), here, &none).unwrap_err(),
            "Referer checking failed - https://www.evil.org/somepage does not match any trusted origins."
        );
        assert!(check(Some("https://www.example.com/somepage"), here, &none).is_ok());
        assert!(check(Some("https://www.example.com"), here, &none).is_ok());
        // The port is part of the host.
        assert!(
            check(
                Some("https://www.example.com:8443/"),
                site("www.example.com:8443", true),
                &none
            )
            .is_ok()
        );
        assert!(
            check(
                Some("https://www.example.com/"),
                site("www.example.com:8443", true),
                &none
            )
            .is_err()
        );
        // Trusted origins, exact and wildcard.
        let t = trusted(&["https://dashboard.example.com"]);
        assert!(check(Some("https://dashboard.example.com"), here, &t).is_ok());
        let t = trusted(&["https://*.example.com"]);
        assert!(check(Some("https://dashboard.example.com/x"), here, &t).is_ok());
        // A host that did not pass is no good referer (Django's
        // test_https_malformed_host), but a trusted origin still is.
        let no_host = Site {
            host: None,
            secure: true,
            cookie_domain: None,
        };
        assert!(check(Some("https://www.evil.org/somepage"), no_host, &none).is_err());
        let t = trusted(&["https://dashboard.example.com"]);
        assert!(check(Some("https://dashboard.example.com/somepage"), no_host, &t).is_ok());
    }

    #[test]
    fn referers_under_the_cookie_domain_pass() {
        let none = TrustedOrigins::default();
        let with_domain = |host| Site {
            host: Some(host),
            secure: true,
            cookie_domain: Some(".example.com"),
        };
        assert!(
            check_referer(
                Some("https://foo.example.com/"),
                with_domain("www.example.com"),
                &none
            )
            .is_ok()
        );
        assert!(
            check_referer(
                Some("https://foo.example.com:4443/"),
                with_domain("www.example.com:4443"),
                &none
            )
            .is_ok()
        );
        assert!(
            check_referer(
                Some("https://foo.example.com/"),
                with_domain("www.example.com:4443"),
                &none
            )
            .is_err()
        );
        assert!(
            check_referer(
                Some("https://foo.example.org/"),
                with_domain("www.example.com"),
                &none
            )
            .is_err()
        );
        assert!(
            check_referer(
                Some("http://foo.example.com/"),
                with_domain("www.example.com"),
                &none
            )
            .is_err()
        );
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = format!("https://evil.example/{}", "a".repeat(5000));
        let err = check_referer(
            Some(&long),
            site("www.example.com", true),
            &TrustedOrigins::default(),
        )
        .unwrap_err();
        assert!(err.len() < 300, "{err}");
    }

    #[test]
    fn headers_read_as_latin1() {
        assert_eq!(latin1(b"https://a.com"), "https://a.com");
        assert_eq!(latin1(b"https://\xe9.com"), "https://é.com");
    }
}
