//! Django's `PBKDF2PasswordHasher` and `PBKDF2SHA1PasswordHasher`:
//! `pbkdf2_sha256$<iterations>$<salt>$<hash>`, the hash being the
//! standard, padded base64 of PBKDF2-HMAC over the password's and the
//! salt's UTF-8 bytes, as long as the digest. PBKDF2 is ring's, whose
//! code (unlike the generic RustCrypto crates') is optimised in debug
//! builds too: a million rounds take a fraction of a second there.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{HashError, mask_hash};
use crate::crypto::constant_time_eq;

/// The HMAC's hash function.
#[derive(Debug, Clone, Copy)]
pub(super) enum Digest {
    Sha256,
    Sha1,
}

impl Digest {
    fn algorithm(self) -> &'static str {
        match self {
            Digest::Sha256 => "pbkdf2_sha256",
            Digest::Sha1 => "pbkdf2_sha1",
        }
    }

    /// Bytes of output (Django's `dklen=None`: the digest's size).
    fn len(self) -> usize {
        match self {
            Digest::Sha256 => 32,
            Digest::Sha1 => 20,
        }
    }
}

/// A stored PBKDF2 hash, read.
#[derive(Debug)]
pub(super) struct Hash<'a> {
    digest: Digest,
    iterations: u32,
    salt: &'a str,
    hash: &'a str,
}

impl<'a> Hash<'a> {
    /// Reads what follows `pbkdf2_sha256$` (or `pbkdf2_sha1$`).
    pub(super) fn parse(digest: Digest, rest: &'a str) -> Result<Self, HashError> {
        let malformed = |reason: &str| HashError::Malformed {
            algorithm: digest.algorithm(),
            reason: reason.to_owned(),
        };
        let mut parts = rest.splitn(3, '$');
        let (Some(iterations), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("expected <algorithm>$<iterations>$<salt>$<hash>"));
        };
        let iterations = Some(iterations)
            // Django writes the count in decimal and compares the whole text.
            .filter(|i| {
                !i.starts_with('0') && !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit())
            })
            .and_then(|i| i.parse::<u32>().ok())
            .filter(|&i| i > 0)
            .ok_or_else(|| malformed("the iteration count is not a number from 1 to 4294967295"))?;
        if salt.is_empty() {
            return Err(malformed("the salt is empty"));
        }
        // Django compares the base64 text; a hash that is not the base64 of
        // a digest would never match, and says so here.
        if STANDARD
            .decode(hash)
            .map_or(true, |bytes| bytes.len() != digest.len())
        {
            return Err(malformed(&format!(
                "the hash is not the base64 of {} bytes",
                digest.len()
            )));
        }
        Ok(Self {
            digest,
            iterations,
            salt,
            hash,
        })
    }

    pub(super) fn verify(&self, raw: &str) -> bool {
        let algorithm = match self.digest {
            Digest::Sha256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
            Digest::Sha1 => ring::pbkdf2::PBKDF2_HMAC_SHA1,
        };
        let iterations =
            std::num::NonZeroU32::new(self.iterations).expect("parse refuses 0 iterations");
        let mut out = [0; 32];
        let out = &mut out[..self.digest.len()];
        ring::pbkdf2::derive(
            algorithm,
            iterations,
            self.salt.as_bytes(),
            raw.as_bytes(),
            out,
        );
        // Django compares the base64 text.
        constant_time_eq(STANDARD.encode(out).as_bytes(), self.hash.as_bytes())
    }

    /// Django's `PBKDF2PasswordHasher.safe_summary`.
    pub(super) fn summary(&self) -> Vec<(&'static str, String)> {
        vec![
            ("algorithm", self.digest.algorithm().to_owned()),
            ("iterations", self.iterations.to_string()),
            ("salt", mask_hash(self.salt, 6)),
            ("hash", mask_hash(self.hash, 6)),
        ]
    }
}
