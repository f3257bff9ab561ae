//! The login throttle: counters of password checks per client and per e-mail address,
//! reserved before the password is verified, in this process's memory or shared by every
//! instance through [`AttemptCounters`].

mod client_bucket;
mod rate_limiter;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jwt_allauth::StoreError;
use jwt_allauth::attempts::{
    AttemptCounters, CounterKey, CounterQuery, CounterState, GiveBack, MemoryAttemptCounters,
    Refused,
};
use jwt_allauth::email::email_key;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::http_settings::HttpSettings;

pub use self::client_bucket::ClientBucket;
pub use self::rate_limiter::{RateLimitError, RateLimiter};
pub use jwt_allauth::attempts::DEFAULT_MAX_TRACKED;

/// The window of `LOGIN_FAILURES_PER_IP`, in seconds.
pub const IP_WINDOW_SECONDS: i64 = 60;
/// The window of `LOGIN_FAILURES_PER_EMAIL`, in seconds.
pub const EMAIL_WINDOW_SECONDS: i64 = 300;
/// How long the routes let a login or password change wait for attempts in flight
/// before answering 429 ([`LoginThrottle::begin_or_wait`]): well under the server's 30 s
/// request timeout.
pub const THROTTLE_WAIT: Duration = Duration::from_secs(10);

/// The counter scope of the per-client limit.
pub const SCOPE_CLIENT: &str = "login_client";
/// The counter scope of an address's attempts from all clients.
pub const SCOPE_EMAIL: &str = "login_email";
/// The counter scope of an address's attempts from one client.
pub const SCOPE_CLIENT_EMAIL: &str = "login_client_email";

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

/// Why [`LoginThrottle::begin`] did not start an attempt.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    /// A limit refuses the attempt: 429 with `Retry-After`.
    #[error("too many failed login attempts (retry after {} s)", .0.retry_after)]
    Throttled(Throttled),
    /// The shared counters could not be read or written. The attempt is refused (the
    /// password is not checked): the routes answer 503 `service_unavailable`.
    #[error("the login throttle's counters are unavailable")]
    Unavailable(#[source] StoreError),
}

impl ThrottleError {
    /// The refusal, when a limit refused.
    pub fn throttled(&self) -> Option<Throttled> {
        match self {
            Self::Throttled(throttled) => Some(*throttled),
            Self::Unavailable(_) => None,
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
/// so memory does not grow with the address's length and no counter holds an address.
///
/// # Where the counts live
///
/// In this process's memory by default ([`MemoryAttemptCounters`]: each key keeps at
/// most `limit` timestamps, expired keys are swept once a minute, and a counter holding
/// [`DEFAULT_MAX_TRACKED`] keys drops the key with the oldest attempt to make room).
/// [`with_counters`](Self::with_counters) shares them instead, e.g. in PostgreSQL
/// (`jwt_allauth_sqlx::PostgresAttemptCounters`), so that every instance counts the same
/// attempts: the limits then hold for all instances together. Reading and recording an
/// attempt is atomic in the counters, so the guarantee above holds across instances.
/// When shared counters fail, the attempt is refused ([`ThrottleError::Unavailable`]):
/// a guess is never verified uncounted. Only the wait of
/// [`begin_or_wait`](Self::begin_or_wait) sees this process's attempts in flight.
#[derive(Debug)]
pub struct LoginThrottle {
    per_ip: u32,
    per_email: u32,
    counters: Arc<dyn AttemptCounters>,
    /// The same counters when they are this process's own (for [`tracked`](Self::tracked)).
    memory: Option<Arc<MemoryAttemptCounters>>,
    in_flight: Mutex<InFlight>,
    /// Woken whenever an attempt is settled, for [`begin_or_wait`](Self::begin_or_wait).
    settled: Notify,
    /// How many attempts have settled in this process, for
    /// [`begin_or_wait`](Self::begin_or_wait).
    settlements: AtomicU64,
}

/// The SHA-256 of an address's [`email_key`].
type EmailDigest = [u8; 32];

/// Attempts begun and not settled yet in this process, per client and per address: what
/// a refused attempt may wait for.
#[derive(Debug, Default)]
struct InFlight {
    per_client: HashMap<Option<ClientBucket>, usize>,
    per_email: HashMap<EmailDigest, usize>,
}

/// The counters one attempt touches.
#[derive(Debug, Clone, Copy)]
struct AttemptKeys {
    client: Option<CounterKey>,
    email: CounterKey,
    client_email: CounterKey,
}

impl AttemptKeys {
    fn new(client: Option<ClientBucket>, email: &EmailDigest) -> Self {
        let client_text = client.map(|client| client.address().to_string());
        let client_key = client_text.as_ref().map(|text| CounterKey {
            scope: SCOPE_CLIENT,
            digest: Sha256::digest(text.as_bytes()).into(),
        });
        let mut pair = Sha256::new();
        pair.update(email);
        match &client_text {
            Some(text) => {
                pair.update([1]);
                pair.update(text.as_bytes());
            }
            None => pair.update([0]),
        }
        Self {
            client: client_key,
            email: CounterKey {
                scope: SCOPE_EMAIL,
                digest: *email,
            },
            client_email: CounterKey {
                scope: SCOPE_CLIENT_EMAIL,
                digest: pair.finalize().into(),
            },
        }
    }
}

/// The windows of the limits, in milliseconds.
const IP_WINDOW_MS: i64 = IP_WINDOW_SECONDS * 1000;
const EMAIL_WINDOW_MS: i64 = EMAIL_WINDOW_SECONDS * 1000;

impl LoginThrottle {
    /// A throttle allowing `per_ip` attempts per client in 60 s and `per_email` attempts
    /// per address in 300 s (0 disables either), counting in this process's memory.
    pub fn new(per_ip: u32, per_email: u32) -> Self {
        let memory = Arc::new(MemoryAttemptCounters::new());
        Self {
            per_ip,
            per_email,
            counters: Arc::clone(&memory) as Arc<dyn AttemptCounters>,
            memory: Some(memory),
            in_flight: Mutex::new(InFlight::default()),
            settled: Notify::new(),
            settlements: AtomicU64::new(0),
        }
    }

    /// The throttle of `LOGIN_FAILURES_PER_IP` and `LOGIN_FAILURES_PER_EMAIL`.
    pub fn from_settings(settings: &HttpSettings) -> Self {
        Self::new(
            settings.login_failures_per_ip,
            settings.login_failures_per_email,
        )
    }

    /// The same throttle counting in fresh memory counters tracking at most `max` keys
    /// in each counter. Defaults to [`DEFAULT_MAX_TRACKED`].
    pub fn with_max_tracked(mut self, max: usize) -> Self {
        let memory = Arc::new(MemoryAttemptCounters::with_max_tracked(max));
        self.counters = Arc::clone(&memory) as Arc<dyn AttemptCounters>;
        self.memory = Some(memory);
        self
    }

    /// The same throttle counting in `counters`, e.g. counters every instance shares.
    /// Defaults to this process's memory.
    pub fn with_counters(mut self, counters: Arc<dyn AttemptCounters>) -> Self {
        self.counters = counters;
        self.memory = None;
        self
    }

    /// The queries of an attempt's counters, and where each one is in them.
    fn queries(&self, keys: &AttemptKeys) -> Vec<CounterQuery> {
        let mut queries = Vec::with_capacity(3);
        if let Some(client) = keys.client {
            queries.push(CounterQuery {
                key: client,
                window: Duration::from_millis(IP_WINDOW_MS as u64),
                limit: self.per_ip,
            });
        }
        for key in [keys.email, keys.client_email] {
            queries.push(CounterQuery {
                key,
                window: Duration::from_millis(EMAIL_WINDOW_MS as u64),
                limit: self.per_email,
            });
        }
        queries
    }

    /// The rules above, on the states of an attempt's counters (client first when
    /// known, then the address, then the pair): the longest wait of the limits that
    /// refuse, in milliseconds.
    fn decide(&self, states: &[CounterState], now: i64) -> Result<(), Refused> {
        let (client, email, own) = match states {
            [client, email, own] => (Some(client), email, own),
            [email, own] => (None, email, own),
            _ => return Ok(()),
        };
        let mut wait = None;
        if let Some(client) = client
            && client.is_full(self.per_ip)
        {
            wait = wait.max(Some(client.wait_ms(IP_WINDOW_MS, now)));
        }
        wait = wait.max(self.email_wait(email, own, now));
        wait.map_or(Ok(()), |wait_ms| Err(Refused { wait_ms }))
    }

    /// The wait of the per-address limits for a client whose own attempts for the
    /// address are `own`.
    fn email_wait(&self, all: &CounterState, own: &CounterState, now: i64) -> Option<u64> {
        if own.count == 0 {
            return None;
        }
        let own_clears = own.wait_ms(EMAIL_WINDOW_MS, now);
        if own.is_full(self.per_email) {
            return Some(own_clears);
        }
        // The client has failures of its own: the address's total refuses it too.
        all.is_full(self.per_email)
            .then(|| all.wait_ms(EMAIL_WINDOW_MS, now).min(own_clears))
    }

    /// Starts a password check for `email` from `ip`: refused when a limit refuses it
    /// (`retry_after` is then the longest wait of the limits that refuse) or when shared
    /// counters fail, otherwise the attempt, already counted, to settle once the
    /// password is verified.
    pub async fn begin(
        &self,
        ip: Option<IpAddr>,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<LoginAttempt<'_>, ThrottleError> {
        // Whole seconds, as `Retry-After` counts them.
        let started = now.unix_timestamp().saturating_mul(1000);
        let client = ip.map(ClientBucket::of);
        let email = email_digest(email);
        let keys = AttemptKeys::new(client, &email);
        // In flight before it is counted: whoever the counters refuse because of this
        // attempt finds it in flight and waits for it ([`begin_or_wait`]), even while
        // shared counters are still answering.
        {
            let mut in_flight = self.lock();
            *in_flight.per_client.entry(client).or_default() += 1;
            *in_flight.per_email.entry(email).or_default() += 1;
        }
        if self.per_ip > 0 || self.per_email > 0 {
            let queries = self.queries(&keys);
            let decide = |states: &[CounterState]| self.decide(states, started);
            let refusal = match self.counters.reserve(&queries, started, &decide).await {
                Ok(Ok(())) => None,
                Ok(Err(refused)) => {
                    let wait = Duration::from_millis(refused.wait_ms);
                    Some(ThrottleError::Throttled(Throttled::after(wait)))
                }
                Err(error) => Some(ThrottleError::Unavailable(error)),
            };
            if let Some(refusal) = refusal {
                let mut in_flight = self.lock();
                settle_one(&mut in_flight.per_client, client);
                settle_one(&mut in_flight.per_email, email);
                return Err(refusal);
            }
        }
        Ok(LoginAttempt {
            throttle: self,
            client,
            email,
            keys,
            started,
        })
    }

    /// Like [`begin`](Self::begin), but a refusal while other attempts of the same client
    /// or for the same address are still in flight in this process waits for them to
    /// settle (at most `max_wait`, at the time `now` tells) and tries again.
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
    ) -> Result<LoginAttempt<'_>, ThrottleError> {
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            // Registered before the check, so that a settlement in between is not missed.
            settled.as_mut().enable();
            let settlements = self.settlements.load(Ordering::Acquire);
            let refused = match self.begin(ip, email, now()).await {
                Ok(attempt) => return Ok(attempt),
                Err(ThrottleError::Throttled(refused)) => refused,
                Err(unavailable) => return Err(unavailable),
            };
            // An attempt settled while this one was being decided (shared counters take
            // a database round trip): the refusal may be stale, so decide again.
            if self.settlements.load(Ordering::Acquire) != settlements
                && tokio::time::Instant::now() < deadline
            {
                continue;
            }
            if !self
                .lock()
                .in_flight_for(ip.map(ClientBucket::of), &email_digest(email))
                || tokio::time::timeout_at(deadline, settled).await.is_err()
            {
                return Err(ThrottleError::Throttled(refused));
            }
        }
    }

    /// How many client buckets and how many addresses are tracked now, when the counts
    /// are in this process's memory; `(0, 0)` with shared counters (for tests and
    /// metrics).
    pub fn tracked(&self) -> (usize, usize) {
        self.memory.as_ref().map_or((0, 0), |memory| {
            (memory.tracked(SCOPE_CLIENT), memory.tracked(SCOPE_EMAIL))
        })
    }

    fn lock(&self) -> MutexGuard<'_, InFlight> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives back the reservation of an attempt; with `forgive`, also forgets the
    /// client's own attempts for the address. A failure of shared counters is logged
    /// and leaves the attempt counted (as a failure would be).
    async fn give_back(&self, attempt: &LoginAttempt<'_>, forgive: bool) {
        let keys = attempt.keys;
        let started = attempt.started;
        let mut items = Vec::with_capacity(3);
        if self.per_ip > 0
            && let Some(client) = keys.client
        {
            items.push(GiveBack::One {
                key: client,
                started,
            });
        }
        if self.per_email > 0 {
            items.push(GiveBack::One {
                key: keys.email,
                started,
            });
            items.push(if forgive {
                GiveBack::All {
                    key: keys.client_email,
                }
            } else {
                GiveBack::One {
                    key: keys.client_email,
                    started,
                }
            });
        }
        if items.is_empty() {
            return;
        }
        if let Err(error) = self.counters.give_back(&items).await {
            tracing::warn!(
                error = %crate::error_response::error_chain(&error),
                "a login attempt could not be given back to the throttle: it stays counted"
            );
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
    keys: AttemptKeys,
    /// Unix milliseconds (whole seconds).
    started: i64,
}

impl LoginAttempt<'_> {
    /// The password was right: the attempt is not counted, and the client's own failures
    /// for this address are forgotten.
    pub async fn succeeded(self) {
        self.throttle.give_back(&self, true).await;
    }

    /// The password was wrong: the attempt stays counted.
    pub fn failed(self) {}

    /// The password could not be checked (the user store failed): the attempt is not
    /// counted.
    pub async fn abandoned(self) {
        self.throttle.give_back(&self, false).await;
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.throttle.lock();
        settle_one(&mut in_flight.per_client, self.client);
        settle_one(&mut in_flight.per_email, self.email);
        drop(in_flight);
        self.throttle.settlements.fetch_add(1, Ordering::Release);
        self.throttle.settled.notify_waiters();
    }
}

impl InFlight {
    /// Whether attempts of this client, or for this address, are in flight: then a
    /// refusal may turn into a place once they settle.
    fn in_flight_for(&self, client: Option<ClientBucket>, email: &EmailDigest) -> bool {
        self.per_client.contains_key(&client) || self.per_email.contains_key(email)
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
    async fn fail(
        throttle: &LoginThrottle,
        ip: Option<IpAddr>,
        email: &str,
        second: i64,
        n: usize,
    ) {
        for _ in 0..n {
            throttle
                .begin(ip, email, at(second))
                .await
                .unwrap()
                .failed();
        }
    }

    /// The refusal of a `begin` that must be refused by a limit.
    fn refused(outcome: Result<LoginAttempt<'_>, ThrottleError>) -> Throttled {
        outcome.unwrap_err().throttled().unwrap()
    }

    #[tokio::test]
    async fn attempts_count_when_they_start() {
        let throttle = LoginThrottle::new(0, 3);
        // Three attempts in flight, none settled: the fourth is refused.
        let mut pending = Vec::new();
        for _ in 0..3 {
            pending.push(throttle.begin(ip(1), "a@x.io", at(0)).await.unwrap());
        }
        assert_eq!(
            refused(throttle.begin(ip(1), "a@x.io", at(1)).await),
            Throttled { retry_after: 299 }
        );
        drop(pending);
        assert!(throttle.begin(ip(1), "a@x.io", at(2)).await.is_err());
        // The oldest leaves the window at 300 s.
        assert!(throttle.begin(ip(1), "a@x.io", at(300)).await.is_ok());
    }

    #[tokio::test]
    async fn a_success_gives_its_reservation_back_and_forgives_the_client() {
        let throttle = LoginThrottle::new(2, 3);
        fail(&throttle, ip(1), "a@x.io", 0, 1).await;
        throttle
            .begin(ip(1), "a@x.io", at(1))
            .await
            .unwrap()
            .succeeded()
            .await;
        // The success is not counted against the client's 2 a minute...
        fail(&throttle, ip(1), "a@x.io", 2, 1).await;
        assert!(throttle.begin(ip(1), "a@x.io", at(3)).await.is_err());
        // ...and its earlier failure for the address is forgiven: with the address at
        // its limit through others, this client is still verified.
        let throttle = LoginThrottle::new(0, 3);
        fail(&throttle, ip(1), "a@x.io", 0, 2).await;
        throttle
            .begin(ip(1), "a@x.io", at(1))
            .await
            .unwrap()
            .succeeded()
            .await;
        fail(&throttle, ip(2), "a@x.io", 2, 1).await;
        assert!(throttle.begin(ip(2), "a@x.io", at(3)).await.is_err());
        assert!(throttle.begin(ip(1), "a@x.io", at(3)).await.is_ok());
    }

    #[tokio::test]
    async fn a_refusal_while_attempts_are_in_flight_waits_for_them() {
        let throttle = std::sync::Arc::new(LoginThrottle::new(1, 0));
        let wait = std::time::Duration::from_secs(10);
        // The only place of the client is taken by an attempt in flight.
        let first = throttle.begin(ip(1), "a@x.io", at(0)).await.unwrap();
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
        first.succeeded().await;
        assert!(
            waiting.await.unwrap(),
            "let in once the first gave its place back"
        );

        // A failure ahead keeps its place: the waiter is then refused.
        let throttle = std::sync::Arc::new(LoginThrottle::new(1, 0));
        let first = throttle.begin(ip(1), "a@x.io", at(0)).await.unwrap();
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
        assert_eq!(
            waiting
                .await
                .unwrap()
                .map_err(|refusal| refusal.throttled()),
            Err(Some(Throttled { retry_after: 59 }))
        );
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

    #[tokio::test]
    async fn an_abandoned_attempt_is_not_counted() {
        let throttle = LoginThrottle::new(1, 1);
        throttle
            .begin(ip(1), "a@x.io", at(0))
            .await
            .unwrap()
            .abandoned()
            .await;
        throttle
            .begin(ip(1), "a@x.io", at(0))
            .await
            .unwrap()
            .abandoned()
            .await;
        assert!(throttle.begin(ip(1), "a@x.io", at(0)).await.is_ok());
    }

    #[tokio::test]
    async fn an_address_locks_only_clients_with_failures_of_their_own() {
        let throttle = LoginThrottle::new(0, 5);
        fail(&throttle, ip(1), "owner@x.io", 0, 5).await;
        // The attacker's client is refused; the owner's, without failures, is verified.
        assert!(throttle.begin(ip(1), "owner@x.io", at(1)).await.is_err());
        let owner = throttle.begin(ip(2), "OWNER@x.io", at(1)).await.unwrap();
        owner.succeeded().await;
        assert!(throttle.begin(ip(2), "owner@x.io", at(2)).await.is_ok());
        // A third client guessing wrong once is then refused for this address.
        fail(&throttle, ip(3), "owner@x.io", 3, 1).await;
        assert_eq!(
            refused(throttle.begin(ip(3), "owner@x.io", at(10)).await),
            Throttled { retry_after: 290 }
        );
        assert!(throttle.begin(ip(3), "other@x.io", at(10)).await.is_ok());
    }

    #[tokio::test]
    async fn counts_per_client_and_reports_the_longer_wait() {
        let throttle = LoginThrottle::new(2, 2);
        fail(&throttle, ip(1), "a@x.io", 0, 1).await;
        fail(&throttle, ip(1), "b@x.io", 30, 1).await;
        assert_eq!(
            refused(throttle.begin(ip(1), "c@x.io", at(40)).await),
            Throttled { retry_after: 20 }
        );
        fail(&throttle, ip(1), "a@x.io", 61, 1).await;
        assert_eq!(
            refused(throttle.begin(ip(1), "a@x.io", at(62)).await),
            Throttled { retry_after: 238 }
        );
    }

    #[tokio::test]
    async fn an_ipv6_64_is_one_client() {
        let throttle = LoginThrottle::new(2, 0);
        let first = "2001:db8:0:1::1".parse().ok();
        let second = "2001:db8:0:1:ffff::2".parse().ok();
        fail(&throttle, first, "a@x.io", 0, 1).await;
        fail(&throttle, second, "b@x.io", 0, 1).await;
        assert!(
            throttle
                .begin("2001:db8:0:1:1::3".parse().ok(), "c@x.io", at(1))
                .await
                .is_err()
        );
        assert!(
            throttle
                .begin("2001:db8:0:2::1".parse().ok(), "c@x.io", at(1))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn spellings_that_look_the_same_share_one_counter() {
        let throttle = LoginThrottle::new(0, 3);
        for (second, spelling) in ["xσ@x.io", "XΣ@x.io", "xς@X.IO"].iter().enumerate() {
            fail(&throttle, None, spelling, second as i64, 1).await;
        }
        assert!(throttle.begin(None, "Xσ@x.io", at(10)).await.is_err());
    }

    #[tokio::test]
    async fn zero_disables() {
        let throttle = LoginThrottle::new(0, 0);
        for second in 0..100 {
            fail(&throttle, ip(1), "a@x.io", second, 1).await;
        }
        assert!(throttle.begin(ip(1), "a@x.io", at(100)).await.is_ok());
        assert_eq!(throttle.tracked(), (0, 0));
    }

    #[tokio::test]
    async fn memory_is_bounded_and_expired_keys_are_swept() {
        let throttle = LoginThrottle::new(5, 5).with_max_tracked(10);
        for n in 0..100u8 {
            fail(&throttle, ip(n), &format!("{n}@x.io"), 0, 1).await;
        }
        assert_eq!(throttle.tracked(), (10, 10));
        // Long addresses take a digest's room, and everything goes once expired.
        fail(&throttle, ip(1), &"x".repeat(60_000), 1, 1).await;
        fail(&throttle, ip(200), "late@x.io", 301, 1).await;
        assert_eq!(throttle.tracked(), (1, 1));
    }
}
