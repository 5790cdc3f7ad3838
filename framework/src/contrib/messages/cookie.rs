//! The messages' wire format, and the signed cookie that carries them
//! (Django's `CookieStorage`).
//!
//! The format is Django's, byte for byte where it matters, so that a Django
//! site and a Manouche one sharing a domain (and a secret key) read each
//! other's messages: each message is the JSON array
//! `["__json_message", 0, level, "text", "extra tags"]` (non-ASCII escaped
//! as `\uXXXX`, as Python's `json.dumps` does), the list may end with the
//! string `"__messagesnotfinished__"` when some messages were kept
//! elsewhere, and the cookie value is that list signed as Django's
//! `signing.get_cookie_signer(salt="django.contrib.messages")` signs it:
//! zlib-compressed when that is shorter (then prefixed with `.`), URL-safe
//! base64 without padding, a base-62 timestamp, and an HMAC-SHA256 of the
//! whole keyed with the project's `secret_key` ([`crypto::salted_hmac`]).
//! The session storage keeps the same JSON list, unsigned.
//!
//! A value whose signature does not match, or that does not decode, is
//! `None`: the caller ignores it (a tampered or stale cookie never becomes
//! a 500).

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Level, Message};
use crate::crypto;

/// The marker that ends a list when more messages are kept elsewhere
/// (Django's `CookieStorage.not_finished`).
pub(super) const NOT_FINISHED: &str = "__messagesnotfinished__";
/// The first element of a message's JSON array.
const MESSAGE_KEY: &str = "__json_message";
/// Django's salt for the messages cookie.
const SALT: &str = "django.contrib.messages";
/// What a cookie may inflate to. The signature is checked first, so only
/// this site could have made a value; the cap keeps a leaked key from
/// becoming a memory bomb.
const MAX_INFLATED: u64 = 1 << 20;

/// Signs and checks cookie values with the project's secret key (Django's
/// `TimestampSigner` for cookies; the timestamp is written, not checked,
/// as Django's messages do not expire).
pub(super) struct Signer {
    /// Django's cookie signer key: `"django.http.cookies"` + the secret.
    key: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    pub(super) fn new(secret_key: &str) -> Self {
        Self {
            key: format!("django.http.cookies{secret_key}"),
        }
    }

    fn signature(&self, value: &str) -> String {
        URL_SAFE_NO_PAD.encode(crypto::salted_hmac(
            &format!("{SALT}signer"),
            value.as_bytes(),
            &self.key,
        ))
    }

    /// `payload` compressed when that helps, encoded, timestamped and
    /// signed (Django's `sign_object(..., compress=True)`).
    pub(super) fn sign(&self, payload: &[u8]) -> String {
        let compressed = deflate(payload);
        let mut value = String::new();
        match compressed {
            // Django keeps the compressed form only when it saves more
            // than the one-character marker.
            Some(small) if small.len() + 1 < payload.len() => {
                value.push('.');
                value.push_str(&URL_SAFE_NO_PAD.encode(small));
            }
            _ => value.push_str(&URL_SAFE_NO_PAD.encode(payload)),
        }
        value.push(':');
        value.push_str(&base62(unix_time()));
        let signature = self.signature(&value);
        value.push(':');
        value.push_str(&signature);
        value
    }

    /// The payload of a value [`sign`](Self::sign) made with this key;
    /// `None` for anything else.
    pub(super) fn unsign(&self, signed: &str) -> Option<Vec<u8>> {
        let (value, signature) = signed.rsplit_once(':')?;
        if !crypto::constant_time_eq(signature.as_bytes(), self.signature(value).as_bytes()) {
            return None;
        }
        let (payload, _timestamp) = value.rsplit_once(':')?;
        let (compressed, encoded) = match payload.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, payload),
        };
        let data = URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')).ok()?;
        if !compressed {
            return Some(data);
        }
        let mut inflated = Vec::new();
        flate2::read::ZlibDecoder::new(data.as_slice())
            .take(MAX_INFLATED + 1)
            .read_to_end(&mut inflated)
            .ok()?;
        (inflated.len() as u64 <= MAX_INFLATED).then_some(inflated)
    }
}

fn deflate(data: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Django's `b62_encode` of a non-negative number.
fn base62(mut n: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".to_owned();
    }
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(ALPHABET[(n % 62) as usize]);
        n /= 62;
    }
    digits.reverse();
    String::from_utf8(digits).expect("base-62 digits are ASCII")
}

/// `text` as a JSON string the way Python's `json.dumps` writes it:
/// everything outside printable ASCII escaped, so that the list reads the
/// same as Latin-1 (what Django decodes a cookie as) and as UTF-8.
fn push_json_string(out: &mut String, text: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// One message as the JSON array Django writes (its `MessageEncoder`).
pub(super) fn message_json(message: &Message) -> String {
    let mut out = String::with_capacity(message.message.len() + 40);
    out.push_str("[\"");
    out.push_str(MESSAGE_KEY);
    out.push_str("\",0,");
    out.push_str(&message.level.value().to_string());
    out.push(',');
    push_json_string(&mut out, &message.message);
    out.push(',');
    push_json_string(&mut out, &message.extra_tags);
    out.push(']');
    out
}

/// The JSON list of already written messages, with the marker at the end
/// when `not_finished`.
pub(super) fn join(parts: &[String], not_finished: bool) -> String {
    let mut out = String::from("[");
    out.push_str(&parts.join(","));
    if not_finished {
        if !parts.is_empty() {
            out.push(',');
        }
        out.push('"');
        out.push_str(NOT_FINISHED);
        out.push('"');
    }
    out.push(']');
    out
}

/// A list of messages read back: their level, text and extra tags, and
/// whether it ended with the not-finished marker.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Decoded {
    pub(super) messages: Vec<(Level, String, String)>,
    pub(super) not_finished: bool,
}

/// Reads a JSON list written by [`join`] (or by Django); `None` when it is
/// not one.
pub(super) fn parse(json: &[u8]) -> Option<Decoded> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(json).ok()?;
    let mut decoded = Decoded::default();
    let count = items.len();
    for (i, item) in items.into_iter().enumerate() {
        match item {
            serde_json::Value::String(s) if s == NOT_FINISHED && i + 1 == count => {
                decoded.not_finished = true;
            }
            serde_json::Value::Array(fields) => decoded.messages.push(parse_message(&fields)?),
            _ => return None,
        }
    }
    Some(decoded)
}

fn parse_message(fields: &[serde_json::Value]) -> Option<(Level, String, String)> {
    use serde_json::Value;
    let (Some(Value::String(key)), Some(_safe), Some(level), Some(Value::String(text))) =
        (fields.first(), fields.get(1), fields.get(2), fields.get(3))
    else {
        return None;
    };
    if key != MESSAGE_KEY || fields.len() > 5 {
        return None;
    }
    let level = i32::try_from(level.as_i64()?).ok()?;
    let extra_tags = match fields.get(4) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(tags)) => tags.clone(),
        Some(_) => return None,
    };
    Some((Level::new(level), text.clone(), extra_tags))
}

/// Which messages a cookie keeps when they do not all fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// The newest (the cookie storage alone: the oldest are lost).
    Newest,
    /// The oldest (the fallback storage: the newest go to the session).
    Oldest,
}

/// The cookie value for `messages` within `max_size` bytes, and the
/// messages left out (Django's `CookieStorage._store`): when they do not
/// all fit, the value holds as many as fit, from the end `keep` says,
/// followed by the not-finished marker. `None` for no messages.
pub(super) fn encode_limited(
    signer: &Signer,
    messages: &[Message],
    max_size: usize,
    keep: Keep,
) -> (Option<String>, Vec<Message>) {
    if messages.is_empty() {
        return (None, Vec::new());
    }
    let parts: Vec<String> = messages.iter().map(message_json).collect();
    let whole = signer.sign(join(&parts, false).as_bytes());
    if whole.len() <= max_size {
        return (Some(whole), Vec::new());
    }
    let with_marker = |kept: &[String]| signer.sign(join(kept, true).as_bytes());
    let too_large = |kept: &[String]| with_marker(kept).len() > max_size;
    match keep {
        Keep::Newest => {
            let start = first_fitting_suffix(&parts, too_large);
            (
                Some(with_marker(&parts[start..])),
                messages[..start].to_vec(),
            )
        }
        Keep::Oldest => {
            let end = first_overflowing_prefix(&parts, too_large);
            (Some(with_marker(&parts[..end])), messages[end..].to_vec())
        }
    }
}

/// The smallest `i` for which `too_large(&parts[i..])` is false (Django's
/// `bisect_keep_right`): the longest tail that fits, found in log(n)
/// encodings.
fn first_fitting_suffix(parts: &[String], too_large: impl Fn(&[String]) -> bool) -> usize {
    let (mut lo, mut hi) = (0, parts.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if too_large(&parts[mid..]) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The smallest `i` for which `too_large(&parts[..=i])` is true (Django's
/// `bisect_keep_left`): `parts[..i]` is the longest head that fits.
fn first_overflowing_prefix(parts: &[String], too_large: impl Fn(&[String]) -> bool) -> usize {
    let (mut lo, mut hi) = (0, parts.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if too_large(&parts[..=mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Letters in a fixed pseudo-random order, which zlib shrinks no more than
/// Django's random test strings (by their alphabet's entropy only), for
/// the size-limit tests.
#[cfg(test)]
pub(super) fn incompressible(len: usize, seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(crypto::ALPHANUMERIC[(x % 62) as usize])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(level: Level, text: &str) -> Message {
        Message::new(level, text)
    }

    #[test]
    fn messages_are_written_as_django_writes_them() {
        let m = message(Level::INFO, "Saved \"it\" \u{2019} \u{1F600}\n").with_extra_tags("x y");
        assert_eq!(
            message_json(&m),
            r#"["__json_message",0,20,"Saved \"it\" \u2019 \ud83d\ude00\n","x y"]"#
        );
        let parts = vec![message_json(&message(Level::ERROR, "a"))];
        assert_eq!(
            join(&parts, true),
            r#"[["__json_message",0,40,"a",""],"__messagesnotfinished__"]"#
        );
        assert_eq!(join(&[], true), r#"["__messagesnotfinished__"]"#);
        // And read back, with Django's variants (no extra tags, null).
        let decoded = parse(
            br#"[["__json_message",0,20,"caf\u00e9 \ud83d\ude00","t"],["__json_message",1,25,"b"],["__json_message",0,29,"c",null],"__messagesnotfinished__"]"#,
        )
        .unwrap();
        assert_eq!(
            decoded.messages,
            vec![
                (Level::INFO, "café 😀".to_owned(), "t".to_owned()),
                (Level::SUCCESS, "b".to_owned(), String::new()),
                (Level::new(29), "c".to_owned(), String::new()),
            ]
        );
        assert!(decoded.not_finished);
        for bad in [
            &b"{}"[..],
            b"[\"test\"]",
            b"[\"__messagesnotfinished__\", [\"__json_message\",0,20,\"a\"]]",
            b"[[\"__json_message\",0,\"20\",\"a\"]]",
            b"[[\"other\",0,20,\"a\"]]",
            b"[[\"__json_message\",0,99999999999,\"a\"]]",
            b"not json",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn signed_values_round_trip_and_refuse_tampering() {
        let signer = Signer::new("secret");
        let payload = br#"[["__json_message",0,20,"hello",""]]"#;
        let signed = signer.sign(payload);
        assert!(
            signed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)),
            "a cookie value without quoting: {signed}"
        );
        assert_eq!(signer.unsign(&signed).as_deref(), Some(&payload[..]));
        // Repetitive data is compressed.
        let long = format!("[{}]", vec!["\"aaaaaaaaaaaaaaaa\""; 50].join(","));
        let signed_long = signer.sign(long.as_bytes());
        assert!(signed_long.starts_with('.'), "{signed_long}");
        assert!(signed_long.len() < long.len());
        assert_eq!(signer.unsign(&signed_long).unwrap(), long.as_bytes());
        // Another key, a cut value, a changed payload: refused.
        assert_eq!(Signer::new("other").unsign(&signed), None);
        assert_eq!(signer.unsign(&signed[1..]), None);
        let (value, signature) = signed.rsplit_once(':').unwrap();
        let forged = format!("{value}x:{signature}");
        assert_eq!(signer.unsign(&forged), None);
        for junk in ["", ":", "::", "abc", "a:b:c"] {
            assert_eq!(signer.unsign(junk), None, "{junk}");
        }
    }

    #[test]
    fn reads_a_cookie_django_made() {
        // Django 5.2, SECRET_KEY = "django-insecure-messages-test":
        // CookieStorage(request)._encode([Message(INFO, "Héllo <b>", "x"),
        // Message(ERROR, "second")]) (compressed).
        let signer = Signer::new("django-insecure-messages-test");
        let from_django = ".eJyLjlaKj88qzs-Lz00tLk5MT1XSMdAxMtBR8ogpNTBItczJyVewSbJT0lGqUIrVwabYBKi4ODU5Py9FKTYWAOlOGMk:1xYcEh:RXAh0e5F_Ww07P6dtScMN02KVaufOijWD-1_IKZISrw";
        let decoded = parse(&signer.unsign(from_django).expect("Django's signature")).unwrap();
        assert_eq!(
            decoded.messages,
            vec![
                (Level::INFO, "Héllo <b>".to_owned(), "x".to_owned()),
                (Level::ERROR, "second".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn base62_is_djangos() {
        assert_eq!(base62(0), "0");
        assert_eq!(base62(61), "z");
        assert_eq!(base62(62), "10");
        assert_eq!(base62(1_700_000_000), "1r31eq");
    }

    #[test]
    fn the_bisections_are_djangos() {
        // Django's BisectTests, with "sum != n" as the predicate.
        let ones = |n: usize| vec!["1".to_owned(); n];
        let sum_is_not = |k: usize| move |a: &[String]| a.len() != k;
        assert_eq!(first_overflowing_prefix(&ones(3), sum_is_not(2)), 2);
        assert_eq!(first_overflowing_prefix(&ones(3), sum_is_not(0)), 0);
        assert_eq!(first_overflowing_prefix(&ones(0), sum_is_not(0)), 0);
        assert_eq!(first_fitting_suffix(&ones(3), sum_is_not(2)), 1);
        assert_eq!(first_fitting_suffix(&ones(4), sum_is_not(2)), 2);
        assert_eq!(first_fitting_suffix(&ones(5), sum_is_not(1)), 4);
        assert_eq!(first_fitting_suffix(&ones(0), sum_is_not(0)), 0);
    }

    /// Django's `test_max_cookie_length` and `test_session_fallback`:
    /// messages sized so that four fit in 2048 bytes but five do not.
    #[test]
    fn a_full_cookie_keeps_what_fits_and_marks_the_rest() {
        let signer = Signer::new("secret");
        let size = (2048 - 54) * 2 / 9 - 37;
        let messages: Vec<Message> = (0..5)
            .map(|i| message(Level::INFO, &format!("{i}{}", incompressible(size - 1, i))))
            .collect();
        let (value, unstored) = encode_limited(&signer, &messages, 2048, Keep::Newest);
        let value = value.unwrap();
        assert!(value.len() <= 2048, "{}", value.len());
        let decoded = parse(&signer.unsign(&value).unwrap()).unwrap();
        assert_eq!(decoded.messages.len(), 4);
        assert!(decoded.not_finished);
        assert_eq!(unstored, messages[..1]);
        assert!(decoded.messages[0].1.starts_with('1'));

        let (value, unstored) = encode_limited(&signer, &messages, 2048, Keep::Oldest);
        let decoded = parse(&signer.unsign(&value.unwrap()).unwrap()).unwrap();
        assert_eq!(decoded.messages.len(), 4);
        assert!(decoded.messages[0].1.starts_with('0'));
        assert_eq!(unstored, messages[4..]);

        // One message too large for any cookie: only the marker is kept.
        let huge = [message(Level::INFO, &incompressible(5000, 7))];
        let (value, unstored) = encode_limited(&signer, &huge, 2048, Keep::Oldest);
        let decoded = parse(&signer.unsign(&value.unwrap()).unwrap()).unwrap();
        assert!(decoded.messages.is_empty() && decoded.not_finished);
        assert_eq!(unstored.len(), 1);

        // Few short messages: all in, no marker.
        let few: Vec<Message> = (0..5)
            .map(|i| message(Level::INFO, &i.to_string().repeat(100)))
            .collect();
        let (value, unstored) = encode_limited(&signer, &few, 2048, Keep::Oldest);
        assert!(unstored.is_empty());
        let decoded = parse(&signer.unsign(&value.unwrap()).unwrap()).unwrap();
        assert_eq!(decoded.messages.len(), 5);
        assert!(!decoded.not_finished);
        assert_eq!(encode_limited(&signer, &[], 2048, Keep::Oldest).0, None);
    }
}
