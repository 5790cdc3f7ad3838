//! The few cryptographic primitives the web layer shares (Django's
//! `django.utils.crypto`): random strings from a cryptographically secure
//! generator seeded by the operating system, constant-time comparison, and keyed hashes derived from the
//! project's `secret_key`.
//!
//! Sessions, CSRF tokens, password-reset tokens and the session's
//! authentication hash are all built on these, so that each is written (and
//! reviewed) once.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};

/// Letters and digits: what [`random_string`] draws from by default (the
/// alphabet of Django's `get_random_string`).
pub const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `length` characters drawn uniformly from `alphabet` (unpredictable: fit
/// for secrets and tokens).
///
/// The generator is rand's thread-local one: ChaCha12, seeded from the
/// operating system and reseeded from it as it goes, a cryptographically
/// secure generator. Drawing from the operating system for each character
/// (`OsRng`) cost one `getrandom` system call per character: 64 for each
/// page with a CSRF token on it.
///
/// # Panics
/// If `alphabet` is empty or not ASCII (a programming error).
#[must_use]
pub fn random_string(length: usize, alphabet: &[u8]) -> String {
    assert!(
        !alphabet.is_empty() && alphabet.is_ascii(),
        "random_string needs a non-empty ASCII alphabet"
    );
    let mut rng = rand::thread_rng();
    (0..length)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

/// Whether `a` and `b` are equal, in a time that depends only on their
/// lengths (never on where they first differ).
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// HMAC-SHA256 of `value` under a key derived from `key_salt` and
/// `secret` (Django's `salted_hmac(..., algorithm="sha256")`, byte for
/// byte): a different salt per use keeps one use's hashes from being valid
/// in another.
#[must_use]
pub fn salted_hmac(key_salt: &str, value: &[u8], secret: &str) -> [u8; 32] {
    let key = Sha256::new()
        .chain_update(key_salt.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// Lowercase hexadecimal of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    // A table, not `write!("{b:02x}")`: that went through the formatting
    // machinery twice per byte (8,000 instructions for the 32 bytes of the
    // session hash checked on every logged-in request).
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_use_the_alphabet_and_differ() {
        let a = random_string(32, ALPHANUMERIC);
        let b = random_string(32, ALPHANUMERIC);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| ALPHANUMERIC.contains(&c)));
        assert_ne!(a, b);
        assert_eq!(random_string(5, b"x"), "xxxxx");
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn salted_hmac_matches_django() {
        // Django 5: salted_hmac("salt", "value", secret="secret",
        // algorithm="sha256").hexdigest()
        assert_eq!(
            hex(&salted_hmac("salt", b"value", "secret")),
            "debaddcd9ecbaab181289870baf8af49b0af0a7050d620d1a63f1e69bd87ceb8"
        );
    }
}
