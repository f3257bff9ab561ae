//! The key rings the token targets verify with, and the keys that sign their input.
//!
//! The secrets and the Ed25519 pair are the test suite's (`crates/jwt-allauth/tests`),
//! so that tokens in the seed corpora can be made with the same material.

use jsonwebtoken::{DecodingKey, EncodingKey};
use jwt_allauth::keys::{Algorithm, KeyRing, SigningKey, VerifyingKey};
use jwt_allauth::{Settings, TokenCodec};
use time::OffsetDateTime;

/// The HS256 secret of the test suite.
pub const SECRET: &[u8] = b"test secret of thirty-two bytes or more!";
/// The previous HS256 secret of the rotation ring (`kid` "2025").
pub const OLD_SECRET: &[u8] = b"the old secret, thirty-two bytes long";
/// The Ed25519 private key of the test suite.
pub const ED_PRIVATE: &str = include_str!("../../crates/jwt-allauth/tests/keys/ed-private.pem");
/// The Ed25519 public key of the test suite.
pub const ED_PUBLIC: &str = include_str!("../../crates/jwt-allauth/tests/keys/ed-public.pem");
/// The `iss` the rotation ring requires.
pub const ISSUER: &str = "https://issuer.example";
/// The `aud` the rotation ring requires.
pub const AUDIENCE: &str = "api";

/// The fixed time every token is checked at (2027-01-15): seed tokens expire in 2030.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A key of the reference model: what `jsonwebtoken::decode` is tried with.
pub struct ModelKey {
    /// The only algorithm the key accepts.
    pub algorithm: jsonwebtoken::Algorithm,
    /// The key's `kid`, if it has one.
    pub key_id: Option<&'static str>,
    /// The verifying key.
    pub key: DecodingKey,
}

/// A codec under test, with the settings it was built from and the same keys for the
/// reference model.
pub struct Ring {
    /// What the ring is, for assertion messages.
    pub name: &'static str,
    /// The settings of the codec (leeway, issuer, audience, session check).
    pub settings: Settings,
    /// The key ring under test.
    pub keys: KeyRing,
    /// The codec under test.
    pub codec: TokenCodec,
    /// The same keys for `jsonwebtoken::decode`.
    pub model: Vec<ModelKey>,
}

impl Ring {
    fn new(name: &'static str, settings: Settings, keys: KeyRing, model: Vec<ModelKey>) -> Self {
        let codec = TokenCodec::new(keys.clone(), &settings);
        Self {
            name,
            settings,
            keys,
            codec,
            model,
        }
    }
}

/// HS256 with the test secret and the default settings.
pub fn hs256() -> Ring {
    let keys = KeyRing::hmac(Algorithm::HS256, SECRET).expect("the HS256 test ring builds");
    Ring::new(
        "hs256",
        Settings::default(),
        keys,
        vec![ModelKey {
            algorithm: jsonwebtoken::Algorithm::HS256,
            key_id: None,
            key: DecodingKey::from_secret(SECRET),
        }],
    )
}

/// A key rotation: the test secret signs with `kid` "2026", the old secret verifies with
/// `kid` "2025"; `iss` and `aud` are required.
pub fn rotation() -> Ring {
    let keys = KeyRing::new(
        SigningKey::hmac(Algorithm::HS256, SECRET)
            .expect("the HS256 test key builds")
            .with_key_id("2026"),
        VerifyingKey::hmac(Algorithm::HS256, SECRET).expect("the HS256 test key builds"),
    )
    .and_then(|ring| {
        ring.with_verifying_key(
            VerifyingKey::hmac(Algorithm::HS256, OLD_SECRET)
                .expect("the old HS256 key builds")
                .with_key_id("2025"),
        )
    })
    .expect("the rotation ring builds");
    let mut settings = Settings::default();
    settings.issuer = Some(ISSUER.to_owned());
    settings.audience = Some(AUDIENCE.to_owned());
    Ring::new(
        "rotation",
        settings,
        keys,
        vec![
            ModelKey {
                algorithm: jsonwebtoken::Algorithm::HS256,
                key_id: Some("2026"),
                key: DecodingKey::from_secret(SECRET),
            },
            ModelKey {
                algorithm: jsonwebtoken::Algorithm::HS256,
                key_id: Some("2025"),
                key: DecodingKey::from_secret(OLD_SECRET),
            },
        ],
    )
}

/// EdDSA with the test key pair and the default settings.
pub fn eddsa() -> Ring {
    let keys = KeyRing::from_pem(
        Algorithm::EdDSA,
        ED_PRIVATE.as_bytes(),
        ED_PUBLIC.as_bytes(),
    )
    .expect("the EdDSA test ring builds");
    Ring::new(
        "eddsa",
        Settings::default(),
        keys,
        vec![ModelKey {
            algorithm: jsonwebtoken::Algorithm::EdDSA,
            key_id: None,
            key: DecodingKey::from_ed_pem(ED_PUBLIC.as_bytes()).expect("the EdDSA key parses"),
        }],
    )
}

/// Every ring under test.
pub fn all() -> Vec<Ring> {
    vec![hs256(), rotation(), eddsa()]
}

/// The keys that sign fuzzed headers and payloads: each ring's keys, so that a token can
/// pass signature verification whatever header the fuzzer wrote.
pub fn signers() -> Vec<(EncodingKey, jsonwebtoken::Algorithm)> {
    vec![
        (
            EncodingKey::from_secret(SECRET),
            jsonwebtoken::Algorithm::HS256,
        ),
        (
            EncodingKey::from_secret(OLD_SECRET),
            jsonwebtoken::Algorithm::HS256,
        ),
        (
            EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).expect("the EdDSA key parses"),
            jsonwebtoken::Algorithm::EdDSA,
        ),
    ]
}
