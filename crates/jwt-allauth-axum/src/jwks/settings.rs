//! The settings of a [`RemoteKeySet`], set in code.

use std::time::Duration;

use jwt_allauth::Settings;

use super::{JwksError, RemoteKeySet};

/// Builds a [`RemoteKeySet`]: the JWKS URL, then settings whose defaults suit a
/// `jwt-allauth` server (which answers its JWKS with `Cache-Control: public,
/// max-age=300`). Get one with [`RemoteKeySet::builder`]; [`build`](Self::build) fetches
/// the key set once.
#[derive(Debug, Clone)]
pub struct RemoteKeySetBuilder {
    pub(super) url: String,
    pub(super) token_settings: Settings,
    pub(super) connect_timeout: Duration,
    pub(super) timeout: Duration,
    pub(super) max_response_bytes: usize,
    pub(super) unknown_key_interval: Duration,
    pub(super) min_refresh: Duration,
    pub(super) max_refresh: Duration,
    pub(super) default_refresh: Duration,
    pub(super) retry_after_failure: Duration,
    pub(super) allow_plain_http: bool,
    pub(super) verified_token_cache: usize,
}

impl RemoteKeySetBuilder {
    pub(super) fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token_settings: Settings::default(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_response_bytes: 256 * 1024,
            unknown_key_interval: Duration::from_secs(30),
            min_refresh: Duration::from_secs(60),
            max_refresh: Duration::from_secs(24 * 60 * 60),
            default_refresh: Duration::from_secs(300),
            retry_after_failure: Duration::from_secs(30),
            allow_plain_http: false,
            verified_token_cache: jwt_allauth::keys::DEFAULT_VERIFIED_TOKENS,
        }
    }

    /// The token settings the verification uses: `LEEWAY`, `ISSUER`, `AUDIENCE` (the
    /// issuing server's values, so that its tokens verify here as they do there). Its
    /// keys and lifetimes are not used. Defaults to [`Settings::default`] (no leeway, no
    /// issuer or audience check).
    pub fn token_settings(mut self, settings: &Settings) -> Self {
        self.token_settings = settings.clone();
        self
    }

    /// How long connecting to the JWKS server may take. Defaults to 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a whole fetch may take, connection, TLS and body included; a slower one
    /// fails (and keeps the last good key set). Requests waiting for a fetch started by
    /// an unknown `kid` wait at most this long. Defaults to 10 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest key set accepted, in bytes; a longer answer is a failed fetch.
    /// Defaults to 256 KiB (a key set of a few RSA keys is a few KiB).
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The least time between two fetches made because a token named a `kid` the set
    /// does not have. Tokens naming unknown keys within this time after such a fetch are
    /// refused without a fetch, so a flood of forged `kid`s costs at most one fetch per
    /// interval. Only these fetches count: the first fetch and the background refreshes
    /// do not delay the first one. Defaults to 30 s.
    pub fn unknown_key_interval(mut self, interval: Duration) -> Self {
        self.unknown_key_interval = interval;
        self
    }

    /// The bounds the `max-age` of the JWKS answer is clamped to, to time the next
    /// background refresh: a key set is refreshed no more often than `min` and no less
    /// often than `max`, whatever the server says (`no-cache` and `no-store` count as a
    /// `max-age` of 0, so `min`). Defaults to 60 s and 24 h. `min` is raised to 1 ms if
    /// zero, and `max` to `min` if lower.
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_refresh = min.max(Duration::from_millis(1));
        self.max_refresh = max.max(self.min_refresh);
        self
    }

    /// When the background refresh happens if the answer has no `max-age` (clamped to
    /// [`refresh_bounds`](Self::refresh_bounds) too). Defaults to 5 min.
    pub fn default_refresh(mut self, after: Duration) -> Self {
        self.default_refresh = after;
        self
    }

    /// When the background refresh tries again after a failed fetch (the last good key
    /// set stays in use meanwhile). Defaults to 30 s; raised to 1 ms if zero.
    pub fn retry_after_failure(mut self, after: Duration) -> Self {
        self.retry_after_failure = after.max(Duration::from_millis(1));
        self
    }

    /// Accepts a plain `http` JWKS URL to any host. Without it, plain `http` is accepted
    /// only to a loopback address (`127.0.0.1`, `[::1]`, `localhost`), since anyone on the
    /// path of a plain-text fetch could substitute their own keys and then mint tokens
    /// this service accepts. For a private network you trust (a sidecar, a cluster
    /// network with its own encryption). Defaults to off.
    pub fn dangerous_allow_plain_http(mut self) -> Self {
        self.allow_plain_http = true;
        self
    }

    /// How many verified access tokens the key set remembers, so that a client's token
    /// has its signature checked once rather than on every request (see
    /// [`KeyRing::with_verified_token_cache`](jwt_allauth::KeyRing::with_verified_token_cache);
    /// expiry and the other claims are checked every time). The cache is emptied when the
    /// fetched key set changes. 0 turns it off. Defaults to
    /// [`DEFAULT_VERIFIED_TOKENS`](jwt_allauth::keys::DEFAULT_VERIFIED_TOKENS).
    pub fn verified_token_cache(mut self, capacity: usize) -> Self {
        self.verified_token_cache = capacity;
        self
    }

    /// Fetches the key set once and starts the background refresh (on the current tokio
    /// runtime). Fails if the URL is not accepted, or if this first fetch fails or gives
    /// no usable key: a service should not start without keys (retry, or exit and let
    /// its supervisor restart it).
    pub async fn build(self) -> Result<RemoteKeySet, JwksError> {
        RemoteKeySet::start(self).await
    }

    /// The delay before the next background refresh after an answer with `max_age`.
    pub(super) fn refresh_after(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.default_refresh)
            .clamp(self.min_refresh, self.max_refresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_clamped_to_the_refresh_bounds() {
        let builder = RemoteKeySetBuilder::new("https://issuer.example/jwks.json");
        let secs = Duration::from_secs;
        assert_eq!(builder.refresh_after(None), secs(300));
        assert_eq!(builder.refresh_after(Some(secs(0))), secs(60));
        assert_eq!(builder.refresh_after(Some(secs(600))), secs(600));
        assert_eq!(builder.refresh_after(Some(secs(u64::MAX))), secs(86_400));
        let builder = builder
            .refresh_bounds(secs(0), secs(0))
            .default_refresh(secs(3));
        assert_eq!(builder.refresh_after(None), Duration::from_millis(1));
    }
}
