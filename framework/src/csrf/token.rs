//! Secrets and masked tokens, as Django makes them (so that cookies and
//! tokens pass between a Manouche site and a Django one).
//!
//! The secret is 32 letters and digits, kept in the cookie. A page gets the
//! secret *masked*: 32 random characters (the mask), then the secret with
//! each character shifted by the mask's character at the same place, in
//! the 62-letter alphabet. Every page gets a different token for the same
//! secret, so that a compression side channel (BREACH) cannot recover it.

use crate::crypto::{ALPHANUMERIC, random_string};

/// Length of a secret (Django's `CSRF_SECRET_LENGTH`).
pub(crate) const SECRET_LENGTH: usize = 32;
/// Length of a masked token (Django's `CSRF_TOKEN_LENGTH`).
pub(crate) const TOKEN_LENGTH: usize = 2 * SECRET_LENGTH;

/// A secret: 32 characters of [`ALPHANUMERIC`].
pub(crate) type Secret = [u8; SECRET_LENGTH];

/// Why a cookie or a token was refused before comparing it; the words
/// complete Django's sentences ("CSRF cookie has incorrect length.").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadFormat {
    Length,
    Characters,
}

impl BadFormat {
    pub(crate) fn phrase(self) -> &'static str {
        match self {
            Self::Length => "has incorrect length",
            Self::Characters => "has invalid characters",
        }
    }
}

/// A cookie or token that has the right form: a bare secret or a masked one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked<'a> {
    Secret(&'a [u8; SECRET_LENGTH]),
    Masked(&'a [u8; TOKEN_LENGTH]),
}

impl Checked<'_> {
    /// The secret it stands for.
    pub(crate) fn secret(self) -> Secret {
        match self {
            Self::Secret(secret) => *secret,
            Self::Masked(token) => unmask(token),
        }
    }
}

/// Django's `_check_token_format`: 32 or 64 characters, all letters and
/// digits. `chars` is the length in characters (a form field may hold
/// non-ASCII text, which Django counts per character).
pub(crate) fn check_format(value: &[u8], chars: usize) -> Result<Checked<'_>, BadFormat> {
    if chars != SECRET_LENGTH && chars != TOKEN_LENGTH {
        return Err(BadFormat::Length);
    }
    if !value.iter().all(u8::is_ascii_alphanumeric) {
        return Err(BadFormat::Characters);
    }
    // All ASCII, so bytes and characters agree.
    if let Ok(secret) = <&[u8; SECRET_LENGTH]>::try_from(value) {
        return Ok(Checked::Secret(secret));
    }
    let token = <&[u8; TOKEN_LENGTH]>::try_from(value).map_err(|_| BadFormat::Length)?;
    Ok(Checked::Masked(token))
}

/// A new random secret.
pub(crate) fn new_secret() -> Secret {
    let text = random_string(SECRET_LENGTH, ALPHANUMERIC);
    let mut secret = [0u8; SECRET_LENGTH];
    secret.copy_from_slice(text.as_bytes());
    secret
}

/// `secret` masked with a new random mask (Django's `_mask_cipher_secret`).
pub(crate) fn mask(secret: &Secret) -> String {
    let mask = new_secret();
    let token = mask_with(secret, &mask);
    String::from_utf8(token.to_vec()).expect("the alphabet is ASCII")
}

/// `secret` masked with `mask`: the mask, then each secret character
/// shifted by the mask's.
pub(crate) fn mask_with(secret: &Secret, mask: &Secret) -> [u8; TOKEN_LENGTH] {
    let mut token = [0u8; TOKEN_LENGTH];
    token[..SECRET_LENGTH].copy_from_slice(mask);
    for (out, (&s, &m)) in token[SECRET_LENGTH..]
        .iter_mut()
        .zip(secret.iter().zip(mask))
    {
        *out = ALPHANUMERIC[(index(s) + index(m)) % ALPHANUMERIC.len()];
    }
    token
}

/// The secret a masked token stands for (Django's `_unmask_cipher_token`).
pub(crate) fn unmask(token: &[u8; TOKEN_LENGTH]) -> Secret {
    let (mask, cipher) = token.split_at(SECRET_LENGTH);
    let mut secret = [0u8; SECRET_LENGTH];
    let n = ALPHANUMERIC.len();
    for (out, (&c, &m)) in secret.iter_mut().zip(cipher.iter().zip(mask)) {
        *out = ALPHANUMERIC[(index(c) + n - index(m)) % n];
    }
    secret
}

/// Whether `token` (checked) stands for `secret`, compared in constant time
/// (Django's `_does_token_match`).
pub(crate) fn matches(token: Checked<'_>, secret: &Secret) -> bool {
    crate::crypto::constant_time_eq(&token.secret(), secret)
}

/// The place of an alphanumeric character in [`ALPHANUMERIC`]
/// (`a`–`z`, `A`–`Z`, `0`–`9`).
fn index(c: u8) -> usize {
    usize::from(match c {
        b'a'..=b'z' => c - b'a',
        b'A'..=b'Z' => c - b'A' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        // Callers pass checked values only; masking the alphabet's first
        // letter keeps the result in the alphabet all the same.
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> Secret {
        text.as_bytes().try_into().unwrap()
    }

    fn token(text: &str) -> [u8; TOKEN_LENGTH] {
        text.as_bytes().try_into().unwrap()
    }

    /// Django's test secret and masked forms (csrf_tests), and values
    /// computed with Django 5.2's `_mask_cipher_secret` (with its random
    /// mask fixed) and `_unmask_cipher_token`.
    const DJANGO_MASKED: &[(&str, &str, &str)] = &[
        (
            "lcccccccX2kcccccccY2jcccccccssIC",
            "1bcdefghij2bcdefghij3bcdefghij4b",
            "1bcdefghij2bcdefghij3bcdefghij4bcdefghij5bcdefghij6bcdefghijABCD",
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "vFioG3XOLyGyGsPRFyB9iYUs341ufzIE",
            "vFioG3XOLyGyGsPRFyB9iYUs341ufzIEvFioG3XOLyGyGsPRFyB9iYUs341ufzIE",
        ),
        (
            "da4SrUiHJYoJ0HYQ0vcgisoIuFOxx4ER",
            "Z9z9Z9z9Z9z9Z9z9Z9z9Z9z9Z9z9Z9z9",
            "Z9z9Z9z9Z9z9Z9z9Z9z9Z9z9Z9z9Z9z929tRgTHGyXNIPGnPPuBf7rNHjEdwm33Q",
        ),
        (
            "0123456789ABCDEFGHIJKLMNOPQRSTUV",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzpqrstuvwxyZ0123456789abcdefghijk",
        ),
    ];

    #[test]
    fn masking_matches_django() {
        for (plain, mask, expected) in DJANGO_MASKED {
            let masked = mask_with(&secret(plain), &secret(mask));
            assert_eq!(std::str::from_utf8(&masked).unwrap(), *expected);
            assert_eq!(unmask(&masked), secret(plain));
        }
    }

    #[test]
    fn unmasking_matches_django() {
        for (masked, plain) in [
            (
                "2JgchWvM1tpxT2lfz9aydoXW9yT1DN3NdLiejYxOOlzzV4nhBbYqmqZYbAV3V5Bf",
                "lcccccccX2kcccccccY2jcccccccssIC",
            ),
            (
                "9999999999999999999999999999999999999999999999999999999999999999",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ),
            (
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa99999999999999999999999999999999",
                "99999999999999999999999999999999",
            ),
        ] {
            assert_eq!(unmask(&token(masked)), secret(plain), "{masked}");
        }
        // Django's own cases (csrf_tests.test_unmask_cipher_token).
        let a = "a".repeat(32);
        assert_eq!(unmask(&token(&"a".repeat(64))), secret(&a));
        assert_eq!(unmask(&token(&"b".repeat(64))), secret(&a));
        assert_eq!(
            unmask(&token(&format!("{}{}", "a".repeat(32), "b".repeat(32)))),
            secret(&"b".repeat(32))
        );
        assert_eq!(
            unmask(&token(&format!("{}{}", "b".repeat(32), "c".repeat(32)))),
            secret(&"b".repeat(32))
        );
    }

    #[test]
    fn new_tokens_are_masked_differently_and_unmask_to_the_secret() {
        let s = new_secret();
        assert!(s.iter().all(u8::is_ascii_alphanumeric));
        let (one, two) = (mask(&s), mask(&s));
        assert_ne!(one, two, "a new mask per token");
        for t in [&one, &two] {
            assert_eq!(t.len(), TOKEN_LENGTH);
            let checked = check_format(t.as_bytes(), t.len()).unwrap();
            assert!(matches(checked, &s));
            assert!(!matches(checked, &new_secret()));
        }
        // The bare secret is accepted too.
        assert!(matches(check_format(&s, 32).unwrap(), &s));
    }

    #[test]
    fn format_checks_say_what_is_wrong() {
        assert_eq!(check_format(b"", 0), Err(BadFormat::Length));
        assert_eq!(check_format(&[b'a'; 16], 16), Err(BadFormat::Length));
        assert_eq!(check_format(&[b'a'; 33], 33), Err(BadFormat::Length));
        assert_eq!(check_format(&[b'*'; 64], 64), Err(BadFormat::Characters));
        assert_eq!(check_format(&[b'*'; 32], 32), Err(BadFormat::Characters));
        // 32 characters, one of them two bytes long: Django counts
        // characters, so this is a bad character, not a bad length.
        let text = format!("é{}", "a".repeat(31));
        assert_eq!(
            check_format(text.as_bytes(), text.chars().count()),
            Err(BadFormat::Characters)
        );
        assert!(matches!(
            check_format(&[b'a'; 32], 32),
            Ok(Checked::Secret(_))
        ));
        assert!(matches!(
            check_format(&[b'a'; 64], 64),
            Ok(Checked::Masked(_))
        ));
    }
}
