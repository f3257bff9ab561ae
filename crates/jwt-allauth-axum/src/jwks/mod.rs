//! Verify-only services reading the issuer's keys from its JWKS URL (the `jwks` feature).
//!
//! A [`RemoteKeySet`] fetches a JSON Web Key Set once when it is built, keeps the keys in
//! a [`TokenCodec`](jwt_allauth::TokenCodec) that only verifies, and replaces that
//! codec's ring ([`TokenCodec::replace_keys`](jwt_allauth::TokenCodec::replace_keys)):
//!
//! - **in the background**, after the `max-age` of the last answer's `Cache-Control`,
//!   clamped to [`RemoteKeySetBuilder::refresh_bounds`] (60 s to 24 h by default; 5 min
//!   when the answer has no `max-age`), or [`RemoteKeySetBuilder::retry_after_failure`]
//!   (30 s) after a failed fetch;
//! - **when a token names an unknown `kid`** (the issuer may have published a new key):
//!   at most one fetch per [`RemoteKeySetBuilder::unknown_key_interval`] (30 s by
//!   default), shared by every request that waits for it (single flight), after which
//!   the token is verified once more. A flood of tokens with forged `kid`s therefore
//!   costs at most one fetch per interval.
//!
//! A failed fetch (network, timeout, a status other than 2xx, a body that is not a key
//! set, or one with no usable key) keeps the last good key set and is logged. Keys that
//! cannot verify tokens here (`oct`, `use: "enc"`, curves other than Ed25519 and P-256,
//! an HMAC `alg`) are skipped with one log line each, not fatal. Keys are never taken
//! from a token's header (`jku`, `x5u`, `jwk` are ignored), and a token is only accepted
//! with its key's own algorithm.
//!
//! [`Authenticator::from_jwks`](crate::Authenticator::from_jwks) makes the
//! extractors ([`AuthUser`](crate::AuthUser), `Option<AuthUser>`,
//! [`RequireRole`](crate::RequireRole)) verify with such a set. The background task ends
//! when the last clone of the `RemoteKeySet` (and of every `Authenticator` made from it)
//! is dropped.

mod cache_control;
mod error;
mod fetch;
mod remote_key_set;
mod settings;

pub use error::JwksError;
pub use remote_key_set::RemoteKeySet;
pub use settings::RemoteKeySetBuilder;
