//! What can go wrong when a key set is fetched.

use axum::http::StatusCode;

/// Why a [`RemoteKeySet`](super::RemoteKeySet) could not be built, or why a fetch of
/// its key set failed (after which the last good key set stays in use).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The JWKS URL does not parse, or is not `http` or `https`.
    #[error("the JWKS URL {url:?} is not an http or https URL")]
    BadUrl {
        /// The URL as given.
        url: String,
    },
    /// A plain `http` URL to a host other than a loopback address, without
    /// [`dangerous_allow_plain_http`](super::RemoteKeySetBuilder::dangerous_allow_plain_http):
    /// anyone on the path could substitute their own keys.
    #[error(
        "the JWKS URL {url} is plain http to a host that is not a loopback address; \
         use https (or allow plain http explicitly)"
    )]
    PlainHttp {
        /// The URL as given.
        url: String,
    },
    /// The TLS settings or the HTTP client could not be built.
    #[error("could not build the JWKS HTTP client")]
    Client(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request failed: connection, TLS, or reading the body.
    #[error("could not fetch the JWKS from {url}")]
    Request {
        /// The JWKS URL.
        url: String,
        /// What the HTTP client reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The fetch took longer than
    /// [`timeout`](super::RemoteKeySetBuilder::timeout).
    #[error("the JWKS fetch from {url} took longer than {after:?}")]
    Timeout {
        /// The JWKS URL.
        url: String,
        /// The timeout.
        after: std::time::Duration,
    },
    /// The server answered with a status other than 2xx (redirects are not followed).
    #[error("the JWKS server {url} answered {status}")]
    Status {
        /// The JWKS URL.
        url: String,
        /// The status of the answer.
        status: StatusCode,
    },
    /// The answer is longer than
    /// [`max_response_bytes`](super::RemoteKeySetBuilder::max_response_bytes).
    #[error("the JWKS from {url} is longer than {limit} bytes")]
    TooLarge {
        /// The JWKS URL.
        url: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The answer is not a JSON object with a `keys` array.
    #[error("the JWKS from {url} is not a JSON Web Key Set")]
    NotAKeySet {
        /// The JWKS URL.
        url: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The key set has no key that can verify tokens here (every key was skipped, or
    /// there are none).
    #[error("the JWKS from {url} has no key that can verify tokens (EdDSA, ES256 or RS256)")]
    NoUsableKey {
        /// The JWKS URL.
        url: String,
    },
}
