//! The encodings a message needs on the wire (what Python's `email`
//! package does for Django): RFC 2047 encoded words for non-ASCII header
//! text, header folding at 78 columns, and quoted-printable / base64 bodies.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Lines are folded to this width where they can be (RFC 5322's "SHOULD").
pub(crate) const FOLD_WIDTH: usize = 78;

/// No line of a message may be longer (RFC 5322's "MUST"); a body with a
/// longer line is sent quoted-printable (as Django does).
pub(crate) const MAX_LINE: usize = 998;

/// An encoded word is at most this long (RFC 2047, section 2).
const MAX_ENCODED_WORD: usize = 75;

/// Characters a "Q" encoded word carries as they are (RFC 2047 5(3): safe
/// even in a phrase, such as a display name).
fn q_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'!' | b'*' | b'+' | b'/')
}

fn q_len(ch: char) -> usize {
    let mut buf = [0; 4];
    ch.encode_utf8(&mut buf)
        .bytes()
        .map(|b| if q_safe(b) || b == b' ' { 1 } else { 3 })
        .sum()
}

fn q_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if q_safe(byte) {
            out.push(char::from(byte));
        } else if byte == b' ' {
            out.push('_');
        } else {
            out.push_str(&format!("={byte:02X}"));
        }
    }
    out
}

/// Splits `text` into chunks, never inside a character, such that each
/// chunk's encoded length (`cost` of its characters, plus `overhead`)
/// fits: the first in `first`, the others in [`MAX_ENCODED_WORD`].
fn chunks(text: &str, first: usize, overhead: usize, cost: impl Fn(&str) -> usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut budget = first.max(overhead + 12);
    for (i, ch) in text.char_indices() {
        let end = i + ch.len_utf8();
        if end > start && overhead + cost(&text[start..end]) > budget && i > start {
            out.push(&text[start..i]);
            start = i;
            budget = MAX_ENCODED_WORD;
        }
    }
    if start < text.len() || out.is_empty() {
        out.push(&text[start..]);
    }
    out
}

/// `text` as RFC 2047 encoded words in UTF-8, the shorter of the "Q" and
/// "B" encodings ("Q" on a tie, as Python chooses), each word at most 75
/// characters and the first at most `first` (the room left on its line).
pub(crate) fn encoded_words(text: &str, first: usize) -> Vec<String> {
    const Q: &str = "=?utf-8?q?";
    const B: &str = "=?utf-8?b?";
    let overhead = Q.len() + 2;
    let q_cost = |s: &str| s.chars().map(q_len).sum::<usize>();
    let b_cost = |s: &str| s.len().div_ceil(3) * 4;
    let q: Vec<String> = chunks(text, first, overhead, q_cost)
        .into_iter()
        .map(|c| format!("{Q}{}?=", q_encode(c)))
        .collect();
    let b: Vec<String> = chunks(text, first, overhead, b_cost)
        .into_iter()
        .map(|c| format!("{B}{}?=", STANDARD.encode(c)))
        .collect();
    let total = |words: &[String]| words.iter().map(String::len).sum::<usize>();
    if total(&b) < total(&q) { b } else { q }
}

/// A header line `name: value`, folded (a line break before a space) so
/// that lines stay within 78 columns where the value's spaces allow.
/// `tokens` are the value's space-separated pieces; a break is only placed
/// between two of them, so unfolding gives back the value.
pub(crate) fn fold(name: &str, tokens: &[String], newline: &str) -> String {
    let mut out = format!("{name}:");
    let mut column = out.len();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 && column + 1 + token.len() > FOLD_WIDTH {
            out.push_str(newline);
            column = 0;
        }
        out.push(' ');
        out.push_str(token);
        column += 1 + token.len();
    }
    out
}

/// An unstructured header value (a subject, an extra header) as tokens for
/// [`fold`]: ASCII text as its words, anything else as encoded words.
pub(crate) fn unstructured_tokens(name: &str, value: &str) -> Vec<String> {
    if value.is_ascii() {
        value.split(' ').map(str::to_owned).collect()
    } else {
        encoded_words(value, FOLD_WIDTH.saturating_sub(name.len() + 2))
    }
}

/// How a text body travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferEncoding {
    /// ASCII, short lines: as it is.
    SevenBit,
    /// UTF-8, short lines: as it is (Django avoids base64 for text, which
    /// spam filters dislike).
    EightBit,
    /// A line longer than 998 bytes: quoted-printable shortens it.
    QuotedPrintable,
}

impl TransferEncoding {
    /// The `Content-Transfer-Encoding` value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SevenBit => "7bit",
            Self::EightBit => "8bit",
            Self::QuotedPrintable => "quoted-printable",
        }
    }

    /// The encoding Django picks for a UTF-8 text body.
    pub(crate) fn for_text(text: &str) -> Self {
        if lines(text).any(|l| l.len() > MAX_LINE) {
            Self::QuotedPrintable
        } else if text.is_ascii() {
            Self::SevenBit
        } else {
            Self::EightBit
        }
    }
}

/// The lines of `text`, whatever its line endings (`\r\n`, `\n`, `\r`); a
/// final line ending gives a last empty line.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(i) => {
                let skip = if current[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[i + skip..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// `text` with its line endings made `newline`.
pub(crate) fn normalize_newlines(text: &str, newline: &str) -> String {
    lines(text).collect::<Vec<_>>().join(newline)
}

/// Quoted-printable (RFC 2045, section 6.7) of UTF-8 `text`: lines of at
/// most 76 characters with soft breaks, trailing white space encoded.
pub(crate) fn quoted_printable(text: &str, newline: &str) -> String {
    const WIDTH: usize = 76;
    let mut out = String::with_capacity(text.len() * 2);
    for (n, line) in lines(text).enumerate() {
        if n > 0 {
            out.push_str(newline);
        }
        let bytes = line.as_bytes();
        let mut column = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal = (byte.is_ascii_graphic() && byte != b'=')
                || ((byte == b' ' || byte == b'\t') && !last);
            let piece = if literal {
                char::from(byte).to_string()
            } else {
                format!("={byte:02X}")
            };
            // Room for the piece, and for a soft break after it unless the
            // line ends here.
            let room = if last { WIDTH } else { WIDTH - 1 };
            if column + piece.len() > room {
                out.push('=');
                out.push_str(newline);
                column = 0;
            }
            out.push_str(&piece);
            column += piece.len();
        }
    }
    out
}

/// Base64 of `bytes` in lines of 76 characters.
pub(crate) fn base64_lines(bytes: &[u8], newline: &str) -> String {
    let encoded = STANDARD.encode(bytes);
    encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect::<Vec<_>>()
        .join(newline)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_q(word: &str) -> Vec<u8> {
        let inner = word
            .strip_prefix("=?utf-8?q?")
            .and_then(|w| w.strip_suffix("?="))
            .unwrap();
        let mut out = Vec::new();
        let bytes = inner.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'_' => out.push(b' '),
                b'=' => {
                    out.push(u8::from_str_radix(&inner[i + 1..i + 3], 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        out
    }

    #[test]
    fn encoded_words_match_python() {
        // Django: Header("Gżegżółka", "utf-8").encode() and the display
        // name of "Firstname Sürname <to@example.com>".
        assert_eq!(
            encoded_words("Gżegżółka", 70),
            ["=?utf-8?b?R8W8ZWfFvMOzxYJrYQ==?="]
        );
        assert_eq!(
            encoded_words("Firstname Sürname", 70),
            ["=?utf-8?q?Firstname_S=C3=BCrname?="]
        );
        assert_eq!(
            encoded_words("Tó Example", 70),
            ["=?utf-8?q?T=C3=B3_Example?="]
        );
    }

    #[test]
    fn long_encoded_text_is_split_between_characters() {
        let text = "Tó Example very long".repeat(4);
        let words = encoded_words(&text, 60);
        assert!(words.len() > 1);
        assert!(words.iter().all(|w| w.len() <= MAX_ENCODED_WORD));
        assert!(words[0].len() <= 60);
        let decoded: Vec<u8> = words.iter().flat_map(|w| decode_q(w)).collect();
        assert_eq!(String::from_utf8(decoded).unwrap(), text);
        // Base64 words too: every word decodes alone (no split character).
        let text = "ж".repeat(100);
        for word in encoded_words(&text, 75) {
            let inner = word
                .strip_prefix("=?utf-8?b?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            let bytes = STANDARD.decode(inner).unwrap();
            assert!(String::from_utf8(bytes).is_ok(), "{word}");
            assert!(word.len() <= MAX_ENCODED_WORD);
        }
    }

    #[test]
    fn folding_keeps_lines_short_and_unfolds_to_the_value() {
        let value = "A very long ascii subject line that goes well past the seventy-eight column limit for sure";
        let tokens = unstructured_tokens("Subject", value);
        let folded = fold("Subject", &tokens, "\r\n");
        assert!(
            folded.split("\r\n").all(|l| l.len() <= FOLD_WIDTH),
            "{folded}"
        );
        assert_eq!(folded.replace("\r\n", ""), format!("Subject: {value}"));
        assert_eq!(
            fold("Subject", &unstructured_tokens("Subject", "Hi"), "\n"),
            "Subject: Hi"
        );
    }

    #[test]
    fn transfer_encodings_as_django_picks_them() {
        assert_eq!(
            TransferEncoding::for_text("Body with only ASCII characters."),
            TransferEncoding::SevenBit
        );
        assert_eq!(
            TransferEncoding::for_text("Body with latin characters: àáä."),
            TransferEncoding::EightBit
        );
        assert_eq!(
            TransferEncoding::for_text(&"x".repeat(999)),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(
            TransferEncoding::for_text(&"x".repeat(998)),
            TransferEncoding::SevenBit
        );
    }

    #[test]
    fn quoted_printable_wraps_and_escapes() {
        let qp = quoted_printable(&format!("{}\nà = b \nend", "x".repeat(200)), "\n");
        let lines: Vec<&str> = qp.split('\n').collect();
        assert!(lines.iter().all(|l| l.len() <= 76), "{qp}");
        assert_eq!(lines[0], format!("{}=", "x".repeat(75)));
        assert_eq!(lines[3], "=C3=A0 =3D b=20");
        assert_eq!(lines[4], "end");
    }

    #[test]
    fn line_endings_are_normalized() {
        assert_eq!(
            normalize_newlines("a\r\nb\nc\rd\n", "\r\n"),
            "a\r\nb\r\nc\r\nd\r\n"
        );
        assert_eq!(lines("").collect::<Vec<_>>(), [""]);
    }
}
