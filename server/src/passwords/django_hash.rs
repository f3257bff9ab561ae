//! Password hashes written by Django's hashers, kept by `jwt-allauth import django` and
//! verified until the user's first successful login re-hashes the password to argon2id.
//!
//! Django stores `<algorithm>$<fields>`; the formats understood here are those of
//! `django.contrib.auth.hashers` (Django 4.2 to 5.2):
//!
//! - `pbkdf2_sha256$<iterations>$<salt>$<base64 of the 32-byte PBKDF2-HMAC-SHA256>`
//!   (Django's default), computed with the RustCrypto `pbkdf2` crate;
//! - `argon2$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>`: a PHC string behind the
//!   `argon2` prefix, verified as the server's own argon2 hashes are;
//! - `bcrypt_sha256$$2b$<cost>$...`: bcrypt of the lowercase hexadecimal SHA-256 of the
//!   password (Django's `BCryptSHA256PasswordHasher`), and `bcrypt$$2b$...`, bcrypt of the
//!   password itself, with the `bcrypt` crate.
//!
//! A string starting with `!` is Django's unusable password (an account made through a
//! social login): it is kept and never matches. Anything else is not a Django hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The most PBKDF2 iterations a stored hash may ask for: 10 times Django 5.2's 1,000,000.
/// More is a row tampered with, which would otherwise make one login burn the CPU.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// The highest bcrypt cost a stored hash may ask for (Django's default is 12; each step
/// doubles the work).
pub const MAX_BCRYPT_COST: u32 = 16;

/// A password hash in one of the Django formats this server verifies.
#[derive(Clone, PartialEq, Eq)]
pub enum DjangoHash<'a> {
    /// `pbkdf2_sha256$<iterations>$<salt>$<hash>`.
    Pbkdf2Sha256 {
        /// PBKDF2 iterations.
        iterations: u32,
        /// The salt, used as its UTF-8 bytes (as Django does).
        salt: &'a str,
        /// The 32-byte derived key.
        hash: Vec<u8>,
    },
    /// `argon2$<PHC string without its leading $>`: the PHC string, `$` restored.
    Argon2 {
        /// The PHC string (`$argon2id$v=19$...`).
        phc: String,
    },
    /// `bcrypt_sha256$<bcrypt hash>` (`sha256` true) or `bcrypt$<bcrypt hash>`.
    Bcrypt {
        /// Whether the password is pre-hashed with SHA-256 (as lowercase hex).
        sha256: bool,
        /// The bcrypt string (`$2b$12$...`).
        hash: &'a str,
    },
    /// Django's unusable password (`!` followed by anything): never matches.
    Unusable,
}

// Hashes are secrets: never printed.
impl std::fmt::Debug for DjangoHash<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            DjangoHash::Pbkdf2Sha256 { .. } => "Pbkdf2Sha256",
            DjangoHash::Argon2 { .. } => "Argon2",
            DjangoHash::Bcrypt { sha256: true, .. } => "BcryptSha256",
            DjangoHash::Bcrypt { sha256: false, .. } => "Bcrypt",
            DjangoHash::Unusable => "Unusable",
        };
        f.write_str(name)
    }
}

/// Why a stored string is not a usable Django hash. The messages never contain the hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DjangoHashError {
    /// The algorithm before the first `$` is not one this server verifies.
    #[error("unsupported Django password hasher {0:?}")]
    Unsupported(String),
    /// The fields after the algorithm do not have the hasher's format.
    #[error("malformed {0} password hash")]
    Malformed(&'static str),
    /// The hash asks for more work than any real Django hash (see
    /// [`MAX_PBKDF2_ITERATIONS`], [`MAX_BCRYPT_COST`]).
    #[error("{0} password hash asks for too much work")]
    TooCostly(&'static str),
}

impl<'a> DjangoHash<'a> {
    /// Parses a Django-format hash. `None` when `stored` does not look like one at all
    /// (an argon2 PHC string of this server's, say), else the hash or why it cannot be
    /// used.
    pub fn parse(stored: &'a str) -> Option<Result<Self, DjangoHashError>> {
        if stored.starts_with('!') {
            return Some(Ok(DjangoHash::Unusable));
        }
        let (algorithm, rest) = stored.split_once('$')?;
        if algorithm.is_empty() {
            return None;
        }
        Some(match algorithm {
            "pbkdf2_sha256" => parse_pbkdf2(rest),
            "argon2" => parse_argon2(rest),
            "bcrypt_sha256" => parse_bcrypt(rest, true),
            "bcrypt" => parse_bcrypt(rest, false),
            other => Err(DjangoHashError::Unsupported(
                other.chars().take(32).collect(),
            )),
        })
    }

    /// Whether `password` matches, in constant time for PBKDF2 (bcrypt and argon2
    /// compare in constant time themselves). `argon2` verifies argon2 PHC strings.
    pub fn matches(&self, password: &str, argon2: impl FnOnce(&str) -> bool) -> bool {
        match self {
            DjangoHash::Pbkdf2Sha256 {
                iterations,
                salt,
                hash,
            } => {
                let mut derived = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(
                    password.as_bytes(),
                    salt.as_bytes(),
                    *iterations,
                    &mut derived,
                );
                derived.ct_eq(hash.as_slice()).into()
            }
            DjangoHash::Argon2 { phc } => argon2(phc),
            DjangoHash::Bcrypt { sha256, hash } => {
                let verified = if *sha256 {
                    let digest = hex::encode(Sha256::digest(password.as_bytes()));
                    bcrypt::verify(digest.as_bytes(), hash)
                } else {
                    bcrypt::verify(password.as_bytes(), hash)
                };
                verified.unwrap_or(false)
            }
            DjangoHash::Unusable => false,
        }
    }
}

fn parse_pbkdf2(rest: &str) -> Result<DjangoHash<'_>, DjangoHashError> {
    const NAME: &str = "pbkdf2_sha256";
    let malformed = DjangoHashError::Malformed(NAME);
    let mut fields = rest.split('$');
    let (Some(iterations), Some(salt), Some(hash), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed);
    };
    let iterations: u32 = iterations.parse().map_err(|_| malformed.clone())?;
    if iterations == 0 || salt.is_empty() {
        return Err(malformed);
    }
    if iterations > MAX_PBKDF2_ITERATIONS {
        return Err(DjangoHashError::TooCostly(NAME));
    }
    let hash = STANDARD.decode(hash).map_err(|_| malformed.clone())?;
    if hash.len() != 32 {
        return Err(malformed);
    }
    Ok(DjangoHash::Pbkdf2Sha256 {
        iterations,
        salt,
        hash,
    })
}

fn parse_argon2(rest: &str) -> Result<DjangoHash<'_>, DjangoHashError> {
    // Django writes `argon2$argon2id$v=19$m=..,t=..,p=..$salt$hash`: the PHC string with
    // its leading `$` replaced by the hasher's name.
    let phc = format!("${rest}");
    match argon2::password_hash::phc::PasswordHash::new(&phc) {
        Ok(parsed) if parsed.hash.is_some() && parsed.salt.is_some() => {
            Ok(DjangoHash::Argon2 { phc })
        }
        _ => Err(DjangoHashError::Malformed("argon2")),
    }
}

fn parse_bcrypt(rest: &str, sha256: bool) -> Result<DjangoHash<'_>, DjangoHashError> {
    let name = if sha256 { "bcrypt_sha256" } else { "bcrypt" };
    // `$2b$12$` + 53 characters of salt and hash.
    let mut fields = rest.split('$');
    let (Some(""), Some(version), Some(cost), Some(salt_and_hash), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(DjangoHashError::Malformed(name));
    };
    let cost: u32 = cost.parse().map_err(|_| DjangoHashError::Malformed(name))?;
    if !matches!(version, "2a" | "2b" | "2x" | "2y") || salt_and_hash.len() != 53 || cost < 4 {
        return Err(DjangoHashError::Malformed(name));
    }
    if cost > MAX_BCRYPT_COST {
        return Err(DjangoHashError::TooCostly(name));
    }
    Ok(DjangoHash::Bcrypt { sha256, hash: rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Django 5.2's `make_password("alice-django-pbkdf2", hasher="pbkdf2_sha256")`
    /// (`PBKDF2PasswordHasher().encode(password, "fixturesalt", 1000)`: the fixture's have a million, too slow for a unit test).
    const PBKDF2: &str =
        "pbkdf2_sha256$1000$fixturesalt$rGy+qxxDuxz3hzeu0LsVlKYtJR9VmwrBawEFwJutcbk=";

    #[test]
    fn pbkdf2_sha256_matches_only_its_password() {
        let Some(Ok(hash)) = DjangoHash::parse(PBKDF2) else {
            panic!("parses");
        };
        assert!(hash.matches("alice-django-pbkdf2", |_| false));
        assert!(!hash.matches("alice-django-pbkdf3", |_| false));
    }

    #[test]
    fn bcrypt_sha256_prehashes_as_hex() {
        let inner = bcrypt::hash(hex::encode(Sha256::digest(b"pw")), 4).expect("bcrypt");
        let stored = format!("bcrypt_sha256${inner}");
        let Some(Ok(hash)) = DjangoHash::parse(&stored) else {
            panic!("parses");
        };
        assert!(hash.matches("pw", |_| false));
        assert!(!hash.matches("pW", |_| false));
    }

    #[test]
    fn malformed_and_foreign_strings_are_told_apart() {
        assert!(DjangoHash::parse("$argon2id$v=19$m=19456,t=2,p=1$a$b").is_none());
        assert!(DjangoHash::parse("").is_none());
        assert_eq!(
            DjangoHash::parse("!unusable")
                .map(|parsed| parsed.map(|hash| hash.matches("", |_| true))),
            Some(Ok(false))
        );
        for (stored, error) in [
            (
                "pbkdf2_sha256$many$salt$hash",
                DjangoHashError::Malformed("pbkdf2_sha256"),
            ),
            (
                "pbkdf2_sha256$1000$salt",
                DjangoHashError::Malformed("pbkdf2_sha256"),
            ),
            (
                "pbkdf2_sha256$4294967295$salt$AAAA",
                DjangoHashError::TooCostly("pbkdf2_sha256"),
            ),
            (
                "bcrypt_sha256$$2b$31$abc",
                DjangoHashError::Malformed("bcrypt_sha256"),
            ),
            ("argon2$nonsense", DjangoHashError::Malformed("argon2")),
            ("md5$salt$hash", DjangoHashError::Unsupported("md5".into())),
        ] {
            assert_eq!(DjangoHash::parse(stored), Some(Err(error)), "{stored}");
        }
    }
}
