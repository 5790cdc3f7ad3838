//! Cookies as the framework's own middleware read and write them (the
//! session and CSRF cookies): a request cookie found without parsing the
//! whole header into a jar, and `Set-Cookie` values in Django's form.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, header};

/// Whether `name` can be a cookie's name (an RFC 6265 token).
#[must_use]
pub fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their
    /// subrequests or form posts (the default).
    Lax,
    /// Never sent from other sites.
    Strict,
    /// Always sent (needs `Secure`).
    None,
}

impl SameSite {
    /// `"Lax"`, `"Strict"` or `"None"` (any case).
    ///
    /// # Errors
    /// What the value should be.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "lax" => Ok(Self::Lax),
            "strict" => Ok(Self::Strict),
            "none" => Ok(Self::None),
            _ => Err(format!(
                "{value:?} is not a SameSite value: use \"Lax\", \"Strict\" or \"None\""
            )),
        }
    }

    /// The attribute's value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
        }
    }
}

/// The value of the request cookie `name`; the last one when the client
/// sent several (as Django reads them). Surrounding double quotes are
/// removed.
#[must_use]
pub fn find<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    find_in(headers.get_all(header::COOKIE), name)
}

/// [`find`] over `Cookie` header values kept apart from their request
/// (HTTP/2 sends each cookie in its own field). A value that is not text
/// elsewhere in a header does not hide the cookie asked for.
#[must_use]
pub fn find_in<'a>(
    values: impl IntoIterator<Item = &'a HeaderValue>,
    name: &str,
) -> Option<&'a str> {
    let mut found = None;
    for value in values {
        for pair in value.as_bytes().split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if pair[..eq].trim_ascii() != name.as_bytes() {
                continue;
            }
            let Ok(value) = std::str::from_utf8(pair[eq + 1..].trim_ascii()) else {
                continue;
            };
            found = Some(
                value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value),
            );
        }
    }
    found
}

/// The attributes a site's cookie is written with.
#[derive(Debug, Clone)]
pub struct CookieAttributes {
    /// `Domain` (none: this host only).
    pub domain: Option<String>,
    /// `Path`.
    pub path: String,
    /// `Secure`.
    pub secure: bool,
    /// `HttpOnly`.
    pub http_only: bool,
    /// `SameSite`.
    pub same_site: SameSite,
}

impl CookieAttributes {
    /// `Set-Cookie: name=value`, kept for `max_age` (with the matching
    /// `expires` for old browsers), or until the browser closes with
    /// `None`.
    #[must_use]
    pub fn set(&self, name: &str, value: &str, max_age: Option<Duration>) -> HeaderValue {
        let mut out = format!("{name}={value}");
        if let Some(age) = max_age {
            let expires = httpdate::fmt_http_date(SystemTime::now() + age);
            out.push_str("; expires=");
            out.push_str(&expires);
            out.push_str(&format!("; Max-Age={}", age.as_secs()));
        }
        self.push_attributes(&mut out);
        HeaderValue::try_from(out).expect("cookie names, values and attributes are checked ASCII")
    }

    /// `Set-Cookie` that deletes `name`.
    #[must_use]
    pub fn delete(&self, name: &str) -> HeaderValue {
        let mut out = format!("{name}=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0");
        self.push_attributes(&mut out);
        HeaderValue::try_from(out).expect("cookie names and attributes are checked ASCII")
    }

    fn push_attributes(&self, out: &mut String) {
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        out.push_str("; Path=");
        out.push_str(&self.path);
        if self.secure {
            out.push_str("; Secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        out.push_str("; SameSite=");
        out.push_str(self.same_site.as_str());
    }
}

/// Adds `Cookie` to the response's `Vary` unless it is there already.
pub fn vary_on_cookie(headers: &mut HeaderMap) {
    let present = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|p| p.trim() == "*" || p.trim().eq_ignore_ascii_case("cookie"))
        })
    });
    if !present {
        headers.append(header::VARY, HeaderValue::from_static("Cookie"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for c in cookies {
            h.append(header::COOKIE, HeaderValue::from_str(c).unwrap());
        }
        h
    }

    #[test]
    fn finds_the_last_cookie_of_a_name() {
        let h = headers(&["a=1; sessionid=abc; b=2", "sessionid=\"def\""]);
        assert_eq!(find(&h, "sessionid"), Some("def"));
        assert_eq!(find(&h, "a"), Some("1"));
        assert_eq!(find(&h, "session"), None);
        assert_eq!(find(&headers(&["junk; ;=; x"]), "x"), None);
    }

    #[test]
    fn a_binary_cookie_does_not_hide_the_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_bytes(b"prefs=caf\xe9; csrftoken=abc").unwrap(),
        );
        assert_eq!(find(&h, "csrftoken"), Some("abc"));
        assert_eq!(find(&h, "prefs"), None);
        let values = [
            HeaderValue::from_static("a=1"),
            HeaderValue::from_static("b=2"),
        ];
        assert_eq!(find_in(&values, "b"), Some("2"));
    }

    #[test]
    fn writes_django_shaped_cookies() {
        let attrs = CookieAttributes {
            domain: None,
            path: "/".into(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
        };
        let v = attrs.set("sessionid", "k", Some(Duration::from_secs(60)));
        let v = v.to_str().unwrap();
        assert!(v.starts_with("sessionid=k; expires="), "{v}");
        assert!(
            v.ends_with("; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax"),
            "{v}"
        );
        let v = attrs.set("sessionid", "k", None);
        assert_eq!(v, "sessionid=k; Path=/; Secure; HttpOnly; SameSite=Lax");
        let d = attrs.delete("sessionid");
        assert!(d.to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn vary_is_added_once() {
        let mut h = HeaderMap::new();
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        vary_on_cookie(&mut h);
        vary_on_cookie(&mut h);
        assert_eq!(h.get_all(header::VARY).iter().count(), 2);
    }

    #[test]
    fn cookie_names_and_same_site() {
        assert!(is_cookie_name("sessionid"));
        assert!(!is_cookie_name("session id"));
        assert!(!is_cookie_name(""));
        assert!(!is_cookie_name("a=b"));
        assert_eq!(SameSite::parse("lax").unwrap(), SameSite::Lax);
        assert!(SameSite::parse("sometimes").is_err());
    }
}
