//! Password-reset tokens (Django's `PasswordResetTokenGenerator`), byte
//! for byte: a token made here checks in Django and the other way round,
//! given the same secret key, user state and time.
//!
//! A token is `<timestamp>-<hash>`: the seconds since 2001-01-01 in base
//! 36, then 32 hex digits of an HMAC-SHA256 (keyed with the project's
//! `secret_key`) over the user's primary key, password hash, last login,
//! the timestamp and e-mail address. Nothing is stored: the link carries
//! the token and the user's id ([`encode_uid`]), and checking recomputes
//! the hash from the user as the database has it now.
//!
//! **Single use.** Setting a new password changes the password hash (a new
//! salt even for the same password), and logging in changes `last_login`;
//! either makes every token issued before it fail. A token also fails
//! after the timeout (3 days by default, Django's
//! `PASSWORD_RESET_TIMEOUT`), when the e-mail address changes, when the
//! secret key changes (unless the old key is given as a fallback), and
//! when its time is ahead of the clock.
//!
//! ```
//! use chrono::NaiveDate;
//! use manouche::contrib::auth::tokens::{decode_uid, encode_uid, PasswordResetTokenGenerator, TokenState};
//!
//! let mut user = TokenState {
//!     pk: "42".into(),
//!     password: "argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
//!     last_login: None,
//!     email: "ana@example.com".into(),
//! };
//! let now = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap().and_hms_opt(3, 4, 5).unwrap();
//! let generator = PasswordResetTokenGenerator::new("the project's secret_key")
//!     .with_clock(move || now);
//!
//! // The link: /reset/<uidb64>/<token>/
//! let uidb64 = encode_uid(&user.pk);
//! let token = generator.make_token(&user);
//! assert_eq!(decode_uid(&uidb64).unwrap(), "42");
//! assert!(generator.check_token(&user, &token));
//!
//! // Once the password is changed, the link is dead.
//! user.password = "argon2$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3aGFzaA".into();
//! assert!(!generator.check_token(&user, &token));
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use chrono::{NaiveDate, NaiveDateTime};

use crate::crypto::{constant_time_eq, hex, salted_hmac};

/// Django's `PASSWORD_RESET_TIMEOUT`: three days.
pub const PASSWORD_RESET_TIMEOUT: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// The salt of the token's HMAC: Django's, so that tokens match.
const KEY_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";

/// The longest base-36 timestamp accepted (any `u64` fits), as Django's
/// `base36_to_int`: a longer one is refused before any work.
const MAX_TIMESTAMP_DIGITS: usize = 13;

/// What a token depends on: the state of the user that resetting the
/// password changes. The auth app's user implements it; [`TokenState`] is
/// a plain one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be given a password-reset token",
    note = "implement `manouche::contrib::auth::tokens::TokenUser` for it (primary key, password hash, last login, e-mail), or build a `TokenState`"
)]
pub trait TokenUser {
    /// The primary key as text, as Python's `str(user.pk)` writes it
    /// (`42`, or a UUID with dashes).
    fn token_pk(&self) -> String;

    /// The stored password hash.
    fn password_hash(&self) -> &str;

    /// The last login in UTC, if the user ever logged in. Microseconds
    /// are ignored (some databases do not keep them).
    fn last_login(&self) -> Option<NaiveDateTime>;

    /// The e-mail address, empty when the user has none.
    fn email(&self) -> &str;
}

/// A user's token-relevant state, for code that has no user model at hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenState {
    /// The primary key as text.
    pub pk: String,
    /// The password hash.
    pub password: String,
    /// The last login (UTC), if any.
    pub last_login: Option<NaiveDateTime>,
    /// The e-mail address, or empty.
    pub email: String,
}

impl TokenUser for TokenState {
    fn token_pk(&self) -> String {
        self.pk.clone()
    }

    fn password_hash(&self) -> &str {
        &self.password
    }

    fn last_login(&self) -> Option<NaiveDateTime> {
        self.last_login
    }

    fn email(&self) -> &str {
        &self.email
    }
}

impl<T: TokenUser + ?Sized> TokenUser for &T {
    fn token_pk(&self) -> String {
        (**self).token_pk()
    }

    fn password_hash(&self) -> &str {
        (**self).password_hash()
    }

    fn last_login(&self) -> Option<NaiveDateTime> {
        (**self).last_login()
    }

    fn email(&self) -> &str {
        (**self).email()
    }
}

type Clock = Arc<dyn Fn() -> NaiveDateTime + Send + Sync>;

/// Makes and checks password-reset tokens (Django's
/// `PasswordResetTokenGenerator`).
#[derive(Clone)]
pub struct PasswordResetTokenGenerator {
    secret: String,
    fallbacks: Vec<String>,
    timeout: Duration,
    clock: Clock,
}

impl fmt::Debug for PasswordResetTokenGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordResetTokenGenerator")
            .field("fallbacks", &self.fallbacks.len())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PasswordResetTokenGenerator {
    /// A generator keyed with `secret` (the project's `secret_key`), with
    /// a three-day timeout and the system clock (UTC).
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
            fallbacks: Vec::new(),
            timeout: PASSWORD_RESET_TIMEOUT,
            clock: Arc::new(|| chrono::Utc::now().naive_utc()),
        }
    }

    /// A generator keyed with the project's `secret_key`.
    pub fn from_settings(settings: &crate::Settings) -> Self {
        Self::new(settings.secret_key.clone())
    }

    /// Also accepts tokens made with these older keys (Django's
    /// `SECRET_KEY_FALLBACKS`, while rotating the key); new tokens use the
    /// current one.
    #[must_use]
    pub fn with_fallbacks<S: Into<String>>(mut self, secrets: impl IntoIterator<Item = S>) -> Self {
        self.fallbacks = secrets.into_iter().map(Into::into).collect();
        self
    }

    /// How long a token stays valid (whole seconds count).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where "now" comes from (a fixed time in tests). Django takes the
    /// server's local time; this generator takes UTC unless told otherwise,
    /// so a project checking tokens made by a Django site should give
    /// Django `TIME_ZONE = "UTC"` or a clock in that time zone here.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> NaiveDateTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A token for `user`, valid until its password or last login changes,
    /// or the timeout passes.
    #[must_use]
    pub fn make_token(&self, user: &impl TokenUser) -> String {
        // A clock before 2001 gives timestamp 0: such a token never checks
        // under that clock (its time is ahead of it).
        let timestamp = u64::try_from(seconds_since_2001((self.clock)())).unwrap_or(0);
        self.make_token_with_timestamp(user, timestamp, &self.secret)
    }

    /// Whether `token` is a valid, unexpired token for `user`. Anything
    /// malformed is `false`, never a panic; the hashes are compared in
    /// constant time.
    #[must_use]
    pub fn check_token(&self, user: &impl TokenUser, token: &str) -> bool {
        let Some((ts_b36, hash)) = token.split_once('-') else {
            return false;
        };
        if hash.contains('-') {
            return false;
        }
        let Some(timestamp) = base36_to_u64(ts_b36) else {
            return false;
        };
        // Every secret is tried (no early exit on a match would leak which
        // key signed the token; Django stops at the first, too).
        let matched =
            std::iter::once(&self.secret)
                .chain(&self.fallbacks)
                .fold(false, |found, secret| {
                    let expected = self.make_token_with_timestamp(user, timestamp, secret);
                    constant_time_eq(expected.as_bytes(), token.as_bytes()) | found
                });
        if !matched {
            return false;
        }
        let now = seconds_since_2001((self.clock)());
        let Ok(timestamp) = i64::try_from(timestamp) else {
            return false;
        };
        if timestamp > now {
            // Made in the future: only a wrong clock does that.
            return false;
        }
        u64::try_from(now - timestamp).is_ok_and(|age| age <= self.timeout.as_secs())
    }

    /// Django's `_make_token_with_timestamp`.
    fn make_token_with_timestamp(
        &self,
        user: &impl TokenUser,
        timestamp: u64,
        secret: &str,
    ) -> String {
        let digest = hex(&salted_hmac(
            KEY_SALT,
            hash_value(user, timestamp).as_bytes(),
            secret,
        ));
        // Every other hex digit, to keep the link short.
        let short: String = digest.chars().step_by(2).collect();
        format!("{}-{short}", u64_to_base36(timestamp))
    }
}

/// Django's `_make_hash_value`: what the token covers.
fn hash_value(user: &impl TokenUser, timestamp: u64) -> String {
    // Python's str() of a naive datetime without microseconds.
    let login = user
        .last_login()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    format!(
        "{}{}{login}{timestamp}{}",
        user.token_pk(),
        user.password_hash(),
        user.email()
    )
}

/// Whole seconds from 2001-01-01 to `at` (towards zero, as Python's
/// `int(timedelta.total_seconds())`).
fn seconds_since_2001(at: NaiveDateTime) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(2001, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("2001-01-01 is a date");
    (at - epoch).num_seconds()
}

/// Django's `int_to_base36`.
fn u64_to_base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[usize::try_from(n % 36).expect("a digit")]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

/// Django's `base36_to_int`, for the canonical lowercase form only (any
/// other form could not match a token made here anyway).
fn base36_to_u64(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > MAX_TIMESTAMP_DIGITS {
        return None;
    }
    text.bytes().try_fold(0_u64, |n, c| {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'z' => c - b'a' + 10,
            _ => return None,
        };
        n.checked_mul(36)?.checked_add(u64::from(digit))
    })
}

/// Why a `uidb64` from a link cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not URL-safe base64.
    #[error("{0:?} is not URL-safe base64")]
    Base64(String),
    /// Base64 of something that is not UTF-8 text.
    #[error("{0:?} does not hold a user id (not UTF-8)")]
    NotText(String),
}

/// Django's `urlsafe_base64_encode`: URL-safe base64 without padding.
#[must_use]
pub fn urlsafe_base64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Django's `urlsafe_base64_decode`: padding optional.
///
/// # Errors
/// [`TokenError::Base64`] for anything that is not URL-safe base64.
pub fn urlsafe_base64_decode(text: &str) -> Result<Vec<u8>, TokenError> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT
        .decode(text)
        .map_err(|_| TokenError::Base64(text.to_owned()))
}

/// The `uidb64` of a reset link: the primary key's text in URL-safe
/// base64 (Django's `urlsafe_base64_encode(force_bytes(user.pk))`).
#[must_use]
pub fn encode_uid(pk: impl fmt::Display) -> String {
    urlsafe_base64_encode(pk.to_string().as_bytes())
}

/// The primary key's text from a `uidb64`; the view then looks the user
/// up, and answers "invalid link" when this fails or no user has it.
///
/// # Errors
/// [`TokenError`] when it is not base64 of UTF-8 text.
pub fn decode_uid(uidb64: &str) -> Result<String, TokenError> {
    String::from_utf8(urlsafe_base64_decode(uidb64)?)
        .map_err(|_| TokenError::NotText(uidb64.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secret the reference tokens below were made with.
    const SECRET: &str = "manouche-cross-check-secret-0123456789abcdefghijklmnop";

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32, micro: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_micro_opt(h, min, s, micro)
            .unwrap()
    }

    fn users() -> [TokenState; 3] {
        [
            TokenState {
                pk: "1".into(),
                password: "argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                last_login: None,
                email: "ana@example.com".into(),
            },
            TokenState {
                pk: "0b6e4f8e-3c1a-4d5b-9a7e-2f1c3b4d5e6f".into(),
                password: "pbkdf2_sha256$1000000$salt$hash=".into(),
                // Microseconds are dropped, as Django does.
                last_login: Some(at(2026, 5, 4, 3, 2, 1, 123_456)),
                email: String::new(),
            },
            TokenState {
                pk: "42".into(),
                password: String::new(),
                last_login: Some(at(2001, 1, 1, 0, 0, 0, 0)),
                email: "zoë@exämple.com".into(),
            },
        ]
    }

    fn fixed(now: NaiveDateTime) -> PasswordResetTokenGenerator {
        PasswordResetTokenGenerator::new(SECRET).with_clock(move || now)
    }

    #[test]
    fn tokens_match_django_s() {
        // Django 5.2: PasswordResetTokenGenerator()._make_token_with_timestamp(
        //     user, ts, SECRET) for these users and timestamps.
        let expected: [[&str; 4]; 3] = [
            [
                "0-148a393429f16dc156f49b3014ecac34",
                "z-2fd4db83cf43b4a7436f8f74a247983b",
                "csti80-ac09997908a6388d54de4455baee49be",
                "e13wu1og-b58474aee07be93745f6b70262d5dd77",
            ],
            [
                "0-a04565ca2d1682c0207ce48d187e9a5b",
                "z-26b50857ae318c809b6302f23274e623",
                "csti80-d1f1a7d9d54178387b2221861b87be15",
                "e13wu1og-b61808c13b78d1883f1a8b5bf363a239",
            ],
            [
                "0-48e7c8e12951cec6660a2e6c9275a080",
                "z-6e2ccac6871e328091c24a2c271ccca3",
                "csti80-c16338721ea29fb1ee58177d8d8d0083",
                "e13wu1og-f63d4ad404f49180e5b122905e49543f",
            ],
        ];
        let generator = PasswordResetTokenGenerator::new(SECRET);
        for (user, tokens) in users().iter().zip(expected) {
            for (timestamp, token) in [0, 35, 774_000_000, 1 << 40].into_iter().zip(tokens) {
                assert_eq!(
                    generator.make_token_with_timestamp(user, timestamp, SECRET),
                    token,
                    "{} at {timestamp}",
                    user.pk
                );
            }
        }
        // Another secret, another token.
        assert_eq!(
            generator.make_token_with_timestamp(&users()[0], 774_000_000, "another-secret"),
            "csti80-e17b57000c2f62dc1e044072d02dee72"
        );
    }

    #[test]
    fn make_token_uses_the_clock_as_django_does() {
        // Django: _num_seconds(datetime(2026, 1, 2, 3, 4, 5, 999999)) is
        // 789015845 and make_token gives this.
        let now = at(2026, 1, 2, 3, 4, 5, 999_999);
        assert_eq!(seconds_since_2001(now), 789_015_845);
        let token = fixed(now).make_token(&users()[0]);
        assert_eq!(token, "d1rcit-4f3a93c193c932bc860e87648525484c");
        assert!(fixed(now).check_token(&users()[0], &token));
    }

    #[test]
    fn a_token_lasts_the_timeout_and_no_longer() {
        // Django's test_timeout.
        let user = &users()[0];
        let now = at(2026, 1, 2, 3, 4, 5, 0);
        let token = fixed(now).make_token(user);
        let later = |seconds: i64| now + chrono::TimeDelta::seconds(seconds);
        assert!(fixed(later(259_200)).check_token(user, &token));
        assert!(!fixed(later(259_201)).check_token(user, &token));
        let hour = Duration::from_secs(3600);
        assert!(
            fixed(later(3600))
                .with_timeout(hour)
                .check_token(user, &token)
        );
        assert!(
            !fixed(later(3601))
                .with_timeout(hour)
                .check_token(user, &token)
        );
        // From the future: refused.
        assert!(!fixed(later(-1)).check_token(user, &token));
        // Before 2001 the clock makes timestamp 0, which it then refuses.
        let past = fixed(at(1999, 1, 1, 0, 0, 0, 0));
        let token = past.make_token(user);
        assert!(token.starts_with("0-"));
        assert!(!past.check_token(user, &token));
    }

    #[test]
    fn changing_the_password_last_login_or_email_invalidates() {
        // Django's test_token_with_different_email and the single-use rule.
        let now = at(2026, 1, 2, 3, 4, 5, 0);
        let generator = fixed(now);
        let user = users()[1].clone();
        let token = generator.make_token(&user);
        assert!(generator.check_token(&user, &token));
        // The same state read back from a database without microseconds.
        let mut reloaded = user.clone();
        reloaded.last_login = Some(at(2026, 5, 4, 3, 2, 1, 0));
        assert!(generator.check_token(&reloaded, &token));
        let mut changed = user.clone();
        changed.password = "pbkdf2_sha256$1000000$other$hash=".into();
        assert!(!generator.check_token(&changed, &token));
        let mut logged_in = user.clone();
        logged_in.last_login = Some(at(2026, 5, 4, 3, 2, 2, 0));
        assert!(!generator.check_token(&logged_in, &token));
        let mut never = user.clone();
        never.last_login = None;
        assert!(!generator.check_token(&never, &token));
        let mut moved = user.clone();
        moved.email = "new@example.com".into();
        assert!(!generator.check_token(&moved, &token));
        let mut other = user;
        other.pk = "0b6e4f8e-3c1a-4d5b-9a7e-2f1c3b4d5e70".into();
        assert!(!generator.check_token(&other, &token));
    }

    #[test]
    fn secrets_and_fallbacks() {
        // Django's test_token_with_different_secret and
        // test_check_token_secret_fallbacks.
        let now = at(2026, 1, 2, 3, 4, 5, 0);
        let user = &users()[0];
        let old = PasswordResetTokenGenerator::new("old-secret").with_clock(move || now);
        let new = PasswordResetTokenGenerator::new("new-secret").with_clock(move || now);
        let old_token = old.make_token(user);
        assert!(!new.check_token(user, &old_token));
        assert!(!old.check_token(user, &new.make_token(user)));
        let rotating = new.clone().with_fallbacks(["old-secret"]);
        assert!(rotating.check_token(user, &old_token));
        assert_eq!(
            rotating.make_token(user),
            new.make_token(user),
            "new tokens use the new key"
        );
        let settings = crate::Settings::default();
        assert_eq!(
            PasswordResetTokenGenerator::from_settings(&settings)
                .with_clock(move || now)
                .make_token(user),
            PasswordResetTokenGenerator::new(settings.secret_key.clone())
                .with_clock(move || now)
                .make_token(user)
        );
    }

    #[test]
    fn malformed_tokens_are_false_not_panics() {
        let now = at(2026, 1, 2, 3, 4, 5, 0);
        let generator = fixed(now);
        let user = &users()[0];
        let token = generator.make_token(user);
        let (ts, hash) = token.split_once('-').unwrap();
        for bad in [
            String::new(),
            "-".into(),
            ts.to_owned(),
            format!("{ts}-"),
            format!("-{hash}"),
            format!("{ts}-{hash}-"),
            format!("{ts}-{hash}-{hash}"),
            format!("{}-{hash}", ts.to_uppercase()),
            format!("0{ts}-{hash}"),
            format!("{ts}-{}", hash.to_uppercase()),
            format!("{ts}-{}", &hash[1..]),
            format!("{ts}-{hash}0"),
            format!("{}-{hash}", "z".repeat(14)),
            format!("{}-{hash}", "z".repeat(13)),
            format!("{ts}\u{e9}-{hash}"),
            format!("+{ts}-{hash}"),
            "not a token at all".into(),
        ] {
            assert!(!generator.check_token(user, &bad), "{bad:?}");
        }
        assert!(generator.check_token(user, &token));
    }

    #[test]
    fn base36_round_trips_like_django() {
        assert_eq!(u64_to_base36(774_000_000), "csti80");
        assert_eq!(u64_to_base36(u64::MAX), "3w5e11264sgsf");
        assert_eq!(u64_to_base36(0), "0");
        assert_eq!(base36_to_u64("3w5e11264sgsf"), Some(u64::MAX));
        assert_eq!(base36_to_u64("3w5e11264sgsg"), None, "overflow");
        assert_eq!(base36_to_u64(""), None);
    }

    #[test]
    fn uidb64_is_django_s_urlsafe_base64() {
        // Django's urlsafe_base64_encode of these bytes.
        for (bytes, encoded) in [
            (&b"1"[..], "MQ"),
            (b"42", "NDI"),
            (
                b"0b6e4f8e-3c1a-4d5b-9a7e-2f1c3b4d5e6f",
                "MGI2ZTRmOGUtM2MxYS00ZDViLTlhN2UtMmYxYzNiNGQ1ZTZm",
            ),
            (b"ab", "YWI"),
            (b"abc", "YWJj"),
            ("zoë".as_bytes(), "em_Dqw"),
        ] {
            assert_eq!(urlsafe_base64_encode(bytes), encoded);
            assert_eq!(urlsafe_base64_decode(encoded).unwrap(), bytes);
        }
        assert_eq!(encode_uid(42), "NDI");
        assert_eq!(decode_uid("NDI").unwrap(), "42");
        assert_eq!(decode_uid("NDI=").unwrap(), "42", "padding is optional");
        assert_eq!(decode_uid("em_Dqw").unwrap(), "zoë");
        for bad in ["N", "NDI!", "ND I", "em/Dqw"] {
            assert!(
                matches!(decode_uid(bad), Err(TokenError::Base64(_))),
                "{bad}"
            );
        }
        let err = decode_uid(&urlsafe_base64_encode(&[0xff, 0xfe])).unwrap_err();
        assert!(matches!(err, TokenError::NotText(_)));
        assert!(err.to_string().contains("not UTF-8"));
    }
}
