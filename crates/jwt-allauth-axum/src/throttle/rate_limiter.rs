//! [`RateLimiter`]: at most N events per window and key, in memory or shared.

use std::sync::Arc;
use std::time::Duration;

use jwt_allauth::StoreError;
use jwt_allauth::attempts::{
    AttemptCounters, CounterKey, CounterQuery, CounterState, MemoryAttemptCounters, Refused,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::account_settings::RateLimit;

/// Why [`RateLimiter::hit`] refused an event.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The key has had its events in the window: wait this long.
    #[error("rate limit reached (retry after {0:?})")]
    Exceeded(Duration),
    /// The shared counters could not be read or written: the event is refused.
    #[error("the rate limit's counters are unavailable")]
    Unavailable(#[source] StoreError),
}

impl RateLimitError {
    /// The wait, when the limit was reached.
    pub fn wait(&self) -> Option<Duration> {
        match self {
            Self::Exceeded(wait) => Some(*wait),
            Self::Unavailable(_) => None,
        }
    }
}

/// Counts events per key in a sliding window and refuses those over the limit, as the
/// account flows' rate limits (`RESET_REQUESTS_PER_ADDRESS`, `MAILS_PER_ADDRESS`, ...)
/// need. Keys are kept as SHA-256 digests (an address is never held in clear).
///
/// The counts live in this process's memory ([`new`](Self::new): at most
/// [`DEFAULT_MAX_TRACKED`](super::DEFAULT_MAX_TRACKED) keys, past which the stalest are
/// forgotten) or in [`AttemptCounters`] every instance shares
/// ([`shared`](Self::shared)); counting and deciding is then atomic across instances,
/// and a failure of the counters refuses the event.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limit: Option<RateLimit>,
    scope: &'static str,
    counters: Arc<dyn AttemptCounters>,
}

impl RateLimiter {
    /// A limiter of `limit` (none: every event is allowed), in this process's memory.
    pub fn new(limit: Option<RateLimit>) -> Self {
        Self::shared("rate_limit", limit, Arc::new(MemoryAttemptCounters::new()))
    }

    /// A limiter of `limit` counting in `counters` under `scope` (a name no other
    /// limiter on the same counters uses).
    pub fn shared(
        scope: &'static str,
        limit: Option<RateLimit>,
        counters: Arc<dyn AttemptCounters>,
    ) -> Self {
        Self {
            limit,
            scope,
            counters,
        }
    }

    /// Counts an event for `key` at `now`, or refuses it: [`RateLimitError::Exceeded`]
    /// holds how long until the key may have one again. A refused event is not counted.
    pub async fn hit(&self, key: &str, now: OffsetDateTime) -> Result<(), RateLimitError> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let query = CounterQuery {
            key: CounterKey {
                scope: self.scope,
                digest: Sha256::digest(key.as_bytes()).into(),
            },
            window: limit.window,
            limit: limit.count,
        };
        let decide = |states: &[CounterState]| match states.first() {
            Some(state) if state.is_full(query.limit) => Err(Refused {
                wait_ms: state.wait_ms(query.window_ms(), now_ms),
            }),
            _ => Ok(()),
        };
        match self.counters.reserve(&[query], now_ms, &decide).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(refused)) => Err(RateLimitError::Exceeded(Duration::from_millis(
                refused.wait_ms,
            ))),
            Err(error) => Err(RateLimitError::Unavailable(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).expect("time")
    }

    async fn hit(limiter: &RateLimiter, key: &str, second: i64) -> Result<(), Duration> {
        limiter
            .hit(key, at(second))
            .await
            .map_err(|error| error.wait().expect("a limit, not a failure"))
    }

    #[tokio::test]
    async fn counts_per_key_in_a_sliding_window() {
        let limiter = RateLimiter::new(Some(RateLimit::new(2, Duration::from_secs(60))));
        assert_eq!(hit(&limiter, "a", 0).await, Ok(()));
        assert_eq!(hit(&limiter, "a", 10).await, Ok(()));
        assert_eq!(hit(&limiter, "a", 20).await, Err(Duration::from_secs(40)));
        assert_eq!(hit(&limiter, "b", 20).await, Ok(()));
        // The first event leaves the window at 60 s.
        assert_eq!(hit(&limiter, "a", 60).await, Ok(()));
        assert_eq!(hit(&limiter, "a", 61).await, Err(Duration::from_secs(9)));
    }

    #[tokio::test]
    async fn no_limit_allows_everything() {
        let limiter = RateLimiter::new(None);
        for second in 0..100 {
            assert_eq!(hit(&limiter, "a", second).await, Ok(()));
        }
    }
}
