//! The access tokens a key ring has verified recently, so that a client presenting the
//! same token again is not verified again.

use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};

use crate::claims::Claims;

/// How many verified access tokens a [`KeyRing`](super::KeyRing) remembers by default:
/// about 4 MB of claims. A service with more clients active at once than this verifies
/// the least recently seen ones again, as it would with no cache.
pub const DEFAULT_VERIFIED_TOKENS: usize = 10_000;

/// Access tokens whose signature the ring checked, with their claims, by the SHA-256 of
/// the whole token text.
///
/// - **Keyed by the whole token.** A hit needs the same header, payload and signature,
///   byte for byte, as a token the ring accepted: SHA-256 is collision-resistant, so no
///   other text finds an entry. The text itself is not kept.
/// - **Only what the signature decides is cached.** Expiry, `nbf`, the token type, issuer
///   and audience are checked on every call by the codec, and the revocation set after it,
///   so an entry never outlives its token's validity.
/// - **Per ring.** A ring with other keys (a key retired, a JWKS fetched again) starts
///   empty: a token whose key is gone is refused at once.
/// - **Bounded.** At most the configured number of entries (S3-FIFO eviction); a token
///   that fails verification is never stored, so forged tokens cannot fill it.
pub(crate) struct VerifiedTokens {
    cache: Cache<[u8; 32], Claims>,
}

impl VerifiedTokens {
    /// A cache of at most `capacity` tokens; `None` for 0 (no cache).
    pub(crate) fn with_capacity(capacity: usize) -> Option<Self> {
        (capacity > 0).then(|| Self {
            cache: Cache::new(capacity),
        })
    }

    /// The key of `token`.
    pub(crate) fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The claims of a token verified before, by its [`key`](Self::key).
    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<Claims> {
        self.cache.get(key)
    }

    /// Remembers the claims of a token whose signature was just verified.
    pub(crate) fn insert(&self, key: [u8; 32], claims: &Claims) {
        self.cache.insert(key, claims.clone());
    }

    /// How many tokens are remembered.
    pub(crate) fn len(&self) -> usize {
        self.cache.len()
    }
}
