//! The login throttle: in-memory counters of failed logins per client IP and per e-mail.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use jwt_allauth::Settings;
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;

/// The window of `LOGIN_FAILURES_PER_IP`, in seconds.
pub const IP_WINDOW_SECONDS: i64 = 60;
/// The window of `LOGIN_FAILURES_PER_EMAIL`, in seconds.
pub const EMAIL_WINDOW_SECONDS: i64 = 300;
/// Most client IPs, and most e-mail addresses, tracked at once by default.
pub const DEFAULT_MAX_TRACKED: usize = 100_000;
/// E-mail keys are cut to this many bytes (the longest valid address is 254).
const MAX_EMAIL_KEY_BYTES: usize = 256;

/// The answer when a limit is reached: 429 with `Retry-After: retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until the oldest counted failure leaves its window (at least 1).
    pub retry_after: u64,
}

/// Counts failed logins per client IP (`LOGIN_FAILURES_PER_IP` in 60 s, default 10) and
/// per lower-cased e-mail address (`LOGIN_FAILURES_PER_EMAIL` in 300 s, default 5), in
/// sliding windows; a limit of 0 disables that counter.
///
/// - [`check`](Self::check) runs before the password is verified: once either limit is
///   reached, logins for that IP or address are refused (429) until the oldest counted
///   failure leaves its window, whatever the password.
/// - Only failures count ([`record_failure`](Self::record_failure)); refused (throttled)
///   attempts and validation errors do not.
/// - A successful login neither counts nor resets anything: the failures an attacker
///   caused for an address still count after its owner logs in.
/// - A request whose client IP is unknown (no `ConnectInfo`) is counted per e-mail only.
/// - Memory is bounded: each key keeps at most `limit` timestamps; when a map holds
///   [`DEFAULT_MAX_TRACKED`] keys, expired keys are pruned and, if it is still full, the
///   key with the oldest last failure is dropped.
///
/// The counters live in this process only: several server processes each count their own.
#[derive(Debug)]
pub struct LoginThrottle {
    per_ip: Limiter<IpAddr>,
    per_email: Limiter<String>,
}

impl LoginThrottle {
    /// A throttle allowing `per_ip` failures per IP in 60 s and `per_email` failures per
    /// address in 300 s (0 disables either).
    pub fn new(per_ip: u32, per_email: u32) -> Self {
        Self {
            per_ip: Limiter::new(per_ip, IP_WINDOW_SECONDS),
            per_email: Limiter::new(per_email, EMAIL_WINDOW_SECONDS),
        }
    }

    /// The throttle of `LOGIN_FAILURES_PER_IP` and `LOGIN_FAILURES_PER_EMAIL`.
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new(
            settings.login_failures_per_ip,
            settings.login_failures_per_email,
        )
    }

    /// The same throttle tracking at most `max` IPs and at most `max` addresses.
    /// Defaults to [`DEFAULT_MAX_TRACKED`].
    pub fn with_max_tracked(mut self, max: usize) -> Self {
        self.per_ip.max_keys = max.max(1);
        self.per_email.max_keys = max.max(1);
        self
    }

    /// `Err` when the IP or the address has reached its limit; `retry_after` is then the
    /// longer wait of the two.
    pub fn check(
        &self,
        ip: Option<IpAddr>,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<(), Throttled> {
        let now = now.unix_timestamp();
        let by_ip = ip.and_then(|ip| self.per_ip.retry_after(&ip, now));
        let by_email = self.per_email.retry_after(&email_key(email), now);
        match by_ip.max(by_email) {
            Some(retry_after) => Err(Throttled { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failed login for the IP (when known) and the address.
    pub fn record_failure(&self, ip: Option<IpAddr>, email: &str, now: OffsetDateTime) {
        let now = now.unix_timestamp();
        if let Some(ip) = ip {
            self.per_ip.record(ip, now);
        }
        self.per_email.record(email_key(email), now);
    }

    /// How many IPs and how many addresses are tracked now (for tests and metrics).
    pub fn tracked(&self) -> (usize, usize) {
        (self.per_ip.len(), self.per_email.len())
    }
}

/// The key of an address: trimmed, in Unicode compatibility form (NFKC), lower-cased,
/// cut to 256 bytes, so that spellings which look the same share one counter.
fn email_key(email: &str) -> String {
    let mut key = email.trim().nfkc().collect::<String>().to_lowercase();
    if key.len() > MAX_EMAIL_KEY_BYTES {
        let mut end = MAX_EMAIL_KEY_BYTES;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
}

/// A sliding-window failure counter per key.
#[derive(Debug)]
struct Limiter<K> {
    limit: u32,
    window: i64,
    max_keys: usize,
    failures: Mutex<HashMap<K, VecDeque<i64>>>,
}

impl<K: Eq + Hash + Clone> Limiter<K> {
    fn new(limit: u32, window: i64) -> Self {
        Self {
            limit,
            window,
            max_keys: DEFAULT_MAX_TRACKED,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, VecDeque<i64>>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Seconds to wait, when `key` has `limit` failures in the window ending at `now`.
    fn retry_after(&self, key: &K, now: i64) -> Option<u64> {
        if self.limit == 0 {
            return None;
        }
        let mut failures = self.lock();
        let times = failures.get_mut(key)?;
        self.expire(times, now);
        if times.is_empty() {
            failures.remove(key);
            return None;
        }
        if times.len() < self.limit as usize {
            return None;
        }
        let oldest = times.front().copied().unwrap_or(now);
        let wait = oldest
            .saturating_add(self.window)
            .saturating_sub(now)
            .max(1);
        Some(u64::try_from(wait).unwrap_or(1))
    }

    fn record(&self, key: K, now: i64) {
        if self.limit == 0 {
            return;
        }
        let mut failures = self.lock();
        if !failures.contains_key(&key) && failures.len() >= self.max_keys {
            self.make_room(&mut failures, now);
        }
        let times = failures.entry(key).or_default();
        self.expire(times, now);
        times.push_back(now);
        while times.len() > self.limit as usize {
            times.pop_front();
        }
    }

    /// Drops failures that left the window.
    fn expire(&self, times: &mut VecDeque<i64>, now: i64) {
        let start = now.saturating_sub(self.window);
        while times.front().is_some_and(|&time| time <= start) {
            times.pop_front();
        }
    }

    /// Prunes expired keys; if the map is still full, drops the key whose last failure
    /// is the oldest.
    fn make_room(&self, failures: &mut HashMap<K, VecDeque<i64>>, now: i64) {
        let start = now.saturating_sub(self.window);
        failures.retain(|_, times| times.back().is_some_and(|&time| time > start));
        if failures.len() < self.max_keys {
            return;
        }
        let stalest = failures
            .iter()
            .min_by_key(|(_, times)| times.back().copied().unwrap_or(i64::MIN))
            .map(|(key, _)| key.clone());
        if let Some(stalest) = stalest {
            failures.remove(&stalest);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    #[test]
    fn counts_failures_per_email_case_insensitively() {
        let throttle = LoginThrottle::new(0, 3);
        for second in 0..3 {
            assert_eq!(throttle.check(None, "A@x.io", at(second)), Ok(()));
            throttle.record_failure(None, "a@X.io ", at(second));
        }
        assert_eq!(
            throttle.check(None, "a@x.io", at(10)),
            Err(Throttled { retry_after: 290 })
        );
        // The oldest failure leaves the window at 300 s.
        assert_eq!(throttle.check(None, "a@x.io", at(300)), Ok(()));
        assert_eq!(throttle.check(None, "other@x.io", at(10)), Ok(()));
    }

    #[test]
    fn spellings_that_look_the_same_share_one_counter() {
        let throttle = LoginThrottle::new(0, 3);
        for (second, spelling) in ["é@x.io", "e\u{301}@x.io", "É@X.IO"].iter().enumerate() {
            throttle.record_failure(None, spelling, at(second as i64));
        }
        assert!(
            throttle
                .check(None, "\u{ff45}\u{301}@x.io", at(10))
                .is_err()
        );
    }

    #[test]
    fn counts_failures_per_ip_and_reports_the_longer_wait() {
        let throttle = LoginThrottle::new(2, 2);
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        throttle.record_failure(ip, "a@x.io", at(0));
        throttle.record_failure(ip, "b@x.io", at(30));
        assert_eq!(
            throttle.check(ip, "c@x.io", at(40)),
            Err(Throttled { retry_after: 20 })
        );
        throttle.record_failure(None, "c@x.io", at(40));
        throttle.record_failure(None, "c@x.io", at(41));
        assert_eq!(
            throttle.check(ip, "c@x.io", at(50)),
            Err(Throttled { retry_after: 290 })
        );
        assert_eq!(throttle.check(ip, "d@x.io", at(60)), Ok(()));
    }

    #[test]
    fn zero_disables() {
        let throttle = LoginThrottle::new(0, 0);
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        for second in 0..100 {
            throttle.record_failure(ip, "a@x.io", at(second));
        }
        assert_eq!(throttle.check(ip, "a@x.io", at(100)), Ok(()));
        assert_eq!(throttle.tracked(), (0, 0));
    }

    #[test]
    fn memory_is_bounded() {
        let throttle = LoginThrottle::new(5, 5).with_max_tracked(10);
        for n in 0..100u8 {
            throttle.record_failure(
                Some(IpAddr::from([10, 0, 0, n])),
                &format!("{n}@x.io"),
                at(i64::from(n)),
            );
        }
        assert_eq!(throttle.tracked(), (10, 10));
        // A known key does not evict anything.
        throttle.record_failure(Some(IpAddr::from([10, 0, 0, 99])), "99@x.io", at(100));
        assert_eq!(throttle.tracked(), (10, 10));
        let long = "x".repeat(10_000);
        assert_eq!(email_key(&long).len(), MAX_EMAIL_KEY_BYTES);
    }
}
