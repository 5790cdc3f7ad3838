//! Whether a redirect target a client supplied (`?next=`) stays on the
//! site: Django's `url_has_allowed_host_and_scheme`, so that a login link
//! cannot be turned into an open redirect to another site.

/// Whether `url` is safe to redirect to: a relative URL, or an absolute
/// one whose host is one of `allowed_hosts` (`host` or `host:port`, as the
/// request's `Host`), with an `http`/`https` scheme (only `https` when
/// `require_https`).
///
/// Refused as Django refuses them: empty, `///x`, `//evil.example`,
/// `https://evil.example`, `http:///evil.example`, `\\evil.example` and
/// `/\evil.example` (browsers read `\` as `/`), a leading control
/// character, `javascript:` and other schemes.
#[must_use]
pub fn url_has_allowed_host_and_scheme(
    url: &str,
    allowed_hosts: &[&str],
    require_https: bool,
) -> bool {
    let url = url.trim();
    if url.is_empty() {
        return false;
    }
    allowed(url, allowed_hosts, require_https)
        && allowed(&url.replace('\\', "/"), allowed_hosts, require_https)
}

fn allowed(url: &str, allowed_hosts: &[&str], require_https: bool) -> bool {
    if url.starts_with("///") {
        return false;
    }
    if url.chars().next().is_some_and(char::is_control) {
        return false;
    }
    let Some((scheme, netloc)) = split(url) else {
        return false;
    };
    if netloc.is_empty() && !scheme.is_empty() {
        return false;
    }
    let scheme = if scheme.is_empty() && !netloc.is_empty() {
        "http".to_owned()
    } else {
        scheme
    };
    let scheme_ok = scheme.is_empty() || scheme == "https" || (!require_https && scheme == "http");
    (netloc.is_empty() || allowed_hosts.contains(&netloc.as_str())) && scheme_ok
}

/// The scheme (lowercased) and network location of `url`, as Python's
/// `urlsplit` finds them (tabs and newlines removed first, as browsers do).
fn split(url: &str) -> Option<(String, String)> {
    let cleaned: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let url = cleaned.trim_start_matches(|c: char| c <= ' ');
    let (scheme, rest) = match url.find(':') {
        Some(i)
            if i > 0
                && url[..i].starts_with(|c: char| c.is_ascii_alphabetic())
                && url[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (url[..i].to_ascii_lowercase(), &url[i + 1..])
        }
        _ => (String::new(), url),
    };
    let netloc = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            let netloc = &after[..end];
            // Python refuses an unbalanced IPv6 bracket.
            if netloc.contains('[') != netloc.contains(']') {
                return None;
            }
            netloc.to_owned()
        }
        None => String::new(),
    };
    Some((scheme, netloc))
}

#[cfg(test)]
mod tests {
    use super::url_has_allowed_host_and_scheme as ok;

    const HOST: &[&str] = &["testserver"];

    // Django's tests/utils_tests/test_http.py, URLHasAllowedHostAndSchemeTests.
    #[test]
    fn bad_urls_are_refused() {
        for url in [
            "http://example.com",
            "http:///example.com",
            "https://example.com",
            "ftp://example.com",
            r"\\example.com",
            r"\\\example.com",
            r"/\\/example.com",
            r"\\\example.com",
            r"\\example.com",
            r"\\//example.com",
            r"/\/example.com",
            r"\/example.com",
            r"/\example.com",
            "http:///example.com",
            r"http:/\//example.com",
            r"http:\/example.com",
            r"http:/\example.com",
            "javascript:alert(\"XSS\")",
            "\njavascript:alert(x)",
            "java\nscript:alert(x)",
            "\x08//example.com",
            r"http://otherserver\@example.com",
            r"http:\\testserver\@example.com",
            r"http://testserver\me:pass@example.com",
            r"http://testserver\@example.com",
            r"http:\\testserver\confirm\me@example.com",
            "http:999999999",
            "ftp:9999999999",
            "\n",
            "http://[2001:cdba:0000:0000:0000:0000:3257:9652/",
            "http://2001:cdba:0000:0000:0000:0000:3257:9652]/",
            "//evil.example",
            "https://evil.example",
            "",
            "   ",
        ] {
            assert!(!ok(url, HOST, false), "{url:?} must be refused");
        }
    }

    #[test]
    fn good_urls_are_accepted() {
        for url in [
            "/view/?param=http://example.com",
            "/view/?param=https://example.com",
            "/view?param=ftp://example.com",
            "view/?param=//example.com",
            "https://testserver/",
            "HTTPS://testserver/",
            "//testserver/",
            "http://testserver/confirm?email=me@example.com",
            "/url%20with%20spaces/",
            "path/http:2222222222",
            "/accounts/profile/",
        ] {
            assert!(ok(url, HOST, false), "{url:?} must be accepted");
        }
    }

    #[test]
    fn https_can_be_required() {
        assert!(!ok("http://testserver/", HOST, true));
        assert!(ok("https://testserver/", HOST, true));
        assert!(ok("/relative/", HOST, true));
        assert!(!ok("//testserver/", HOST, true));
    }

    #[test]
    fn ports_are_part_of_the_host() {
        assert!(ok("http://testserver:8000/", &["testserver:8000"], false));
        assert!(!ok("http://testserver:8001/", &["testserver:8000"], false));
    }
}
