//! Password validation (Django's `django.contrib.auth.password_validation`
//! with the four validators of its default `AUTH_PASSWORD_VALIDATORS`):
//! what the forms that set a password check before hashing it.
//!
//! In Django's order, a password is refused when it is
//! 1. too similar to the user's user name, first name, last name or email
//!    address (`UserAttributeSimilarityValidator`),
//! 2. shorter than [`ValidatorSettings::min_length`] characters
//!    (`MinimumLengthValidator`),
//! 3. one of about 20,000 common passwords (`CommonPasswordValidator`,
//!    with Django's list),
//! 4. made of digits only (`NumericPasswordValidator`).
//!
//! The messages are Django's, word for word.
//!
//! ```
//! use manouche::contrib::auth::validators::{validate_password, UserAttributes, ValidatorSettings};
//!
//! let settings = ValidatorSettings::default();
//! let user = UserAttributes { username: "testclient", email: "testclient@example.com", ..Default::default() };
//! assert_eq!(validate_password("a-safe-password", &user, &settings), Ok(()));
//! assert_eq!(
//!     validate_password("testclient", &user, &settings),
//!     Err(vec!["The password is too similar to the username.".to_owned()])
//! );
//! assert_eq!(
//!     validate_password("1234567", &user, &settings),
//!     Err(vec![
//!         "This password is too short. It must contain at least 8 characters.".to_owned(),
//!         "This password is too common.".to_owned(),
//!         "This password is entirely numeric.".to_owned(),
//!     ])
//! );
//! ```
//!
//! Two small departures: Django's “word character” (`\w`, which splits an
//! attribute into parts) and “digit” (`str.isdigit`) come from Python's
//! Unicode tables, these from Rust's (`char::is_alphanumeric`,
//! `char::is_numeric`); they differ only on combining marks and on
//! numerals that are not digits (`½`, `Ⅻ`), which Rust counts as numeric.

use std::collections::HashSet;
use std::io::Read;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::settings::SettingsError;

/// Which checks [`validate_password`] makes (Django's
/// `AUTH_PASSWORD_VALIDATORS`, as four settings).
///
/// | key | default | turns off with |
/// |---|---|---|
/// | `min_length` | `8` | `0` |
/// | `common` | `true` | `false` |
/// | `numeric` | `true` | `false` |
/// | `user_attribute_similarity` | `0.7` | `0` |
///
/// `user_attribute_similarity` is Django's `max_similarity`: from 0.1 (a
/// password may share little with the user's names) to 1.0 (only a
/// password made of an attribute's very characters is refused).
///
/// ```
/// use manouche::contrib::auth::validators::ValidatorSettings;
///
/// let settings: ValidatorSettings = toml::from_str("min_length = 12\nuser_attribute_similarity = 0")?;
/// assert_eq!(settings.min_length(), 12);
/// assert_eq!(settings.user_attribute_similarity(), None);
///
/// let error = toml::from_str::<ValidatorSettings>("user_attribute_similarity = 0.05").unwrap_err();
/// assert!(error.to_string().contains("at least 0.1"));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawValidatorSettings")]
pub struct ValidatorSettings {
    min_length: usize,
    common: bool,
    numeric: bool,
    user_attribute_similarity: Option<f64>,
}

/// The settings as written, before they are checked.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawValidatorSettings {
    min_length: usize,
    common: bool,
    numeric: bool,
    user_attribute_similarity: f64,
}

impl Default for RawValidatorSettings {
    fn default() -> Self {
        Self {
            min_length: DEFAULT_MIN_LENGTH,
            common: true,
            numeric: true,
            user_attribute_similarity: DEFAULT_MAX_SIMILARITY,
        }
    }
}

impl TryFrom<RawValidatorSettings> for ValidatorSettings {
    type Error = SettingsError;

    fn try_from(raw: RawValidatorSettings) -> Result<Self, SettingsError> {
        Self::default()
            .with_min_length(raw.min_length)
            .with_common(raw.common)
            .with_numeric(raw.numeric)
            .with_user_attribute_similarity(Some(raw.user_attribute_similarity))
    }
}

const DEFAULT_MIN_LENGTH: usize = 8;
const DEFAULT_MAX_SIMILARITY: f64 = 0.7;

impl Default for ValidatorSettings {
    fn default() -> Self {
        Self {
            min_length: DEFAULT_MIN_LENGTH,
            common: true,
            numeric: true,
            user_attribute_similarity: Some(DEFAULT_MAX_SIMILARITY),
        }
    }
}

impl ValidatorSettings {
    /// No check at all: every password passes.
    #[must_use]
    pub fn none() -> Self {
        Self {
            min_length: 0,
            common: false,
            numeric: false,
            user_attribute_similarity: None,
        }
    }

    /// Passwords need at least `min_length` characters (0: any length).
    #[must_use]
    pub fn with_min_length(mut self, min_length: usize) -> Self {
        self.min_length = min_length;
        self
    }

    /// Whether common passwords are refused.
    #[must_use]
    pub fn with_common(mut self, common: bool) -> Self {
        self.common = common;
        self
    }

    /// Whether passwords made of digits only are refused.
    #[must_use]
    pub fn with_numeric(mut self, numeric: bool) -> Self {
        self.numeric = numeric;
        self
    }

    /// The similarity to a user attribute from which a password is
    /// refused; `None` or `Some(0.0)` turns the check off.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] for a value that is not 0 or between 0.1
    /// and 1 (Django refuses less than 0.1; above 1 nothing would ever be
    /// refused).
    pub fn with_user_attribute_similarity(
        mut self,
        max_similarity: Option<f64>,
    ) -> Result<Self, SettingsError> {
        self.user_attribute_similarity = match max_similarity {
            None => None,
            Some(0.0) => None,
            Some(v) if (0.1..=1.0).contains(&v) => Some(v),
            Some(v) => {
                return Err(SettingsError::Invalid {
                    setting: "user_attribute_similarity",
                    message: format!(
                        "{v} is out of range: it must be at least 0.1 and at most 1 (0.7 is Django's default), or 0 to turn the check off"
                    ),
                });
            }
        };
        Ok(self)
    }

    /// The shortest password allowed, in characters (0: no minimum).
    #[must_use]
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// Whether common passwords are refused.
    #[must_use]
    pub fn common(&self) -> bool {
        self.common
    }

    /// Whether passwords made of digits only are refused.
    #[must_use]
    pub fn numeric(&self) -> bool {
        self.numeric
    }

    /// The similarity from which a password is refused, when that check
    /// is on.
    #[must_use]
    pub fn user_attribute_similarity(&self) -> Option<f64> {
        self.user_attribute_similarity
    }
}

/// What a password is compared with: the user's fields (Django's
/// `UserAttributeSimilarityValidator.DEFAULT_USER_ATTRIBUTES`). An empty
/// one is skipped; all empty (`UserAttributes::default()`) is Django's
/// `user=None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserAttributes<'a> {
    /// The user name.
    pub username: &'a str,
    /// The email address.
    pub email: &'a str,
    /// The first name.
    pub first_name: &'a str,
    /// The last name.
    pub last_name: &'a str,
}

impl<'a> UserAttributes<'a> {
    /// The attributes in Django's order, with their fields' verbose names.
    fn in_order(&self) -> [(&'a str, &'static str); 4] {
        [
            (self.username, "username"),
            (self.first_name, "first name"),
            (self.last_name, "last name"),
            (self.email, "email address"),
        ]
    }
}

/// Checks `password` as `settings` say, against `user`'s attributes.
///
/// # Errors
/// Every check's message, in Django's order (similarity, length, common,
/// numeric), when one fails: shown to the user under the password field.
pub fn validate_password(
    password: &str,
    user: &UserAttributes<'_>,
    settings: &ValidatorSettings,
) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    if let Some(verbose_name) = settings
        .user_attribute_similarity
        .and_then(|max_similarity| too_similar(password, user, max_similarity))
    {
        errors.push(format!(
            "The password is too similar to the {verbose_name}."
        ));
    }
    let min_length = settings.min_length;
    if password.chars().count() < min_length {
        errors.push(format!(
            "This password is too short. It must contain at least {min_length} {}.",
            characters(min_length)
        ));
    }
    if settings.common && is_common(password) {
        errors.push("This password is too common.".to_owned());
    }
    // Python's `str.isdigit` is false for the empty string.
    if settings.numeric && !password.is_empty() && password.chars().all(char::is_numeric) {
        errors.push("This password is entirely numeric.".to_owned());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What each enabled check asks for, in Django's words and order (shown
/// under a password field before the user types).
#[must_use]
pub fn help_texts(settings: &ValidatorSettings) -> Vec<String> {
    let mut texts = Vec::new();
    if settings.user_attribute_similarity.is_some() {
        texts.push(
            "Your password can’t be too similar to your other personal information.".to_owned(),
        );
    }
    if settings.min_length > 0 {
        let n = settings.min_length;
        texts.push(format!(
            "Your password must contain at least {n} {}.",
            characters(n)
        ));
    }
    if settings.common {
        texts.push("Your password can’t be a commonly used password.".to_owned());
    }
    if settings.numeric {
        texts.push("Your password can’t be entirely numeric.".to_owned());
    }
    texts
}

/// Django's `ngettext("... %d character.", "... %d characters.", n)`.
fn characters(n: usize) -> &'static str {
    if n == 1 { "character" } else { "characters" }
}

/// The verbose name of the first attribute `password` is too similar to
/// (Django's `UserAttributeSimilarityValidator.validate`).
fn too_similar(
    password: &str,
    user: &UserAttributes<'_>,
    max_similarity: f64,
) -> Option<&'static str> {
    let password: Vec<char> = password.to_lowercase().chars().collect();
    user.in_order()
        .into_iter()
        .filter(|(value, _)| !value.is_empty())
        .find_map(|(value, verbose_name)| {
            let value = value.to_lowercase();
            let similar = split_non_word(&value)
                .into_iter()
                .chain([value.as_str()])
                .any(|part| {
                    let part: Vec<char> = part.chars().collect();
                    !exceeds_maximum_length_ratio(&password, max_similarity, &part)
                        && quick_ratio(&password, &part) >= max_similarity
                });
            similar.then_some(verbose_name)
        })
}

/// Python's `re.split(r"\W+", text)`: the parts between runs of non-word
/// characters, with an empty part first or last when `text` starts or ends
/// with one.
fn split_non_word(text: &str) -> Vec<&str> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut parts = Vec::new();
    let mut start = Some(0);
    for (i, c) in text.char_indices() {
        match (is_word(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                parts.push(&text[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    parts.push(start.map_or("", |s| &text[s..]));
    parts
}

/// Django's `exceeds_maximum_length_ratio`: a value so much shorter than
/// the password that their similarity cannot reach `max_similarity`, so
/// it is not computed.
fn exceeds_maximum_length_ratio(password: &[char], max_similarity: f64, value: &[char]) -> bool {
    let (password_len, value_len) = (password.len(), value.len());
    let length_bound_similarity = max_similarity / 2.0 * password_len as f64;
    password_len >= 10 * value_len && (value_len as f64) < length_bound_similarity
}

/// Python's `difflib.SequenceMatcher(a=a, b=b).quick_ratio()`: twice the
/// number of characters the two have in common (counted with
/// multiplicity, in any order) over their total length; 1 for two empty
/// sequences.
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let mut available: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for &c in b {
        *available.entry(c).or_default() += 1;
    }
    let mut matches = 0_usize;
    for c in a {
        if let Some(n) = available.get_mut(c).filter(|n| **n > 0) {
            *n -= 1;
            matches += 1;
        }
    }
    let length = a.len() + b.len();
    if length == 0 {
        1.0
    } else {
        2.0 * matches as f64 / length as f64
    }
}

/// Django's list of common passwords (`common-passwords.txt.gz`, BSD
/// licence: see `common-passwords.LICENSE` beside it), decompressed the
/// first time a password is checked.
static COMMON_PASSWORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut text = String::new();
    flate2::read::GzDecoder::new(&include_bytes!("common-passwords.txt.gz")[..])
        .read_to_string(&mut text)
        .expect("the common-password list built into the crate is gzipped UTF-8");
    text.lines().map(|line| line.trim().to_owned()).collect()
});

/// Whether `password`, lowercased and trimmed, is on Django's list
/// (Django's `CommonPasswordValidator`).
fn is_common(password: &str) -> bool {
    // Python's `str.strip()` also strips the separators U+001C to U+001F.
    let lower = password.to_lowercase();
    let trimmed =
        lower.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    COMMON_PASSWORDS.contains(trimmed)
}

#[cfg(test)]
mod tests;
