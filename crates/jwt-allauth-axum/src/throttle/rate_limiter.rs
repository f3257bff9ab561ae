//! [`RateLimiter`]: at most N events per window and key, in memory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::account_settings::RateLimit;

/// Counts events per key in a sliding window and refuses those over the limit, as the
/// account flows' rate limits (`RESET_REQUESTS_PER_ADDRESS`, `MAILS_PER_ADDRESS`, ...)
/// need. Keys are kept as SHA-256 digests (an address is never held in clear), and at
/// most `max_tracked` keys are tracked: past that, the oldest are forgotten.
#[derive(Debug)]
pub struct RateLimiter {
    limit: Option<RateLimit>,
    max_tracked: usize,
    events: Mutex<HashMap<[u8; 32], VecDeque<i64>>>,
}

impl RateLimiter {
    /// A limiter of `limit` (none: every event is allowed).
    pub fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            max_tracked: super::DEFAULT_MAX_TRACKED,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an event for `key` at `now`, or refuses it: `Err` holds how long until the
    /// key may have one again. A refused event is not counted.
    pub fn hit(&self, key: &str, now: OffsetDateTime) -> Result<(), Duration> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let window_ms = i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX);
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if events.len() >= self.max_tracked && !events.contains_key(&digest) {
            events.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| last.saturating_add(window_ms) > now_ms)
            });
            if events.len() >= self.max_tracked {
                events.clear();
            }
        }
        let times = events.entry(digest).or_default();
        while times
            .front()
            .is_some_and(|first| first.saturating_add(window_ms) <= now_ms)
        {
            times.pop_front();
        }
        if times.len() >= limit.count as usize {
            let first = times.front().copied().unwrap_or(now_ms);
            let wait_ms = first
                .saturating_add(window_ms)
                .saturating_sub(now_ms)
                .max(1);
            return Err(Duration::from_millis(wait_ms as u64));
        }
        times.push_back(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).expect("time")
    }

    #[test]
    fn counts_per_key_in_a_sliding_window() {
        let limiter = RateLimiter::new(Some(RateLimit::new(2, Duration::from_secs(60))));
        assert_eq!(limiter.hit("a", at(0)), Ok(()));
        assert_eq!(limiter.hit("a", at(10)), Ok(()));
        assert_eq!(limiter.hit("a", at(20)), Err(Duration::from_secs(40)));
        assert_eq!(limiter.hit("b", at(20)), Ok(()));
        // The first event leaves the window at 60 s.
        assert_eq!(limiter.hit("a", at(60)), Ok(()));
        assert_eq!(limiter.hit("a", at(61)), Err(Duration::from_secs(9)));
    }

    #[test]
    fn no_limit_allows_everything() {
        let limiter = RateLimiter::new(None);
        for second in 0..100 {
            assert_eq!(limiter.hit("a", at(second)), Ok(()));
        }
    }
}
