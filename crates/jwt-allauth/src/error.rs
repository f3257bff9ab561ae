//! Error types of the core crate.

use std::error::Error as StdError;

use crate::claims::TokenType;

/// A boxed error from a backend (database driver, user store, ...), kept as the source.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a presented token was rejected before any database work.
///
/// The display texts are the `detail`/`message` texts of the wire contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Malformed, badly signed, signed with an unknown key or algorithm, or missing claims.
    #[error("Token is invalid")]
    Invalid,
    /// The `exp` claim is in the past (after the configured leeway).
    #[error("Token is expired")]
    Expired,
    /// A refresh token where an access token was expected, or the reverse.
    #[error("Token has wrong type")]
    WrongType,
}

/// A token about to be minted is longer than its limit
/// ([`TokenCodec::max_token_bytes`](crate::TokenCodec::max_token_bytes)): verification
/// would refuse it, or a browser would drop the refresh cookie holding it. It is refused
/// before anything is stored, so no session is opened or rotated. The cause is usually a
/// user attribute or application claim grown too large; the message names the largest
/// claim and its size, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a new {} token would be {length} bytes, over its limit of {limit}{}",
    .token_type.as_str(),
    largest_claim_text(.largest_claim)
)]
pub struct TokenTooLarge {
    /// The type of the token.
    pub token_type: TokenType,
    /// Its length, in bytes.
    pub length: usize,
    /// The limit it is over, in bytes.
    pub limit: usize,
    /// The name of the largest user attribute or application claim, and the length of
    /// its JSON value in bytes (`None` when the token has none).
    pub largest_claim: Option<(String, usize)>,
}

/// `; its largest claim is `NAME` (N bytes)`, or nothing.
fn largest_claim_text(largest_claim: &Option<(String, usize)>) -> String {
    match largest_claim {
        Some((name, bytes)) => format!("; its largest claim is `{name}` ({bytes} bytes)"),
        None => String::new(),
    }
}

/// A failure of a [`SessionStore`](crate::store::SessionStore) or
/// [`PurposeTokenStore`](crate::store::PurposeTokenStore).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot be reached (connection refused, pool timed out, ...).
    /// Servers answer 503 `service_unavailable`.
    #[error("the database is unavailable")]
    Unavailable(#[source] BoxError),
    /// A row that must be new already exists (for example a duplicate session id).
    #[error("a row with the same key already exists")]
    Conflict(#[source] BoxError),
    /// Any other backend error.
    #[error("the store failed")]
    Backend(#[source] BoxError),
}

/// A failure of the application's [`UserStore`](crate::user::UserStore).
#[derive(Debug, thiserror::Error)]
#[error("the user store failed")]
pub struct UserStoreError(#[source] pub BoxError);

/// A claim name that an application tried to set but that the library owns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the claim name `{0}` is reserved")]
pub struct ReservedClaimError(pub String);

/// Why a key or key ring could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key material could not be parsed for its algorithm.
    #[error("invalid key material for {algorithm}")]
    InvalidKey {
        /// The algorithm the key was configured for.
        algorithm: &'static str,
        /// What the parser said.
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// A key of the wrong kind for the algorithm (a PEM key for HMAC, or a secret for a
    /// public-key algorithm).
    #[error("{algorithm} needs {expected}")]
    WrongKeyType {
        /// The algorithm.
        algorithm: &'static str,
        /// What it needs.
        expected: &'static str,
    },
    /// A setting the algorithm needs is not set.
    #[error("the setting {0} is required for the configured ALGORITHM")]
    MissingSetting(&'static str),
    /// The crypto backend of jsonwebtoken is not usable (a build with no backend).
    #[error("the JWT crypto backend is not available")]
    CryptoBackend,
    /// An HMAC secret is empty.
    #[error("the HMAC secret is empty")]
    EmptySecret,
    /// An HMAC secret shorter than [`MIN_HMAC_SECRET_BYTES`](crate::keys::MIN_HMAC_SECRET_BYTES)
    /// without a `dangerous_` constructor (or `DEVELOPMENT_MODE`).
    #[error("the HMAC secret is {len} bytes long; at least {min} are required")]
    ShortSecret {
        /// The secret's length in bytes (never the secret).
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// A key file could not be read.
    #[error("cannot read key file {path}")]
    File {
        /// The file's path.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Two keys of a ring share one `kid`.
    #[error("two keys share the key id `{0}`")]
    DuplicateKeyId(String),
    /// Signing and verifying a probe token failed: the crypto backend or the key pair is
    /// misconfigured. Raised when the ring is built, never at the first request.
    #[error("the signing self-check failed")]
    SelfCheck(#[source] jsonwebtoken::errors::Error),
    /// The signing key and the verifying key do not belong together.
    #[error("the signing self-check failed: the verifying key does not match the signing key")]
    KeyPairMismatch,
    /// A JSON Web Key that cannot verify tokens here: a symmetric (`oct`) key, a key for
    /// encryption, or a key type, curve or `alg` other than EdDSA (Ed25519), ES256 (P-256)
    /// and RS256. The text says which.
    #[error("unusable JSON Web Key: {0}")]
    UnusableJwk(&'static str),
    /// Generating a new key pair failed.
    #[error("cannot generate a {algorithm} key pair")]
    Generate {
        /// The algorithm.
        algorithm: &'static str,
        /// What the generator said.
        #[source]
        source: BoxError,
    },
}

/// The error of the core's operations ([`SessionManager`](crate::SessionManager) and
/// the token types).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The presented token was rejected without touching the database.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A valid access token whose session no longer exists
    /// (`ACCESS_TOKEN_SESSION_CHECK`): 401 "Session is no longer active."
    #[error("Session is no longer active.")]
    SessionInactive,
    /// The session or purpose-token store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The application's user store failed.
    #[error(transparent)]
    UserStore(#[from] UserStoreError),
    /// An application claims extension tried to set a reserved claim.
    #[error(transparent)]
    ReservedClaim(#[from] ReservedClaimError),
    /// Signing a token failed.
    #[error("signing a token failed")]
    Signing(#[source] jsonwebtoken::errors::Error),
    /// The key ring has no signing key: it was built to verify only
    /// ([`KeyRing::verify_only`](crate::KeyRing::verify_only)).
    #[error("the key ring has no signing key: it only verifies")]
    NoSigningKey,
    /// Claims could not be serialized.
    #[error("claims could not be serialized")]
    Serialization(#[source] serde_json::Error),
    /// A token to be minted is over its size limit; nothing was stored. Servers answer
    /// 500 and log the message, which names the largest claim.
    #[error(transparent)]
    TokenTooLarge(#[from] TokenTooLarge),
}
