//! Form bodies as Django's `request.POST` reads them: which encoding a
//! request's `Content-Type` names, and the fields of an
//! `application/x-www-form-urlencoded` body, in order. The CSRF check reads
//! its token field through this, and [`FormData`](crate::forms::FormData)
//! every field. Multipart bodies are streamed through `multer` by
//! [`FormData`](crate::forms::FormData) itself, files never buffered whole.

use std::borrow::Cow;

use http::HeaderMap;

/// How a body is encoded, when it is a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FormKind {
    UrlEncoded,
    Multipart { boundary: String },
}

impl FormKind {
    /// The form encoding that `Content-Type` names; `None` for any other
    /// body (whose token can only come in the header). A multipart type
    /// without a boundary is no form either: Django cannot read it.
    pub(crate) fn of(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
        let mut parts = split_params(value);
        let essence = parts.next()?.trim();
        if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Some(Self::UrlEncoded);
        }
        if !essence.eq_ignore_ascii_case("multipart/form-data") {
            return None;
        }
        let boundary = parts
            .filter_map(param)
            .find(|(name, _)| name.eq_ignore_ascii_case("boundary"))
            .map(|(_, value)| value.into_owned())
            .filter(|b| !b.is_empty() && b.len() <= 200)?;
        Some(Self::Multipart { boundary })
    }

    /// The field `name`'s last value in an URL-encoded `body`, if the field
    /// is there.
    pub(crate) fn urlencoded_field(body: &[u8], name: &str) -> Option<String> {
        urlencoded_pairs(body)
            .filter(|(key, _)| key == name)
            .last()
            .map(|(_, value)| value.into_owned())
    }
}

/// The `(name, value)` pairs of an `application/x-www-form-urlencoded`
/// body, in order (`+` is a space, `%XX` a byte, bad UTF-8 replaced as
/// Django does; `;` is no separator, as in Python 3.10 and later).
pub(crate) fn urlencoded_pairs(body: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &[][..]),
            };
            (form_decode(key), form_decode(value))
        })
}

fn form_decode(bytes: &[u8]) -> Cow<'_, str> {
    if !bytes.iter().any(|&b| b == b'+' || b == b'%') {
        return String::from_utf8_lossy(bytes);
    }
    let spaced: Vec<u8> = bytes
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    Cow::Owned(String::from_utf8_lossy(&decoded).into_owned())
}

/// `a; b="c;d"; e` → `a`, ` b="c;d"`, ` e`: split on `;` outside quotes.
fn split_params(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let text = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (i, c) in text.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ';' if !quoted => {
                    rest = Some(&text[i + 1..]);
                    return Some(&text[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(text)
    })
}

/// ` name="value"` → `("name", "value")`, unquoting.
fn param(part: &str) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
    let (key, value) = part.split_once('=')?;
    let key = key.trim();
    let value = value.trim();
    let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if inner.contains('\\') => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or('\\')
                } else {
                    c
                });
            }
            Cow::Owned(out)
        }
        Some(inner) => Cow::Borrowed(inner),
        None => Cow::Borrowed(value),
    };
    Some((Cow::Borrowed(key), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(content_type: &str) -> Option<FormKind> {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
        FormKind::of(&headers)
    }

    #[test]
    fn form_content_types_are_recognised() {
        assert_eq!(
            kind("application/x-www-form-urlencoded"),
            Some(FormKind::UrlEncoded)
        );
        assert_eq!(
            kind("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
            Some(FormKind::UrlEncoded)
        );
        assert_eq!(
            kind("multipart/form-data; boundary=----abc"),
            Some(FormKind::Multipart {
                boundary: "----abc".into()
            })
        );
        assert_eq!(
            kind("multipart/form-data; charset=utf-8; boundary=\"a;b c\""),
            Some(FormKind::Multipart {
                boundary: "a;b c".into()
            })
        );
        assert_eq!(kind("multipart/form-data"), None);
        assert_eq!(kind("application/json"), None);
        assert_eq!(kind("text/plain"), None);
        assert_eq!(FormKind::of(&HeaderMap::new()), None);
    }

    #[test]
    fn urlencoded_fields_decode_and_the_last_wins() {
        let field = |body: &str| FormKind::urlencoded_field(body.as_bytes(), "csrfmiddlewaretoken");
        assert_eq!(
            field("a=1&csrfmiddlewaretoken=abc&b=2").as_deref(),
            Some("abc")
        );
        assert_eq!(
            field("csrfmiddlewaretoken=one&csrfmiddlewaretoken=two").as_deref(),
            Some("two")
        );
        assert_eq!(
            field("csrf%6Diddlewaretoken=a+b%21").as_deref(),
            Some("a b!")
        );
        assert_eq!(field("csrfmiddlewaretoken").as_deref(), Some(""));
        assert_eq!(
            field("csrfmiddlewaretoken=%FF").as_deref(),
            Some("\u{fffd}")
        );
        assert_eq!(field("a=1&&b=2"), None);
        assert_eq!(field(""), None);
        // `;` is not a separator (Python 3.10 and later).
        assert_eq!(field("a=1;csrfmiddlewaretoken=x"), None);
    }
}
