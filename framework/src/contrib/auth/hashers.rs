//! Password hashing (`django.contrib.auth.hashers`): hashes are stored in
//! Django's own formats, so that a user table moves between a Django site
//! and a Manouche site with its passwords intact.
//!
//! New hashes are argon2id, written as Django's `Argon2PasswordHasher`
//! writes them (`argon2$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), with
//! the cost parameters of [`HasherSettings`]. [`check_password`] also reads
//! the hashes a Django site holds:
//!
//! | algorithm | Django's hasher | note |
//! |---|---|---|
//! | `argon2` | `Argon2PasswordHasher` | any variety (`argon2id`, `argon2i`, `argon2d`), version and parameters |
//! | `pbkdf2_sha256` | `PBKDF2PasswordHasher` | Django's default (1,000,000 iterations in Django 5.2) |
//! | `pbkdf2_sha1` | `PBKDF2SHA1PasswordHasher` | |
//! | `bcrypt_sha256` | `BCryptSHA256PasswordHasher` | bcrypt of the password's SHA-256 |
//! | `bcrypt` | `BCryptPasswordHasher` | plain bcrypt: only a password's first 72 bytes count |
//!
//! Django's `scrypt` and its legacy `md5`, `sha1`, `unsalted_md5`,
//! `unsalted_sha1` and `crypt` hashes are not read: [`check_password`]
//! reports them as [`HashError::UnknownAlgorithm`] (the user resets their
//! password).
//!
//! A check that succeeds on any hash other than argon2id with the current
//! settings says [`Check::must_update`]: the caller then stores
//! [`make_password`] of the password it just checked, so that hashes move
//! to the current algorithm and cost as users log in (Django's
//! `check_password(..., setter)`).
//!
//! ```
//! use manouche::contrib::auth::hashers::{check_password, make_password, HasherSettings};
//!
//! // Cheap parameters for the example; the defaults are the OWASP minimum.
//! let settings = HasherSettings::new(64, 1, 1)?;
//! let stored = make_password("correct horse", &settings);
//! assert!(stored.starts_with("argon2$argon2id$v=19$m=64,t=1,p=1$"));
//!
//! let check = check_password("correct horse", &stored, &settings);
//! assert!(check.matched() && !check.must_update());
//! assert!(!check_password("wrong horse", &stored, &settings).matched());
//!
//! // Stronger settings later: the old hash still matches, and asks to be redone.
//! let stronger = HasherSettings::new(128, 1, 1)?;
//! assert!(check_password("correct horse", &stored, &stronger).must_update());
//! # Ok::<(), manouche::settings::SettingsError>(())
//! ```
//!
//! Hashing is slow on purpose (tens of milliseconds with the default
//! settings, longer for Django's PBKDF2 hashes): an async handler calls
//! these functions through `tokio::task::spawn_blocking`.

mod argon2id;
mod bcrypt;
mod pbkdf2;

use serde::Deserialize;

use crate::crypto::{ALPHANUMERIC, random_string};
use crate::settings::SettingsError;

/// What every unusable password starts with (Django's
/// `UNUSABLE_PASSWORD_PREFIX`); no hash does.
pub const UNUSABLE_PASSWORD_PREFIX: &str = "!";

/// Random characters after [`UNUSABLE_PASSWORD_PREFIX`] in an unusable
/// password (Django's `UNUSABLE_PASSWORD_SUFFIX_LENGTH`).
pub const UNUSABLE_PASSWORD_SUFFIX_LENGTH: usize = 40;

/// The most memory an argon2 hash may take, in KiB (4 GiB): beyond it a
/// typing mistake in the settings, or a corrupt stored hash, would make
/// every login try to allocate more memory than a server has.
pub const MAX_ARGON2_MEMORY_COST: u32 = 4 * 1024 * 1024;

/// Characters in a new salt: 128 bits of entropy from the 62 letters and
/// digits, as Django's `BasePasswordHasher.salt()` (`ceil(128 / log2(62))`).
const SALT_LENGTH: usize = 22;

/// The cost of the argon2id hashes [`make_password`] writes; what a stored
/// hash is compared with to decide [`Check::must_update`].
///
/// The defaults are OWASP's minimum for argon2id: 19 MiB of memory
/// (`argon2_memory_cost = 19456`, in KiB), two passes
/// (`argon2_time_cost = 2`), one lane (`argon2_parallelism = 1`). Django's
/// `Argon2PasswordHasher` uses `m=102400, t=2, p=8`: set those to keep a
/// database shared with a Django site from being rehashed back and forth.
///
/// Deserialized values are checked as [`HasherSettings::new`] checks them:
///
/// ```
/// use manouche::contrib::auth::hashers::HasherSettings;
///
/// let settings: HasherSettings = toml::from_str("argon2_memory_cost = 65536")?;
/// assert_eq!((settings.memory_cost(), settings.time_cost(), settings.parallelism()), (65536, 2, 1));
///
/// let error = toml::from_str::<HasherSettings>("argon2_parallelism = 4\nargon2_memory_cost = 16")
///     .unwrap_err();
/// assert!(error.to_string().contains("at least 8 KiB per lane"));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawHasherSettings")]
pub struct HasherSettings {
    memory_cost: u32,
    time_cost: u32,
    parallelism: u32,
}

/// The settings as written, before [`HasherSettings::new`] checks them.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawHasherSettings {
    argon2_memory_cost: u32,
    argon2_time_cost: u32,
    argon2_parallelism: u32,
}

impl Default for RawHasherSettings {
    fn default() -> Self {
        let d = HasherSettings::default();
        Self {
            argon2_memory_cost: d.memory_cost,
            argon2_time_cost: d.time_cost,
            argon2_parallelism: d.parallelism,
        }
    }
}

impl TryFrom<RawHasherSettings> for HasherSettings {
    type Error = SettingsError;

    fn try_from(raw: RawHasherSettings) -> Result<Self, SettingsError> {
        Self::new(
            raw.argon2_memory_cost,
            raw.argon2_time_cost,
            raw.argon2_parallelism,
        )
    }
}

impl Default for HasherSettings {
    fn default() -> Self {
        Self {
            memory_cost: 19_456,
            time_cost: 2,
            parallelism: 1,
        }
    }
}

impl HasherSettings {
    /// Argon2id with `memory_cost` KiB of memory, `time_cost` passes over
    /// it and `parallelism` lanes.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the setting, when argon2 cannot
    /// run with these values: no pass, no lane or more than 2²⁴ − 1 lanes,
    /// less than 8 KiB per lane, or more than
    /// [`MAX_ARGON2_MEMORY_COST`].
    pub fn new(memory_cost: u32, time_cost: u32, parallelism: u32) -> Result<Self, SettingsError> {
        argon2id::check_cost(memory_cost, time_cost, parallelism).map_err(
            |(setting, message)| SettingsError::Invalid {
                setting: match setting {
                    argon2id::Cost::Memory => "argon2_memory_cost",
                    argon2id::Cost::Time => "argon2_time_cost",
                    argon2id::Cost::Parallelism => "argon2_parallelism",
                },
                message,
            },
        )?;
        Ok(Self {
            memory_cost,
            time_cost,
            parallelism,
        })
    }

    /// Memory per hash, in KiB (`m`).
    #[must_use]
    pub fn memory_cost(&self) -> u32 {
        self.memory_cost
    }

    /// Passes over the memory (`t`).
    #[must_use]
    pub fn time_cost(&self) -> u32 {
        self.time_cost
    }

    /// Lanes (`p`).
    #[must_use]
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }
}

/// Why a stored password could not be checked. [`check_password`] treats
/// it as a wrong password, logs it, and returns it in [`Check::error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The stored value is empty.
    #[error(
        "the stored password is empty: set one with make_password, or mark it unusable with make_unusable_password"
    )]
    Empty,
    /// The stored value does not start with an algorithm name and `$`.
    #[error(
        "the stored password is not a hash in Django's `algorithm$...` form (a plain text or an unsalted legacy hash?): the user must reset their password"
    )]
    NotAHash,
    /// A hash of an algorithm this module does not read.
    #[error(
        "unknown password hashing algorithm `{algorithm}` (Manouche reads argon2, pbkdf2_sha256, pbkdf2_sha1, bcrypt_sha256 and bcrypt hashes): the user must reset their password"
    )]
    UnknownAlgorithm {
        /// The name before the first `$`.
        algorithm: String,
    },
    /// A hash of a known algorithm that cannot be read.
    #[error("malformed {algorithm} password hash: {reason}")]
    Malformed {
        /// The algorithm (`argon2`, `pbkdf2_sha256`, ...).
        algorithm: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// What [`check_password`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Check {
    matched: bool,
    must_update: bool,
    error: Option<HashError>,
}

impl Check {
    fn mismatch(error: Option<HashError>) -> Self {
        Self {
            matched: false,
            must_update: false,
            error,
        }
    }

    /// The password is the one the hash was made from.
    #[must_use]
    pub fn matched(&self) -> bool {
        self.matched
    }

    /// The password matched, and the stored hash should be replaced by
    /// [`make_password`] of it: it is not argon2id, or not with the
    /// current [`HasherSettings`], or its salt is short. Never true when
    /// the password did not match.
    #[must_use]
    pub fn must_update(&self) -> bool {
        self.must_update
    }

    /// Why the stored value could not be checked, when it could not
    /// (an unusable password is not an error).
    #[must_use]
    pub fn error(&self) -> Option<&HashError> {
        self.error.as_ref()
    }
}

/// A stored hash, read.
enum Stored<'a> {
    Argon2(argon2id::Hash),
    Pbkdf2(pbkdf2::Hash<'a>),
    Bcrypt(bcrypt::Hash<'a>),
}

impl<'a> Stored<'a> {
    /// Reads `encoded` (Django's `identify_hasher` followed by `decode`).
    fn parse(encoded: &'a str) -> Result<Self, HashError> {
        if encoded.is_empty() {
            return Err(HashError::Empty);
        }
        let Some((algorithm, rest)) = encoded.split_once('$') else {
            return Err(HashError::NotAHash);
        };
        match algorithm {
            "argon2" => argon2id::Hash::parse(rest).map(Stored::Argon2),
            "pbkdf2_sha256" => {
                pbkdf2::Hash::parse(pbkdf2::Digest::Sha256, rest).map(Stored::Pbkdf2)
            }
            "pbkdf2_sha1" => pbkdf2::Hash::parse(pbkdf2::Digest::Sha1, rest).map(Stored::Pbkdf2),
            "bcrypt_sha256" => bcrypt::Hash::parse(true, rest).map(Stored::Bcrypt),
            "bcrypt" => bcrypt::Hash::parse(false, rest).map(Stored::Bcrypt),
            name if !name.is_empty()
                && name.len() <= 32
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                Err(HashError::UnknownAlgorithm {
                    algorithm: name.to_owned(),
                })
            }
            _ => Err(HashError::NotAHash),
        }
    }

    fn verify(&self, raw: &str) -> bool {
        match self {
            Stored::Argon2(hash) => hash.verify(raw),
            Stored::Pbkdf2(hash) => hash.verify(raw),
            Stored::Bcrypt(hash) => hash.verify(raw),
        }
    }

    fn must_update(&self, settings: &HasherSettings) -> bool {
        match self {
            Stored::Argon2(hash) => hash.must_update(settings),
            // Another algorithm than the one new hashes use.
            Stored::Pbkdf2(_) | Stored::Bcrypt(_) => true,
        }
    }

    fn summary(&self) -> Vec<(&'static str, String)> {
        match self {
            Stored::Argon2(hash) => hash.summary(),
            Stored::Pbkdf2(hash) => hash.summary(),
            Stored::Bcrypt(hash) => hash.summary(),
        }
    }
}

/// A new hash of `raw` for the database: argon2id with `settings` and a
/// random salt, in Django's format
/// (`argon2$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), which Django's
/// `check_password` reads too.
///
/// Any text is a password, the empty one included (the validators in
/// [`validators`](super::validators) say which ones to refuse).
///
/// # Panics
/// If `raw` is 4 GiB or longer (argon2's limit; a request body is far
/// smaller).
#[must_use]
pub fn make_password(raw: &str, settings: &HasherSettings) -> String {
    argon2id::encode(raw, &random_string(SALT_LENGTH, ALPHANUMERIC), settings)
}

/// Whether `raw` is the password `encoded` was made from, and whether the
/// stored hash should be remade with [`make_password`] (Django's
/// `verify_password`).
///
/// The comparison takes the same time wherever the hashes differ. An
/// unusable password (see [`make_unusable_password`]) and a value that
/// cannot be read never match; checking them costs one hash with
/// `settings`, so that they answer in about the time a real check takes.
/// A value that cannot be read is logged (a warning on the
/// `manouche::auth` target) and returned in [`Check::error`]; it never
/// panics.
pub fn check_password(raw: &str, encoded: &str, settings: &HasherSettings) -> Check {
    if !is_password_usable(encoded) {
        run_dummy_hash(raw, settings);
        return Check::mismatch(None);
    }
    let stored = match Stored::parse(encoded) {
        Ok(stored) => stored,
        Err(error) => {
            tracing::warn!(target: "manouche::auth", "cannot check a password: {error}");
            run_dummy_hash(raw, settings);
            return Check::mismatch(Some(error));
        }
    };
    // Django hardens a failed check's time when the hash is of the current
    // algorithm but cheaper; argon2's hardening is a no-op there too.
    if stored.verify(raw) {
        Check {
            matched: true,
            must_update: stored.must_update(settings),
            error: None,
        }
    } else {
        Check::mismatch(None)
    }
}

/// A password no one can log in with (Django's `make_password(None)`):
/// [`UNUSABLE_PASSWORD_PREFIX`] and
/// [`UNUSABLE_PASSWORD_SUFFIX_LENGTH`] random characters, so that two
/// unusable passwords differ.
#[must_use]
pub fn make_unusable_password() -> String {
    UNUSABLE_PASSWORD_PREFIX.to_owned()
        + &random_string(UNUSABLE_PASSWORD_SUFFIX_LENGTH, ALPHANUMERIC)
}

/// False for a password made by [`make_unusable_password`] (any value
/// starting with [`UNUSABLE_PASSWORD_PREFIX`]); true otherwise, even for a
/// value that is no hash at all (Django's `is_password_usable`).
#[must_use]
pub fn is_password_usable(encoded: &str) -> bool {
    !encoded.starts_with(UNUSABLE_PASSWORD_PREFIX)
}

/// Hashes `raw` with `settings` and throws the result away: what a login
/// does for a user name that does not exist, so that it takes as long as
/// a wrong password for one that does (Django's `ModelBackend` calls
/// `set_password` on a new user there), and the answer's timing does not
/// tell which user names exist.
///
/// ```
/// use manouche::contrib::auth::hashers::{run_dummy_hash, HasherSettings};
///
/// # let settings = HasherSettings::new(64, 1, 1)?;
/// # let stored_hash_of = |_: &str| -> Option<String> { None };
/// # let (username, password) = ("nobody", "hunter2");
/// match stored_hash_of(username) {
///     Some(_encoded) => { /* check_password(password, &encoded, &settings) */ }
///     None => run_dummy_hash(password, &settings), // then refuse the login
/// }
/// # Ok::<(), manouche::settings::SettingsError>(())
/// ```
pub fn run_dummy_hash(raw: &str, settings: &HasherSettings) {
    std::hint::black_box(make_password(std::hint::black_box(raw), settings));
}

/// The parts of a stored hash that are safe to show (Django's
/// `safe_summary`, shown on the user's admin page): the algorithm and its
/// parameters, with the salt and the hash masked after their first
/// characters.
///
/// ```
/// use manouche::contrib::auth::hashers::safe_summary;
///
/// let summary = safe_summary("pbkdf2_sha256$1000000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=")?;
/// assert_eq!(summary[0], ("algorithm", "pbkdf2_sha256".to_owned()));
/// assert_eq!(summary[1], ("iterations", "1000000".to_owned()));
/// assert_eq!(summary[2], ("salt", "seasal*".to_owned()));
/// # Ok::<(), manouche::contrib::auth::hashers::HashError>(())
/// ```
///
/// # Errors
/// The [`HashError`] saying why `encoded` cannot be read (an unusable
/// password is [`HashError::NotAHash`]).
pub fn safe_summary(encoded: &str) -> Result<Vec<(&'static str, String)>, HashError> {
    Stored::parse(encoded).map(|stored| stored.summary())
}

/// Django's `mask_hash`: the first `show` characters, then one `*` per
/// character.
fn mask_hash(hash: &str, show: usize) -> String {
    hash.chars()
        .enumerate()
        .map(|(i, c)| if i < show { c } else { '*' })
        .collect()
}

/// Whether a salt of `chars` characters has less entropy than new salts
/// (Django's `must_update_salt`: `len(salt) * log2(62) < 128`).
fn salt_is_short(chars: usize) -> bool {
    chars < SALT_LENGTH
}

#[cfg(test)]
mod tests;
