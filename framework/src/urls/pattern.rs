//! Django-style route patterns (`articles/<int:id>/`) and their converters.

use std::fmt::{self, Write as _};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Characters escaped in a path segment built by `reverse` or taken from a
/// pattern's literal text: everything but RFC 3986 `pchar`s.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// What a path parameter accepts, as in Django.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// Any non-empty text without `/` (the default: `<name>`).
    Str,
    /// Digits that fit an `i64`: `<int:id>`.
    Int,
    /// Letters, digits, `-` and `_`: `<slug:slug>`.
    Slug,
    /// A lowercase hyphenated UUID: `<uuid:key>`.
    Uuid,
    /// Any non-empty text, `/` included; only last in a pattern: `<path:rest>`.
    Path,
}

impl Converter {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "str" => Self::Str,
            "int" => Self::Int,
            "slug" => Self::Slug,
            "uuid" => Self::Uuid,
            "path" => Self::Path,
            _ => return None,
        })
    }

    /// The converter's name in patterns.
    pub fn name(self) -> &'static str {
        match self {
            Self::Str => "str",
            Self::Int => "int",
            Self::Slug => "slug",
            Self::Uuid => "uuid",
            Self::Path => "path",
        }
    }

    /// Whether a (percent-decoded) value is one this converter accepts.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            Self::Str => !value.is_empty() && !value.contains('/'),
            Self::Int => {
                !value.is_empty()
                    && value.bytes().all(|b| b.is_ascii_digit())
                    && value.parse::<i64>().is_ok()
            }
            Self::Slug => {
                !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
            Self::Uuid => {
                value.len() == 36
                    && value.bytes().enumerate().all(|(i, b)| match i {
                        8 | 13 | 18 | 23 => b == b'-',
                        _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
                    })
            }
            Self::Path => !value.is_empty(),
        }
    }
}

/// One piece of a parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Literal(String),
    Param { name: String, converter: Converter },
}

/// A parsed, validated pattern: the full path of a route, includes' prefixes
/// already joined.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// As written (prefixes joined), e.g. `blog/articles/<int:id>/`.
    pub(crate) source: String,
    pub(crate) pieces: Vec<Piece>,
}

impl Pattern {
    /// Parses a Django-style pattern. `Err` explains what is wrong.
    pub(crate) fn parse(source: &str) -> Result<Self, String> {
        if source.starts_with('/') {
            return Err(
                "patterns must not start with '/' (write \"articles/\", not \"/articles/\")".into(),
            );
        }
        if source.contains("//") {
            return Err("patterns must not contain an empty segment (\"//\")".into());
        }
        let mut pieces = Vec::new();
        let mut rest = source;
        while !rest.is_empty() {
            match rest.find('<') {
                Some(0) => {
                    let end = rest.find('>').ok_or("a '<' is never closed by '>'")?;
                    let inner = &rest[1..end];
                    let (converter, name) = match inner.split_once(':') {
                        Some((conv, name)) => (
                            Converter::from_name(conv).ok_or_else(|| {
                                format!(
                                    "unknown converter {conv:?} in <{inner}>; use str, int, slug, uuid or path"
                                )
                            })?,
                            name,
                        ),
                        None => (Converter::Str, inner),
                    };
                    if !is_identifier(name) {
                        return Err(format!(
                            "parameter name {name:?} in <{inner}> is not an identifier (letters, digits and '_', not starting with a digit)"
                        ));
                    }
                    pieces.push(Piece::Param {
                        name: name.to_owned(),
                        converter,
                    });
                    rest = &rest[end + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let literal = &rest[..end];
                    if let Some(c) = literal.chars().find(|c| matches!(c, '>' | '{' | '}')) {
                        return Err(format!("unexpected {c:?} outside a <parameter>"));
                    }
                    pieces.push(Piece::Literal(literal.to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        let pattern = Self {
            source: source.to_owned(),
            pieces,
        };
        pattern.check_shape()?;
        Ok(pattern)
    }

    /// Parameters must fill whole segments, names must be unique, and a
    /// `path` parameter can only come last: the shapes the router matches.
    fn check_shape(&self) -> Result<(), String> {
        let mut seen: Vec<&str> = Vec::new();
        for (i, piece) in self.pieces.iter().enumerate() {
            let Piece::Param { name, converter } = piece else {
                continue;
            };
            if seen.contains(&name.as_str()) {
                return Err(format!("parameter <{name}> appears twice"));
            }
            seen.push(name);
            let after_slash = match i.checked_sub(1).map(|j| &self.pieces[j]) {
                None => true,
                Some(Piece::Literal(l)) => l.ends_with('/'),
                Some(Piece::Param { .. }) => false,
            };
            let next = self.pieces.get(i + 1);
            let before_slash = match next {
                None => true,
                Some(Piece::Literal(l)) => l.starts_with('/'),
                Some(Piece::Param { .. }) => false,
            };
            if !after_slash || !before_slash {
                return Err(format!(
                    "parameter <{name}> must fill a whole path segment (between '/' characters)"
                ));
            }
            if *converter == Converter::Path && next.is_some() {
                return Err(format!(
                    "<path:{name}> matches the rest of the URL, so it must come last in the pattern"
                ));
            }
        }
        Ok(())
    }

    /// The parameters, in order.
    pub(crate) fn params(&self) -> impl Iterator<Item = (&str, Converter)> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Param { name, converter } => Some((name.as_str(), *converter)),
            Piece::Literal(_) => None,
        })
    }

    /// The path in the router's syntax: `/blog/articles/{id}/`.
    pub(crate) fn router_path(&self) -> String {
        let mut out = String::from("/");
        for piece in &self.pieces {
            match piece {
                Piece::Literal(l) => {
                    // Segment by segment, so that '/' stays a separator.
                    let mut first = true;
                    for seg in l.split('/') {
                        if !first {
                            out.push('/');
                        }
                        first = false;
                        out.extend(utf8_percent_encode(seg, SEGMENT));
                    }
                }
                Piece::Param {
                    name,
                    converter: Converter::Path,
                } => {
                    let _ = write!(out, "{{*{name}}}");
                }
                Piece::Param { name, .. } => {
                    let _ = write!(out, "{{{name}}}");
                }
            }
        }
        out
    }

    /// Builds a URL path from one value per parameter, in order. The values
    /// must already have been checked with [`Converter::accepts`].
    pub(crate) fn fill(&self, values: &[String]) -> String {
        let mut out = String::from("/");
        let mut values = values.iter();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(l) => {
                    for (i, seg) in l.split('/').enumerate() {
                        if i > 0 {
                            out.push('/');
                        }
                        out.extend(utf8_percent_encode(seg, SEGMENT));
                    }
                }
                Piece::Param { converter, .. } => {
                    let value = values.next().map(String::as_str).unwrap_or_default();
                    if *converter == Converter::Path {
                        for (i, seg) in value.split('/').enumerate() {
                            if i > 0 {
                                out.push('/');
                            }
                            out.extend(utf8_percent_encode(seg, SEGMENT));
                        }
                    } else {
                        out.extend(utf8_percent_encode(value, SEGMENT));
                    }
                }
            }
        }
        out
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_translates() {
        let p = Pattern::parse("blog/<int:year>/<slug:slug>/").unwrap();
        assert_eq!(p.router_path(), "/blog/{year}/{slug}/");
        let params: Vec<_> = p.params().collect();
        assert_eq!(
            params,
            [("year", Converter::Int), ("slug", Converter::Slug)]
        );
        assert_eq!(Pattern::parse("").unwrap().router_path(), "/");
        assert_eq!(
            Pattern::parse("files/<path:rest>").unwrap().router_path(),
            "/files/{*rest}"
        );
        assert_eq!(
            Pattern::parse("<name>/").unwrap().params().next(),
            Some(("name", Converter::Str))
        );
        assert_eq!(
            Pattern::parse("café/").unwrap().router_path(),
            "/caf%C3%A9/"
        );
    }

    #[test]
    fn rejects_bad_patterns_with_reasons() {
        for (pattern, reason) in [
            ("/leading/", "must not start with '/'"),
            ("a//b/", "empty segment"),
            ("<int:id", "never closed"),
            ("<float:x>/", "unknown converter \"float\""),
            ("<int:1x>/", "not an identifier"),
            ("<int:>/", "not an identifier"),
            ("<a>/<a>/", "appears twice"),
            ("page-<int:n>/", "whole path segment"),
            ("<int:y><int:m>/", "whole path segment"),
            ("<path:p>/edit/", "must come last"),
            ("a>/", "unexpected '>'"),
            ("{x}/", "unexpected '{'"),
        ] {
            let err = Pattern::parse(pattern).unwrap_err();
            assert!(err.contains(reason), "{pattern}: {err}");
        }
    }

    #[test]
    fn converters() {
        assert!(Converter::Int.accepts("0042"));
        assert!(!Converter::Int.accepts("-1"));
        assert!(!Converter::Int.accepts("99999999999999999999"));
        assert!(!Converter::Int.accepts(""));
        assert!(Converter::Slug.accepts("hello-world_2"));
        assert!(!Converter::Slug.accepts("hello world"));
        assert!(Converter::Uuid.accepts("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!Converter::Uuid.accepts("123E4567-E89B-12D3-A456-426614174000"));
        assert!(!Converter::Str.accepts("a/b"));
        assert!(Converter::Path.accepts("a/b"));
    }

    #[test]
    fn fill_escapes_values() {
        let p = Pattern::parse("u/<name>/f/<path:rest>").unwrap();
        assert_eq!(
            p.fill(&["a b?#".into(), "x/y z".into()]),
            "/u/a%20b%3F%23/f/x/y%20z"
        );
    }
}
