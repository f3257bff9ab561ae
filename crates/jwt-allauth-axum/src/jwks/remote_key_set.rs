//! The key set of a JWKS URL, kept fresh.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use axum::http::Uri;
use jwt_allauth::keys::KeyRing;
use jwt_allauth::{AccessToken, Claims, Error, TokenCodec, TokenError, TokenType};
use time::OffsetDateTime;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::JwksError;
use super::fetch::{self, Fetched, JwksClient};
use super::settings::RemoteKeySetBuilder;
use crate::authenticator::{Verification, VerifyAccess};

/// The verifying keys of an issuer, read from its JWKS URL and kept fresh: see the
/// [module documentation](crate::jwks) for when it fetches.
///
/// Build one with [`RemoteKeySet::builder`], then verify with
/// [`Authenticator::from_jwks`](crate::Authenticator::from_jwks). Cheap to clone (the
/// clones share the keys and the background task, which ends when the last clone is
/// dropped).
///
/// ```no_run
/// use axum::Router;
/// use axum::routing::get;
/// use jwt_allauth_axum::jwks::RemoteKeySet;
/// use jwt_allauth_axum::{AuthUser, Authenticator, Clock};
///
/// async fn me(user: AuthUser) -> String {
///     format!("hello, user {}", user.user_id())
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let keys = RemoteKeySet::builder("https://auth.example.com/.well-known/jwks.json")
///     .build()
///     .await?;
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .with_state(Authenticator::from_jwks(keys, Clock::system()));
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RemoteKeySet {
    pub(crate) shared: Arc<Shared>,
}

/// What the clones of a [`RemoteKeySet`] share.
pub(crate) struct Shared {
    codec: TokenCodec,
    url: Uri,
    client: JwksClient,
    settings: RemoteKeySetBuilder,
    /// Held while a fetch for an unknown `kid` runs, so that requests arriving meanwhile
    /// wait for it rather than start their own (single flight). Holds when the last such
    /// fetch started.
    unknown_key_fetch: tokio::sync::Mutex<Option<Instant>>,
    /// Whether a fetch for an unknown `kid` is under way (read without the lock).
    unknown_key_fetching: AtomicBool,
    /// The earliest time of the next fetch for an unknown `kid`, in milliseconds since
    /// `epoch` (read without the lock on every refused token).
    next_unknown_key_fetch_ms: AtomicU64,
    epoch: Instant,
    /// The lines of the keys skipped at the last fetch, so that each is logged once.
    skipped: Mutex<Vec<String>>,
    /// The background refresh, stopped when the last clone is dropped.
    refresh_task: OnceLock<AbortHandle>,
}

impl fmt::Debug for RemoteKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeySet")
            .field("url", &self.shared.url)
            .field("keys", &self.shared.codec.keys())
            .finish_non_exhaustive()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(task) = self.refresh_task.get() {
            task.abort();
        }
    }
}

impl RemoteKeySet {
    /// A builder for the key set at `url` (the issuer's `/.well-known/jwks.json`), with
    /// the default settings.
    pub fn builder(url: impl Into<String>) -> RemoteKeySetBuilder {
        RemoteKeySetBuilder::new(url)
    }

    /// Fetches once, then starts the background refresh.
    pub(super) async fn start(settings: RemoteKeySetBuilder) -> Result<Self, JwksError> {
        let url = fetch::checked_url(&settings)?;
        let client = fetch::client(&settings)?;
        let fetched =
            fetch::fetch(&client, &url, settings.timeout, settings.max_response_bytes).await?;
        let codec = TokenCodec::new(
            fetched
                .ring
                .with_verified_token_cache(settings.verified_token_cache),
            &settings.token_settings,
        );
        let first_refresh = settings.refresh_after(fetched.max_age);
        let epoch = Instant::now();
        let shared = Arc::new(Shared {
            codec,
            url,
            client,
            settings,
            unknown_key_fetch: tokio::sync::Mutex::new(None),
            unknown_key_fetching: AtomicBool::new(false),
            next_unknown_key_fetch_ms: AtomicU64::new(0),
            epoch,
            skipped: Mutex::new(Vec::new()),
            refresh_task: OnceLock::new(),
        });
        shared.log_skipped(&fetched.skipped);
        let task = tokio::spawn(refresh_in_background(
            Arc::downgrade(&shared),
            first_refresh,
        ));
        // Only this function sets it, once.
        let _ = shared.refresh_task.set(task.abort_handle());
        Ok(Self { shared })
    }

    /// The codec that verifies with the current keys (it cannot sign). Its ring is
    /// replaced at each successful fetch; clones of it follow.
    pub fn codec(&self) -> &TokenCodec {
        &self.shared.codec
    }

    /// The current keys.
    pub fn keys(&self) -> Arc<KeyRing> {
        self.shared.codec.keys()
    }

    /// The JWKS URL.
    pub fn url(&self) -> String {
        self.shared.url.to_string()
    }

    /// Fetches the key set now and, if the fetch succeeds, uses it; a failure keeps the
    /// current keys. Not rate-limited: for an operator's command, not for request paths.
    pub async fn refresh_now(&self) -> Result<(), JwksError> {
        self.shared.refresh().await.map(|_| ())
    }

    /// Verifies an access token at `now`, fetching the key set first if the token names
    /// an unknown `kid` and the interval allows (see the module documentation).
    pub async fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Claims, TokenError> {
        match self.shared.verify(token, now) {
            Verification::Stateless(claims) => claims,
            Verification::SessionChecked(verifying) => match verifying.await {
                Ok(access) => Ok(access.claims().clone()),
                Err(Error::Token(error)) => Err(error),
                Err(_) => Err(TokenError::Invalid),
            },
        }
    }
}

impl Shared {
    /// Fetches the key set and, on success, replaces the codec's ring; returns the
    /// answer's `max-age`. A failure is returned (and the keys kept).
    async fn refresh(&self) -> Result<Option<Duration>, JwksError> {
        let Fetched {
            ring,
            max_age,
            skipped,
        } = fetch::fetch(
            &self.client,
            &self.url,
            self.settings.timeout,
            self.settings.max_response_bytes,
        )
        .await?;
        self.log_skipped(&skipped);
        // The same keys again keep the ring, and the access tokens it has verified.
        if self.codec.keys().jwks() != ring.jwks() {
            self.codec
                .replace_keys(ring.with_verified_token_cache(self.settings.verified_token_cache));
        }
        Ok(max_age)
    }

    /// Logs each skipped key once (one line per key, until the set changes).
    fn log_skipped(&self, skipped: &[String]) {
        let mut logged = match self.skipped.lock() {
            Ok(logged) => logged,
            Err(poisoned) => poisoned.into_inner(),
        };
        for line in skipped.iter().filter(|line| !logged.contains(line)) {
            tracing::warn!(url = %self.url, "JWKS: skipped {line}");
        }
        *logged = skipped.to_vec();
    }

    /// Milliseconds since `epoch`.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether a fetch for an unknown `kid` may happen now, or is under way (then the
    /// token waits for it). Cheap: two atomic reads.
    fn unknown_key_fetch_possible(&self) -> bool {
        self.unknown_key_fetching.load(Ordering::Acquire)
            || self.now_ms() >= self.next_unknown_key_fetch_ms.load(Ordering::Acquire)
    }

    /// Fetches the key set for a token that names an unknown `kid`, unless another fetch
    /// replaced the keys since the token was checked against `seen` (then the caller
    /// checks it again) or one was made less than the interval ago. One at a time.
    async fn fetch_for_unknown_key(&self, seen: &Arc<KeyRing>) {
        let mut last = self.unknown_key_fetch.lock().await;
        if !Arc::ptr_eq(&self.codec.keys(), seen) {
            return;
        }
        let now = Instant::now();
        if last.is_some_and(|last| now < last + self.settings.unknown_key_interval) {
            return;
        }
        *last = Some(now);
        let interval_ms =
            u64::try_from(self.settings.unknown_key_interval.as_millis()).unwrap_or(u64::MAX);
        self.next_unknown_key_fetch_ms
            .store(self.now_ms().saturating_add(interval_ms), Ordering::Release);
        let _fetching = FetchingFlag::raise(&self.unknown_key_fetching);
        match self.refresh().await {
            Ok(_) => tracing::debug!(url = %self.url, "JWKS fetched for an unknown kid"),
            Err(error) => tracing::warn!(
                url = %self.url,
                error = %error_chain(&error),
                "JWKS fetch for an unknown kid failed; keeping the last good key set"
            ),
        }
    }
}

/// Sets a flag for as long as it lives, so that a fetch cancelled with its request
/// (the client went away) does not leave it set.
struct FetchingFlag<'a>(&'a AtomicBool);

impl<'a> FetchingFlag<'a> {
    fn raise(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::Release);
        Self(flag)
    }
}

impl Drop for FetchingFlag<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl VerifyAccess for Shared {
    fn verify<'a>(&'a self, token: &'a str, now: OffsetDateTime) -> Verification<'a> {
        let first = self.codec.decode(token, TokenType::Access, now);
        if first != Err(TokenError::Invalid) || !self.unknown_key_fetch_possible() {
            return Verification::Stateless(first);
        }
        let seen = self.codec.keys();
        if !seen.names_unknown_key(token) {
            return Verification::Stateless(first);
        }
        // Through the variant of the session check, so that the extractors' hot path is
        // the same code as without a key set.
        Verification::SessionChecked(Box::pin(async move {
            self.fetch_for_unknown_key(&seen).await;
            AccessToken::decode(&self.codec, token, now).map_err(Error::Token)
        }))
    }
}

/// Refreshes the key set after each answer's `max-age` (clamped), or after
/// `retry_after_failure` when a fetch fails, until the key set is dropped.
async fn refresh_in_background(shared: Weak<Shared>, first: Duration) {
    let mut delay = first;
    loop {
        tokio::time::sleep(delay).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        delay = match shared.refresh().await {
            Ok(max_age) => shared.settings.refresh_after(max_age),
            Err(error) => {
                tracing::warn!(
                    url = %shared.url,
                    error = %error_chain(&error),
                    "JWKS refresh failed; keeping the last good key set"
                );
                shared.settings.retry_after_failure
            }
        };
    }
}

/// An error and its sources on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
