//! [`AttemptCounters`]: the sliding-window counters behind the login throttle and the
//! account flows' rate limits, as a trait, so that several server instances can share
//! them in a database while one process keeps them in memory ([`MemoryAttemptCounters`]).
//!
//! The counters know no rule: the caller (the axum crate's `LoginThrottle` and
//! `RateLimiter`) names the counters an attempt touches, and decides, from what they
//! hold, whether it may go on. What a store guarantees is that reading the counters,
//! deciding and recording the attempt happen as one step: two attempts on the same
//! counter never both decide on a state without the other.
//!
//! Keys are 32-byte digests (the caller hashes addresses and client buckets), so no
//! counter ever holds an e-mail address in clear. Times are Unix milliseconds, passed in.

mod memory;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::error::StoreError;

pub use self::memory::{DEFAULT_MAX_TRACKED, MemoryAttemptCounters};

/// A boxed future, as the object-safe [`AttemptCounters`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One counter: a scope (what is counted, e.g. `login_client`) and the digest of the
/// thing counted (a client bucket, an e-mail key, ...).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CounterKey {
    /// What is counted; a short constant name, stored with the key.
    pub scope: &'static str,
    /// The SHA-256 digest of what is counted.
    pub digest: [u8; 32],
}

impl fmt::Debug for CounterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell keys apart in a log, and says nothing of the address.
        let prefix: String = self.digest[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        write!(f, "CounterKey({}, {prefix}…)", self.scope)
    }
}

/// A counter an attempt reads and, unless refused, is recorded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterQuery {
    /// The counter.
    pub key: CounterKey,
    /// How long an attempt stays counted.
    pub window: Duration,
    /// The most attempts the caller looks at: a counter reports at most this many (the
    /// newest). 0: the counter is read as empty and the attempt is not recorded in it.
    pub limit: u32,
}

impl CounterQuery {
    /// The window in milliseconds.
    pub fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }
}

/// What a counter holds in its window: the newest attempts, at most the query's `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterState {
    /// How many attempts (at most the query's limit).
    pub count: u32,
    /// When the oldest of them started (Unix milliseconds); `None` when there are none.
    pub oldest: Option<i64>,
}

impl CounterState {
    /// Whether the counter has reached `limit` (never, for a limit of 0).
    pub fn is_full(&self, limit: u32) -> bool {
        limit > 0 && self.count >= limit
    }

    /// Milliseconds from `now` until the oldest attempt leaves a window of `window_ms`
    /// (at least 1).
    pub fn wait_ms(&self, window_ms: i64, now: i64) -> u64 {
        let oldest = self.oldest.unwrap_or(now);
        let wait = oldest.saturating_add(window_ms).saturating_sub(now);
        u64::try_from(wait).unwrap_or(0).max(1)
    }
}

/// A refusal by the decision of [`AttemptCounters::reserve`]: how long until the
/// attempt may be tried again, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Milliseconds to wait.
    pub wait_ms: u64,
}

/// The decision of a reservation, given the states of its counters in the order of the
/// queries: `Ok` records the attempt, `Err` refuses it.
pub type Decide<'a> = &'a (dyn Fn(&[CounterState]) -> Result<(), Refused> + Send + Sync);

/// What [`AttemptCounters::give_back`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveBack {
    /// One attempt of `key` that started at `started` (Unix milliseconds).
    One {
        /// The counter.
        key: CounterKey,
        /// When the attempt started, as it was reserved.
        started: i64,
    },
    /// Every attempt of `key`.
    All {
        /// The counter.
        key: CounterKey,
    },
}

/// Sliding-window counters of attempts, shared by whoever holds the same store.
///
/// # Contract
///
/// - [`reserve`](Self::reserve) reads every counter of `queries` in the window ending at
///   `now` (an attempt is counted while `started > now - window`), passes their states,
///   in order, to `decide`, and when it answers `Ok` records one attempt started at
///   `now` in each counter whose limit is not 0. For any one counter this is atomic:
///   concurrent reservations, from this process or another sharing the store, are
///   decided one after the other.
/// - [`give_back`](Self::give_back) removes attempts (a success gives its reservation
///   back).
/// - [`purge`](Self::purge) deletes attempts older than their window; a store may also
///   do it on its own.
///
/// Every implementation runs the suite `jwt_allauth::attempt_counter_tests!` (feature
/// `test-util`).
pub trait AttemptCounters: Send + Sync + fmt::Debug {
    /// Reads the counters, decides with `decide`, and records the attempt unless refused:
    /// `Ok(Err(refused))` when `decide` refused it.
    fn reserve<'a>(
        &'a self,
        queries: &'a [CounterQuery],
        now: i64,
        decide: Decide<'a>,
    ) -> BoxFuture<'a, Result<Result<(), Refused>, StoreError>>;

    /// Removes the attempts `items` name.
    fn give_back<'a>(&'a self, items: &'a [GiveBack]) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Deletes the attempts whose window ended before `now`; returns how many.
    fn purge(&self, now: i64) -> BoxFuture<'_, Result<u64, StoreError>>;
}
