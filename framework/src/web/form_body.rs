//! Form bodies as Django's `request.POST` reads them: the fields of an
//! `application/x-www-form-urlencoded` or `multipart/form-data` body, in
//! order, files apart. The CSRF check reads its token field through this,
//! and [`FormData`](crate::forms::FormData) every field.

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

    /// The field `name`'s last value in `body`, if the field is there (a
    /// file part never counts). `None` too for a malformed multipart body.
    pub(crate) fn field(&self, body: &[u8], name: &str) -> Option<String> {
        match self {
            Self::UrlEncoded => urlencoded_pairs(body)
                .filter(|(key, _)| key == name)
                .last()
                .map(|(_, value)| value.into_owned()),
            Self::Multipart { boundary } => multipart_parts(body, boundary)?
                .into_iter()
                .rev()
                .find(|part| part.filename.is_none() && part.name == name)
                .map(|part| String::from_utf8_lossy(part.content).into_owned()),
        }
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

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part<'a> {
    /// The form field's name.
    pub(crate) name: Cow<'a, str>,
    /// The file name, for a file.
    pub(crate) filename: Option<Cow<'a, str>>,
    /// The part's `Content-Type`, if given.
    pub(crate) content_type: Option<&'a str>,
    /// The bytes.
    pub(crate) content: &'a [u8],
}

/// The parts of a `multipart/form-data` body that are form data (a
/// `Content-Disposition: form-data` with a name), in order; `None` when
/// the body is not well formed (no closing delimiter, a part without a
/// blank line after its headers, ...).
pub(crate) fn multipart_parts<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let next_delimiter = [b"\r\n", delimiter].concat();
    // The first delimiter starts the body or a line.
    let mut at = if body.starts_with(delimiter) {
        0
    } else {
        find(body, &next_delimiter)? + 2
    };
    let mut parts = Vec::new();
    loop {
        let after = &body[at + delimiter.len()..];
        if after.starts_with(b"--") {
            return Some(parts);
        }
        // The rest of the delimiter line (transport padding), then the
        // part's headers up to a blank line.
        let line_end = find(after, b"\r\n")? + 2;
        let part = &after[line_end..];
        let headers_end = if part.starts_with(b"\r\n") {
            0
        } else {
            find(part, b"\r\n\r\n")? + 2
        };
        let content_start = headers_end + 2;
        let next = find(&part[content_start..], &next_delimiter)?;
        let content = &part[content_start..content_start + next];
        if let Some(mut found) = part_headers(&part[..headers_end]) {
            found.content = content;
            parts.push(found);
        }
        // Past "\r\n" to the next delimiter.
        at = (body.len() - part.len()) + content_start + next + 2;
    }
}

/// A part's name, file name and type from its headers; `None` when it is
/// not `form-data` with a name.
fn part_headers(headers: &[u8]) -> Option<Part<'_>> {
    let headers = std::str::from_utf8(headers).ok()?;
    let mut named = None;
    let mut content_type = None;
    for line in headers.split("\r\n") {
        let Some((header, value)) = line.split_once(':') else {
            continue;
        };
        let header = header.trim();
        if header.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim());
            continue;
        }
        if !header.eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        let mut parts = split_params(value);
        if !parts
            .next()
            .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("form-data"))
        {
            return None;
        }
        let mut name = None;
        let mut filename = None;
        for (key, value) in parts.filter_map(param) {
            if key.eq_ignore_ascii_case("name") {
                name = Some(value);
            } else if key.eq_ignore_ascii_case("filename") {
                filename = Some(value);
            }
        }
        named = Some((name?, filename));
    }
    let (name, filename) = named?;
    Some(Part {
        name,
        filename,
        content_type,
        content: &[],
    })
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

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut start = 0;
    while let Some(offset) = haystack.get(start..)?.iter().position(|&b| b == first) {
        let at = start + offset;
        if haystack.get(at..at + needle.len())? == needle {
            return Some(at);
        }
        start = at + 1;
    }
    None
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
        let field = |body: &str| FormKind::UrlEncoded.field(body.as_bytes(), "csrfmiddlewaretoken");
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

    fn multipart(parts: &[(&str, &str)], boundary: &str) -> Vec<u8> {
        let mut body = String::new();
        for (disposition, content) in parts {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{content}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        body.into_bytes()
    }

    #[test]
    fn multipart_fields_are_found_and_files_skipped() {
        let form = FormKind::Multipart {
            boundary: "XyZ".into(),
        };
        let body = multipart(
            &[
                ("form-data; name=\"title\"", "hello\r\nworld"),
                ("form-data; name=\"csrfmiddlewaretoken\"", "tok1"),
                (
                    "form-data; name=\"csrfmiddlewaretoken\"; filename=\"t.txt\"",
                    "not-a-field",
                ),
            ],
            "XyZ",
        );
        assert_eq!(
            form.field(&body, "csrfmiddlewaretoken").as_deref(),
            Some("tok1")
        );
        let body = multipart(
            &[
                ("form-data; name=csrfmiddlewaretoken", "first"),
                ("FORM-DATA; NAME=\"csrfmiddlewaretoken\"", "last"),
            ],
            "XyZ",
        );
        assert_eq!(
            form.field(&body, "csrfmiddlewaretoken").as_deref(),
            Some("last")
        );
        let body = multipart(&[("form-data; name=\"other\"", "x")], "XyZ");
        assert_eq!(form.field(&body, "csrfmiddlewaretoken"), None);
        // A preamble before the first boundary, and an empty value.
        let mut body = b"preamble\r\n".to_vec();
        body.extend(multipart(
            &[("form-data; name=\"csrfmiddlewaretoken\"", "")],
            "XyZ",
        ));
        assert_eq!(
            form.field(&body, "csrfmiddlewaretoken").as_deref(),
            Some("")
        );
    }

    #[test]
    fn broken_multipart_bodies_give_no_field() {
        let form = FormKind::Multipart {
            boundary: "XyZ".into(),
        };
        for body in [
            &b""[..],
            b"--XyZ",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\ntok",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"",
            b"no boundary here",
            b"--XyZ--\r\n",
        ] {
            assert_eq!(
                form.field(body, "csrfmiddlewaretoken"),
                None,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        // Another boundary: nothing found.
        let body = multipart(&[("form-data; name=\"csrfmiddlewaretoken\"", "t")], "Other");
        assert_eq!(form.field(&body, "csrfmiddlewaretoken"), None);
    }
}
