//! The login throttle: in-memory counters of password checks per client and per e-mail
//! address, reserved before the password is verified.

mod client_bucket;
mod rate_limiter;

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jwt_allauth::email::email_key;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::http_settings::HttpSettings;

pub use self::client_bucket::ClientBucket;
pub use self::rate_limiter::RateLimiter;

/// The window of `LOGIN_FAILURES_PER_IP`, in seconds.
pub const IP_WINDOW_SECONDS: i64 = 60;
/// The window of `LOGIN_FAILURES_PER_EMAIL`, in seconds.
pub const EMAIL_WINDOW_SECONDS: i64 = 300;
/// How long the routes let a login or password change wait for attempts in flight
/// before answering 429 ([`LoginThrottle::begin_or_wait`]): well under the server's 30 s
/// request timeout.
pub const THROTTLE_WAIT: Duration = Duration::from_secs(10);
/// Most keys each counter tracks at once by default.
pub const DEFAULT_MAX_TRACKED: usize = 100_000;

/// The answer when a limit is reached: 429 with `Retry-After: retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until the limit that refused the attempt lets it through again (at
    /// least 1).
    pub retry_after: u64,
}

impl Throttled {
    /// The answer for a wait of `wait`, in whole seconds rounded up (at least 1).
    pub fn after(wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self {
            retry_after: seconds.max(1),
        }
    }
}

/// Limits password checks (logins, and the old password of a password change) per
/// client and per e-mail address, in sliding windows: `LOGIN_FAILURES_PER_IP` per client
/// in 60 s (default 10) and `LOGIN_FAILURES_PER_EMAIL` per address in 300 s (default 5).
/// A limit of 0 disables that counter.
///
/// # Reserve, then settle
///
/// [`begin`](Self::begin) runs before the password is verified and either refuses the
/// attempt (429) or counts it at once and returns a [`LoginAttempt`]. The attempt is
/// then settled: [`succeeded`](LoginAttempt::succeeded) gives the reservation back,
/// [`failed`](LoginAttempt::failed) (or dropping it, when the client went away) keeps it
/// as a failure. Because attempts count from the moment they start, concurrent guesses
/// cannot all pass a check made before any of them failed: however many arrive at once,
/// no more than the limit are verified per window.
///
/// # Who is refused
///
/// - **Per client** (an IPv4 address, or an IPv6 /64: [`ClientBucket`]): after
///   `LOGIN_FAILURES_PER_IP` attempts in 60 s, whatever the addresses tried.
/// - **Per client and address**: after `LOGIN_FAILURES_PER_EMAIL` attempts for one address
///   from one client in 300 s.
/// - **Per address**: once an address has `LOGIN_FAILURES_PER_EMAIL` failed attempts in
///   300 s from all clients together, only clients **with failures of their own** for
///   that address are refused. A client that has not failed for it is still verified, so
///   an attacker cannot lock the owner out by failing from elsewhere; a wrong password
///   makes that client one with a failure, refused from then on. Against guesses spread
///   over many clients, this leaves each fresh client one guess per address per window.
/// - A successful login gives its reservation back and forgets the client's own failures
///   for that address; the failures of others still count.
///
/// A request whose client IP is unknown (no `ConnectInfo`) counts as one client of its
/// own for the per-address limits. Addresses are counted under their
/// [`email_key`] (case and compatibility forms folded), stored as a 32-byte digest,
/// so memory does not grow with the address's length.
///
/// # Memory
///
/// Each key keeps at most `limit` timestamps. Expired keys are swept once a minute, and a
/// counter holding [`DEFAULT_MAX_TRACKED`] keys drops the key with the oldest attempt to
/// make room. The counters live in this process only.
#[derive(Debug)]
pub struct LoginThrottle {
    per_ip: u32,
    per_email: u32,
    max_tracked: usize,
    counters: Mutex<Counters>,
    /// Woken whenever an attempt is settled, for [`begin_or_wait`](Self::begin_or_wait).
    settled: Notify,
}

/// The SHA-256 of an address's [`email_key`].
type EmailDigest = [u8; 32];

#[derive(Debug, Default)]
struct Counters {
    per_client: HashMap<ClientBucket, Attempts>,
    per_email: HashMap<EmailDigest, Attempts>,
    per_client_email: HashMap<(EmailDigest, Option<ClientBucket>), Attempts>,
    last_sweep: i64,
    /// Attempts begun and not settled yet, per client and per address: what a refused
    /// attempt may wait for.
    in_flight_per_client: HashMap<Option<ClientBucket>, usize>,
    in_flight_per_email: HashMap<EmailDigest, usize>,
}

/// Start times of counted attempts, oldest first.
type Attempts = VecDeque<i64>;

impl LoginThrottle {
    /// A throttle allowing `per_ip` attempts per client in 60 s and `per_email` attempts
    /// per address in 300 s (0 disables either).
    pub fn new(per_ip: u32, per_email: u32) -> Self {
        Self {
            per_ip,
            per_email,
            max_tracked: DEFAULT_MAX_TRACKED,
            counters: Mutex::new(Counters::default()),
            settled: Notify::new(),
        }
    }

    /// The throttle of `LOGIN_FAILURES_PER_IP` and `LOGIN_FAILURES_PER_EMAIL`.
    pub fn from_settings(settings: &HttpSettings) -> Self {
        Self::new(
            settings.login_failures_per_ip,
            settings.login_failures_per_email,
        )
    }

    /// The same throttle tracking at most `max` keys in each counter. Defaults to
    /// [`DEFAULT_MAX_TRACKED`].
    pub fn with_max_tracked(mut self, max: usize) -> Self {
        self.max_tracked = max.max(1);
        self
    }

    /// Starts a password check for `email` from `ip`: `Err` when a limit refuses it
    /// (`retry_after` is then the longest wait of the limits that refuse), otherwise the
    /// attempt, already counted, to settle once the password is verified.
    pub fn begin(
        &self,
        ip: Option<IpAddr>,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<LoginAttempt<'_>, Throttled> {
        let now = now.unix_timestamp();
        let client = ip.map(ClientBucket::of);
        let email = email_digest(email);
        let mut counters = self.lock();
        counters.sweep_if_due(now);

        let mut wait = None;
        if let Some(client) = client {
            wait = wait.max(self.client_wait(&mut counters, client, now));
        }
        wait = wait.max(self.email_wait(&mut counters, email, client, now));
        if let Some(retry_after) = wait {
            return Err(Throttled { retry_after });
        }

        let max = self.max_tracked;
        if let Some(client) = client {
            add(&mut counters.per_client, client, now, self.per_ip, max);
        }
        add(&mut counters.per_email, email, now, self.per_email, max);
        add(
            &mut counters.per_client_email,
            (email, client),
            now,
            self.per_email,
            max,
        );
        *counters.in_flight_per_client.entry(client).or_default() += 1;
        *counters.in_flight_per_email.entry(email).or_default() += 1;
        Ok(LoginAttempt {
            throttle: self,
            client,
            email,
            started: now,
        })
    }

    /// Like [`begin`](Self::begin), but a refusal while other attempts of the same client
    /// or for the same address are still in flight waits for them to settle (at most
    /// `max_wait`, at the time `now` tells) and tries again.
    ///
    /// An attempt in flight counts as a failure until it settles, so a burst of correct
    /// logins from one client (an office behind one address) could otherwise be refused
    /// only because the others had not finished yet. Waiting keeps the guarantee (no
    /// more verifications than the limits per window) without that refusal: once the
    /// attempts ahead have settled, successes have given their places back and failures
    /// are counted, and the answer is what it would have been one after the other.
    pub async fn begin_or_wait(
        &self,
        ip: Option<IpAddr>,
        email: &str,
        now: impl Fn() -> OffsetDateTime,
        max_wait: Duration,
    ) -> Result<LoginAttempt<'_>, Throttled> {
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            // Registered before the check, so that a settlement in between is not missed.
            settled.as_mut().enable();
            let refused = match self.begin(ip, email, now()) {
                Ok(attempt) => return Ok(attempt),
                Err(refused) => refused,
            };
            if !self
                .lock()
                .in_flight_for(ip.map(ClientBucket::of), &email_digest(email))
                || tokio::time::timeout_at(deadline, settled).await.is_err()
            {
                return Err(refused);
            }
        }
    }

    /// How many client buckets and how many addresses are tracked now (for tests and
    /// metrics).
    pub fn tracked(&self) -> (usize, usize) {
        let counters = self.lock();
        (counters.per_client.len(), counters.per_email.len())
    }

    fn lock(&self) -> MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The wait when `client` has used its attempts of the last minute.
    fn client_wait(&self, counters: &mut Counters, client: ClientBucket, now: i64) -> Option<u64> {
        let attempts = live(&mut counters.per_client, &client, now, IP_WINDOW_SECONDS)?;
        full_wait(attempts, self.per_ip, IP_WINDOW_SECONDS, now)
    }

    /// The wait of the per-address limits for `client`.
    fn email_wait(
        &self,
        counters: &mut Counters,
        email: EmailDigest,
        client: Option<ClientBucket>,
        now: i64,
    ) -> Option<u64> {
        let limit = self.per_email;
        let window = EMAIL_WINDOW_SECONDS;
        let own = live(
            &mut counters.per_client_email,
            &(email, client),
            now,
            window,
        )?;
        if let Some(wait) = full_wait(own, limit, window, now) {
            return Some(wait);
        }
        // The client has failures of its own: the address's total refuses it too.
        let own_clears = wait_for_oldest(own, window, now);
        let all = live(&mut counters.per_email, &email, now, window)?;
        full_wait(all, limit, window, now).map(|all_clears| all_clears.min(own_clears))
    }

    /// Gives back the reservation of an attempt; with `forgive`, also forgets the
    /// client's own attempts for the address.
    fn give_back(&self, attempt: &LoginAttempt<'_>, forgive: bool) {
        let mut counters = self.lock();
        if let Some(client) = attempt.client {
            remove_one(&mut counters.per_client, &client, attempt.started);
        }
        remove_one(&mut counters.per_email, &attempt.email, attempt.started);
        let pair = (attempt.email, attempt.client);
        if forgive {
            counters.per_client_email.remove(&pair);
        } else {
            remove_one(&mut counters.per_client_email, &pair, attempt.started);
        }
    }
}

/// A password check counted by [`LoginThrottle::begin`], to settle once the password is
/// verified. Dropping it unsettled keeps it counted as a failure (the client went away
/// while its password was being verified).
#[must_use = "settle the attempt with `succeeded`, `failed` or `abandoned`"]
#[derive(Debug)]
pub struct LoginAttempt<'a> {
    throttle: &'a LoginThrottle,
    client: Option<ClientBucket>,
    email: EmailDigest,
    started: i64,
}

impl LoginAttempt<'_> {
    /// The password was right: the attempt is not counted, and the client's own failures
    /// for this address are forgotten.
    pub fn succeeded(self) {
        self.throttle.give_back(&self, true);
    }

    /// The password was wrong: the attempt stays counted.
    pub fn failed(self) {}

    /// The password could not be checked (the user store failed): the attempt is not
    /// counted.
    pub fn abandoned(self) {
        self.throttle.give_back(&self, false);
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        let mut counters = self.throttle.lock();
        settle_one(&mut counters.in_flight_per_client, self.client);
        settle_one(&mut counters.in_flight_per_email, self.email);
        drop(counters);
        self.throttle.settled.notify_waiters();
    }
}

impl Counters {
    /// Whether attempts of this client, or for this address, are in flight: then a
    /// refusal may turn into a place once they settle.
    fn in_flight_for(&self, client: Option<ClientBucket>, email: &EmailDigest) -> bool {
        self.in_flight_per_client.contains_key(&client)
            || self.in_flight_per_email.contains_key(email)
    }

    /// Drops expired keys, at most once a minute.
    fn sweep_if_due(&mut self, now: i64) {
        if now.saturating_sub(self.last_sweep) < IP_WINDOW_SECONDS {
            return;
        }
        self.last_sweep = now;
        retain_live(&mut self.per_client, now, IP_WINDOW_SECONDS);
        retain_live(&mut self.per_email, now, EMAIL_WINDOW_SECONDS);
        retain_live(&mut self.per_client_email, now, EMAIL_WINDOW_SECONDS);
    }
}

/// One attempt of `key` settled; the key goes when none is left in flight.
fn settle_one<K: Eq + Hash>(in_flight: &mut HashMap<K, usize>, key: K) {
    if let Entry::Occupied(mut entry) = in_flight.entry(key) {
        *entry.get_mut() -= 1;
        if *entry.get() == 0 {
            entry.remove();
        }
    }
}

fn email_digest(email: &str) -> EmailDigest {
    Sha256::digest(email_key(email).as_bytes()).into()
}

/// The attempts of `key` still in the window ending at `now`; `None` when there are
/// none (the key is then removed).
fn live<'m, K: Eq + Hash>(
    map: &'m mut HashMap<K, Attempts>,
    key: &K,
    now: i64,
    window: i64,
) -> Option<&'m Attempts> {
    let attempts = map.get_mut(key)?;
    let start = now.saturating_sub(window);
    while attempts.front().is_some_and(|&at| at <= start) {
        attempts.pop_front();
    }
    if attempts.is_empty() {
        map.remove(key);
        return None;
    }
    map.get(key)
}

/// The wait when `attempts` has reached `limit` (0: no limit).
fn full_wait(attempts: &Attempts, limit: u32, window: i64, now: i64) -> Option<u64> {
    (limit > 0 && attempts.len() >= limit as usize).then(|| wait_for_oldest(attempts, window, now))
}

/// Seconds until the oldest of `attempts` leaves the window (at least 1).
fn wait_for_oldest(attempts: &Attempts, window: i64, now: i64) -> u64 {
    let oldest = attempts.front().copied().unwrap_or(now);
    let wait = oldest.saturating_add(window).saturating_sub(now).max(1);
    u64::try_from(wait).unwrap_or(1)
}

/// Counts an attempt at `now` for `key`, keeping at most `limit` (0: none kept).
fn add<K: Eq + Hash + Clone>(
    map: &mut HashMap<K, Attempts>,
    key: K,
    now: i64,
    limit: u32,
    max_keys: usize,
) {
    if limit == 0 {
        return;
    }
    if !map.contains_key(&key) && map.len() >= max_keys {
        make_room(map);
    }
    let attempts = map.entry(key).or_default();
    attempts.push_back(now);
    while attempts.len() > limit as usize {
        attempts.pop_front();
    }
}

/// Removes one attempt started at `started` from `key`.
fn remove_one<K: Eq + Hash>(map: &mut HashMap<K, Attempts>, key: &K, started: i64) {
    if let Some(attempts) = map.get_mut(key) {
        if let Some(index) = attempts.iter().rposition(|&at| at == started) {
            attempts.remove(index);
        }
        if attempts.is_empty() {
            map.remove(key);
        }
    }
}

fn retain_live<K>(map: &mut HashMap<K, Attempts>, now: i64, window: i64) {
    let start = now.saturating_sub(window);
    map.retain(|_, attempts| attempts.back().is_some_and(|&at| at > start));
}

/// Drops the key whose newest attempt is the oldest.
fn make_room<K: Eq + Hash + Clone>(map: &mut HashMap<K, Attempts>) {
    let stalest = map
        .iter()
        .min_by_key(|(_, attempts)| attempts.back().copied().unwrap_or(i64::MIN))
        .map(|(key, _)| key.clone());
    if let Some(stalest) = stalest {
        map.remove(&stalest);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        use std::time::Duration;
        assert_eq!(Throttled::after(Duration::ZERO).retry_after, 1);
        assert_eq!(Throttled::after(Duration::from_millis(1)).retry_after, 1);
        assert_eq!(Throttled::after(Duration::from_secs(40)).retry_after, 40);
        assert_eq!(
            Throttled::after(Duration::from_millis(40_001)).retry_after,
            41
        );
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    /// `n` failed attempts for `email` from `ip` at `second`.
    fn fail(throttle: &LoginThrottle, ip: Option<IpAddr>, email: &str, second: i64, n: usize) {
        for _ in 0..n {
            throttle.begin(ip, email, at(second)).unwrap().failed();
        }
    }

    #[test]
    fn attempts_count_when_they_start() {
        let throttle = LoginThrottle::new(0, 3);
        // Three attempts in flight, none settled: the fourth is refused.
        let pending: Vec<_> = (0..3)
            .map(|_| throttle.begin(ip(1), "a@x.io", at(0)).unwrap())
            .collect();
        assert_eq!(
            throttle.begin(ip(1), "a@x.io", at(1)).unwrap_err(),
            Throttled { retry_after: 299 }
        );
        drop(pending);
        assert!(throttle.begin(ip(1), "a@x.io", at(2)).is_err());
        // The oldest leaves the window at 300 s.
        assert!(throttle.begin(ip(1), "a@x.io", at(300)).is_ok());
    }

    #[test]
    fn a_success_gives_its_reservation_back_and_forgives_the_client() {
        let throttle = LoginThrottle::new(2, 3);
        fail(&throttle, ip(1), "a@x.io", 0, 1);
        throttle.begin(ip(1), "a@x.io", at(1)).unwrap().succeeded();
        // The success is not counted against the client's 2 a minute...
        fail(&throttle, ip(1), "a@x.io", 2, 1);
        assert!(throttle.begin(ip(1), "a@x.io", at(3)).is_err());
        // ...and its earlier failure for the address is forgiven: with the address at
        // its limit through others, this client is still verified.
        let throttle = LoginThrottle::new(0, 3);
        fail(&throttle, ip(1), "a@x.io", 0, 2);
        throttle.begin(ip(1), "a@x.io", at(1)).unwrap().succeeded();
        fail(&throttle, ip(2), "a@x.io", 2, 1);
        assert!(throttle.begin(ip(2), "a@x.io", at(3)).is_err());
        assert!(throttle.begin(ip(1), "a@x.io", at(3)).is_ok());
    }

    #[tokio::test]
    async fn a_refusal_while_attempts_are_in_flight_waits_for_them() {
        let throttle = std::sync::Arc::new(LoginThrottle::new(1, 0));
        let wait = std::time::Duration::from_secs(10);
        // The only place of the client is taken by an attempt in flight.
        let first = throttle.begin(ip(1), "a@x.io", at(0)).unwrap();
        let waiting = {
            let throttle = std::sync::Arc::clone(&throttle);
            tokio::spawn(async move {
                let attempt = throttle
                    .begin_or_wait(ip(1), "b@x.io", || at(1), wait)
                    .await;
                attempt.map(LoginAttempt::failed).is_ok()
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "waits while the first is in flight");
        first.succeeded();
        assert!(
            waiting.await.unwrap(),
            "let in once the first gave its place back"
        );

        // A failure ahead keeps its place: the waiter is then refused.
        let throttle = std::sync::Arc::new(LoginThrottle::new(1, 0));
        let first = throttle.begin(ip(1), "a@x.io", at(0)).unwrap();
        let waiting = {
            let throttle = std::sync::Arc::clone(&throttle);
            tokio::spawn(async move {
                throttle
                    .begin_or_wait(ip(1), "b@x.io", || at(1), wait)
                    .await
                    .map(LoginAttempt::failed)
            })
        };
        tokio::task::yield_now().await;
        first.failed();
        assert_eq!(waiting.await.unwrap(), Err(Throttled { retry_after: 59 }));
        // With nothing in flight, a refusal is at once.
        let started = std::time::Instant::now();
        assert!(
            throttle
                .begin_or_wait(ip(1), "c@x.io", || at(2), wait)
                .await
                .is_err()
        );
        assert!(started.elapsed() < wait);
    }

    #[test]
    fn an_abandoned_attempt_is_not_counted() {
        let throttle = LoginThrottle::new(1, 1);
        throttle.begin(ip(1), "a@x.io", at(0)).unwrap().abandoned();
        throttle.begin(ip(1), "a@x.io", at(0)).unwrap().abandoned();
        assert!(throttle.begin(ip(1), "a@x.io", at(0)).is_ok());
    }

    #[test]
    fn an_address_locks_only_clients_with_failures_of_their_own() {
        let throttle = LoginThrottle::new(0, 5);
        fail(&throttle, ip(1), "owner@x.io", 0, 5);
        // The attacker's client is refused; the owner's, without failures, is verified.
        assert!(throttle.begin(ip(1), "owner@x.io", at(1)).is_err());
        let owner = throttle.begin(ip(2), "OWNER@x.io", at(1)).unwrap();
        owner.succeeded();
        assert!(throttle.begin(ip(2), "owner@x.io", at(2)).is_ok());
        // A third client guessing wrong once is then refused for this address.
        fail(&throttle, ip(3), "owner@x.io", 3, 1);
        assert_eq!(
            throttle.begin(ip(3), "owner@x.io", at(10)).unwrap_err(),
            Throttled { retry_after: 290 }
        );
        assert!(throttle.begin(ip(3), "other@x.io", at(10)).is_ok());
    }

    #[test]
    fn counts_per_client_and_reports_the_longer_wait() {
        let throttle = LoginThrottle::new(2, 2);
        fail(&throttle, ip(1), "a@x.io", 0, 1);
        fail(&throttle, ip(1), "b@x.io", 30, 1);
        assert_eq!(
            throttle.begin(ip(1), "c@x.io", at(40)).unwrap_err(),
            Throttled { retry_after: 20 }
        );
        fail(&throttle, ip(1), "a@x.io", 61, 1);
        assert_eq!(
            throttle.begin(ip(1), "a@x.io", at(62)).unwrap_err(),
            Throttled { retry_after: 238 }
        );
    }

    #[test]
    fn an_ipv6_64_is_one_client() {
        let throttle = LoginThrottle::new(2, 0);
        let first = "2001:db8:0:1::1".parse().ok();
        let second = "2001:db8:0:1:ffff::2".parse().ok();
        fail(&throttle, first, "a@x.io", 0, 1);
        fail(&throttle, second, "b@x.io", 0, 1);
        assert!(
            throttle
                .begin("2001:db8:0:1:1::3".parse().ok(), "c@x.io", at(1))
                .is_err()
        );
        assert!(
            throttle
                .begin("2001:db8:0:2::1".parse().ok(), "c@x.io", at(1))
                .is_ok()
        );
    }

    #[test]
    fn spellings_that_look_the_same_share_one_counter() {
        let throttle = LoginThrottle::new(0, 3);
        for (second, spelling) in ["xσ@x.io", "XΣ@x.io", "xς@X.IO"].iter().enumerate() {
            fail(&throttle, None, spelling, second as i64, 1);
        }
        assert!(throttle.begin(None, "Xσ@x.io", at(10)).is_err());
    }

    #[test]
    fn zero_disables() {
        let throttle = LoginThrottle::new(0, 0);
        for second in 0..100 {
            fail(&throttle, ip(1), "a@x.io", second, 1);
        }
        assert!(throttle.begin(ip(1), "a@x.io", at(100)).is_ok());
        assert_eq!(throttle.tracked(), (0, 0));
    }

    #[test]
    fn memory_is_bounded_and_expired_keys_are_swept() {
        let throttle = LoginThrottle::new(5, 5).with_max_tracked(10);
        for n in 0..100u8 {
            fail(&throttle, ip(n), &format!("{n}@x.io"), 0, 1);
        }
        assert_eq!(throttle.tracked(), (10, 10));
        // Long addresses take a digest's room, and everything goes once expired.
        fail(&throttle, ip(1), &"x".repeat(60_000), 1, 1);
        fail(&throttle, ip(200), "late@x.io", 301, 1);
        assert_eq!(throttle.tracked(), (1, 1));
    }
}
