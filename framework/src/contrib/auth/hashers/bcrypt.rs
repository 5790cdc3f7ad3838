//! Django's `BCryptSHA256PasswordHasher` and `BCryptPasswordHasher`:
//! `bcrypt_sha256$$2b$12$<22-character salt><31-character hash>`, that is
//! the algorithm's name, `$`, and a modular-crypt bcrypt hash. The SHA-256
//! variant hashes the lowercase hex of the password's SHA-256 (so long
//! passwords are not cut); plain bcrypt hashes the password itself, of
//! which only the first 72 bytes count.

use sha2::{Digest, Sha256};

use super::{HashError, mask_hash};
use crate::crypto::hex;

/// The alphabet of bcrypt's base64.
fn is_bcrypt_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'/'
}

/// A stored bcrypt hash, read.
#[derive(Debug)]
pub(super) struct Hash<'a> {
    sha256: bool,
    cost: u32,
    /// The modular-crypt hash: `$2b$12$...` (60 characters).
    crypt: &'a str,
}

impl<'a> Hash<'a> {
    /// Reads what follows `bcrypt_sha256$` (or `bcrypt$`).
    pub(super) fn parse(sha256: bool, crypt: &'a str) -> Result<Self, HashError> {
        let malformed = |reason: &str| HashError::Malformed {
            algorithm: if sha256 { "bcrypt_sha256" } else { "bcrypt" },
            reason: reason.to_owned(),
        };
        let bytes = crypt.as_bytes();
        if !crypt.is_ascii()
            || bytes.len() != 60
            || bytes[0] != b'$'
            || bytes[3] != b'$'
            || bytes[6] != b'$'
        {
            return Err(malformed(
                "expected $2b$<cost>$ and 53 characters of salt and hash",
            ));
        }
        if !matches!(&bytes[1..3], b"2a" | b"2b" | b"2y") {
            return Err(malformed("the bcrypt version is not 2a, 2b or 2y"));
        }
        let cost = Some(&crypt[4..6])
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u32>().ok())
            .filter(|c| (4..=31).contains(c))
            .ok_or_else(|| malformed("the cost is not a number from 04 to 31"))?;
        if !bytes[7..].iter().all(|&b| is_bcrypt_base64(b)) {
            return Err(malformed("the salt and hash are not bcrypt's base64"));
        }
        Ok(Self {
            sha256,
            cost,
            crypt,
        })
    }

    pub(super) fn verify(&self, raw: &str) -> bool {
        let result = if self.sha256 {
            ::bcrypt::verify(hex(&Sha256::digest(raw.as_bytes())), self.crypt)
        } else {
            ::bcrypt::verify(raw.as_bytes(), self.crypt)
        };
        result.unwrap_or_else(|error| {
            // Its message would quote the hash: only say what kind it is.
            let kind = match error {
                ::bcrypt::BcryptError::InvalidBase64(_) => {
                    "the salt or hash is not canonical base64"
                }
                _ => "bcrypt cannot read it",
            };
            tracing::warn!(target: "manouche::auth", "cannot check a bcrypt password: {kind}");
            false
        })
    }

    /// Django's `BCryptSHA256PasswordHasher.safe_summary`.
    pub(super) fn summary(&self) -> Vec<(&'static str, String)> {
        let algorithm = if self.sha256 {
            "bcrypt_sha256"
        } else {
            "bcrypt"
        };
        vec![
            ("algorithm", algorithm.to_owned()),
            ("work factor", self.cost.to_string()),
            ("salt", mask_hash(&self.crypt[7..29], 6)),
            ("checksum", mask_hash(&self.crypt[29..], 6)),
        ]
    }
}
