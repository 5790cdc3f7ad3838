//! Django's `Argon2PasswordHasher` format: `argon2$` followed by the
//! argon2 reference library's encoding,
//! `argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (salt and hash in base64
//! without padding; hashes from before argon2 1.3 have no `v=`).

use ::argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{HashError, HasherSettings, MAX_ARGON2_MEMORY_COST, mask_hash, salt_is_short};
use crate::crypto::constant_time_eq;

/// Base64 as the argon2 reference library writes it: standard alphabet, no
/// padding; padding and stray trailing bits are accepted when reading.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Bytes of hash output new hashes have (argon2-cffi's
/// `DEFAULT_HASH_LENGTH`, which Django uses).
const HASH_LENGTH: usize = 32;

/// The shortest salt argon2 accepts, in bytes.
const MIN_SALT_LENGTH: usize = 8;

/// The most lanes argon2 allows (2²⁴ − 1).
const MAX_PARALLELISM: u32 = 0x00FF_FFFF;

const ALGORITHM: &str = "argon2";

/// Which cost parameter a problem is about.
pub(super) enum Cost {
    Memory,
    Time,
    Parallelism,
}

/// Whether argon2 runs with these costs; if not, which one is wrong and why.
pub(super) fn check_cost(memory: u32, time: u32, parallelism: u32) -> Result<(), (Cost, String)> {
    if time == 0 {
        return Err((
            Cost::Time,
            "argon2 needs at least one pass over its memory: use 2 or more".to_owned(),
        ));
    }
    if parallelism == 0 || parallelism > MAX_PARALLELISM {
        return Err((
            Cost::Parallelism,
            format!("argon2 takes 1 to {MAX_PARALLELISM} lanes, not {parallelism}"),
        ));
    }
    if u64::from(memory) < 8 * u64::from(parallelism) {
        return Err((
            Cost::Memory,
            format!(
                "{memory} KiB is too little: argon2 needs at least 8 KiB per lane ({} for {parallelism}); OWASP's minimum is 19456",
                8 * u64::from(parallelism)
            ),
        ));
    }
    if memory > MAX_ARGON2_MEMORY_COST {
        return Err((
            Cost::Memory,
            format!(
                "{memory} KiB is more than the {MAX_ARGON2_MEMORY_COST} KiB (4 GiB) a password hash may take (the value is in KiB: 65536 is 64 MiB)"
            ),
        ));
    }
    Ok(())
}

/// A stored argon2 hash, read.
#[derive(Debug)]
pub(super) struct Hash {
    algorithm: Algorithm,
    version: Version,
    memory: u32,
    time: u32,
    parallelism: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn malformed(reason: impl Into<String>) -> HashError {
    HashError::Malformed {
        algorithm: ALGORITHM,
        reason: reason.into(),
    }
}

/// A decimal number of at most ten digits, nothing else (as the reference
/// library reads them).
fn decimal(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Hash {
    /// Reads what follows `argon2$`.
    pub(super) fn parse(rest: &str) -> Result<Self, HashError> {
        let parts: Vec<&str> = rest.split('$').collect();
        let (variety, version, params, salt, hash) = match parts[..] {
            [variety, version, params, salt, hash] => (variety, Some(version), params, salt, hash),
            [variety, params, salt, hash] => (variety, None, params, salt, hash),
            _ => {
                return Err(malformed(
                    "expected argon2$<variety>$v=<version>$m=<memory>,t=<time>,p=<lanes>$<salt>$<hash>",
                ));
            }
        };
        let algorithm = match variety {
            "argon2id" => Algorithm::Argon2id,
            "argon2i" => Algorithm::Argon2i,
            "argon2d" => Algorithm::Argon2d,
            _ => return Err(malformed("the variety is not argon2id, argon2i or argon2d")),
        };
        let version = match version {
            // The reference library's hashes had no version before 1.3.
            None => Version::V0x10,
            Some("v=19") => Version::V0x13,
            Some("v=16") => Version::V0x10,
            Some(_) => return Err(malformed("the version is not v=19 or v=16")),
        };
        let fields: Vec<&str> = params.split(',').collect();
        let cost = |i: usize, key: &str| {
            fields
                .get(i)
                .and_then(|field| field.strip_prefix(key))
                .and_then(decimal)
        };
        let (Some(memory), Some(time), Some(parallelism), 3) =
            (cost(0, "m="), cost(1, "t="), cost(2, "p="), fields.len())
        else {
            return Err(malformed(
                "the parameters are not m=<memory>,t=<time>,p=<lanes> in decimal",
            ));
        };
        check_cost(memory, time, parallelism).map_err(|(_, message)| malformed(message))?;
        let salt = B64
            .decode(salt)
            .map_err(|_| malformed("the salt is not base64"))?;
        if salt.len() < MIN_SALT_LENGTH {
            return Err(malformed(format!(
                "the salt has {} bytes; argon2 needs at least {MIN_SALT_LENGTH}",
                salt.len()
            )));
        }
        let hash = B64
            .decode(hash)
            .map_err(|_| malformed("the hash is not base64"))?;
        if hash.len() < Params::MIN_OUTPUT_LEN {
            return Err(malformed(format!(
                "the hash has {} bytes; argon2 writes at least {}",
                hash.len(),
                Params::MIN_OUTPUT_LEN
            )));
        }
        Ok(Self {
            algorithm,
            version,
            memory,
            time,
            parallelism,
            salt,
            hash,
        })
    }

    pub(super) fn verify(&self, raw: &str) -> bool {
        let mut computed = vec![0; self.hash.len()];
        match hash_into(
            self.algorithm,
            self.version,
            (self.memory, self.time, self.parallelism),
            raw,
            &self.salt,
            &mut computed,
        ) {
            Ok(()) => constant_time_eq(&computed, &self.hash),
            Err(error) => {
                tracing::warn!(target: "manouche::auth", "cannot check an argon2 password: {error}");
                false
            }
        }
    }

    /// Django's `Argon2PasswordHasher.must_update`: any parameter other
    /// than the settings' (variety, version, costs, hash length), or a
    /// short salt.
    pub(super) fn must_update(&self, settings: &HasherSettings) -> bool {
        self.algorithm != Algorithm::Argon2id
            || self.version != Version::V0x13
            || self.memory != settings.memory_cost
            || self.time != settings.time_cost
            || self.parallelism != settings.parallelism
            || self.hash.len() != HASH_LENGTH
            || salt_is_short(self.salt.len())
    }

    /// Django's `Argon2PasswordHasher.safe_summary`.
    pub(super) fn summary(&self) -> Vec<(&'static str, String)> {
        // Django shows the salt as its bytes read as Latin-1.
        let salt: String = self.salt.iter().map(|&b| char::from(b)).collect();
        vec![
            ("algorithm", ALGORITHM.to_owned()),
            ("variety", self.algorithm.as_str().to_owned()),
            ("version", u32::from(self.version).to_string()),
            ("memory cost", self.memory.to_string()),
            ("time cost", self.time.to_string()),
            ("parallelism", self.parallelism.to_string()),
            ("salt", mask_hash(&salt, 6)),
            ("hash", mask_hash(&B64.encode(&self.hash), 6)),
        ]
    }
}

fn hash_into(
    algorithm: Algorithm,
    version: Version,
    (memory, time, parallelism): (u32, u32, u32),
    raw: &str,
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), ::argon2::Error> {
    let params = Params::new(memory, time, parallelism, Some(out.len()))?;
    Argon2::new(algorithm, version, params).hash_password_into(raw.as_bytes(), salt, out)
}

/// A new argon2id hash of `raw` with `salt` (ASCII, as Django's salts are).
pub(super) fn encode(raw: &str, salt: &str, settings: &HasherSettings) -> String {
    let mut hash = [0; HASH_LENGTH];
    hash_into(
        Algorithm::Argon2id,
        Version::V0x13,
        (
            settings.memory_cost,
            settings.time_cost,
            settings.parallelism,
        ),
        raw,
        salt.as_bytes(),
        &mut hash,
    )
    .expect(
        "argon2 hashes any password under 4 GiB with a 22-byte salt and costs HasherSettings checked",
    );
    format!(
        "{ALGORITHM}$argon2id$v=19$m={},t={},p={}${}${}",
        settings.memory_cost,
        settings.time_cost,
        settings.parallelism,
        B64.encode(salt),
        B64.encode(hash)
    )
}
