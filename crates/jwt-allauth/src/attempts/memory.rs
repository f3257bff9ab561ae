//! [`MemoryAttemptCounters`]: the counters of one process.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{AttemptCounters, BoxFuture, CounterQuery, CounterState, Decide, GiveBack, Refused};
use crate::error::StoreError;

/// Most keys each scope tracks at once by default.
pub const DEFAULT_MAX_TRACKED: usize = 100_000;

/// How often, in milliseconds of the callers' `now`, expired keys are swept.
const SWEEP_EVERY_MS: i64 = 60_000;

/// [`AttemptCounters`] in this process's memory, behind one mutex: what one server
/// process (and every SQLite deployment) uses. Nothing is shared with other processes.
///
/// Each key keeps at most its query's `limit` start times (the newest). Expired keys are
/// swept at most once a minute, and a scope holding `max_tracked` keys drops the key
/// whose newest attempt is the oldest to make room, so memory stays bounded whatever
/// the traffic.
#[derive(Debug)]
pub struct MemoryAttemptCounters {
    max_tracked: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    scopes: HashMap<&'static str, HashMap<[u8; 32], Attempts>>,
    last_sweep: i64,
}

/// The start times of a key's counted attempts, oldest first, and its window.
#[derive(Debug, Default)]
struct Attempts {
    window_ms: i64,
    times: VecDeque<i64>,
}

impl Default for MemoryAttemptCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryAttemptCounters {
    /// Empty counters tracking at most [`DEFAULT_MAX_TRACKED`] keys per scope.
    pub fn new() -> Self {
        Self::with_max_tracked(DEFAULT_MAX_TRACKED)
    }

    /// Empty counters tracking at most `max` keys per scope (at least 1).
    pub fn with_max_tracked(max: usize) -> Self {
        Self {
            max_tracked: max.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How many keys of `scope` are tracked now (for tests and metrics).
    pub fn tracked(&self, scope: &str) -> usize {
        self.lock().scopes.get(scope).map_or(0, HashMap::len)
    }

    /// [`AttemptCounters::reserve`], without a future: the memory counters never wait.
    pub fn reserve_now(
        &self,
        queries: &[CounterQuery],
        now: i64,
        decide: Decide<'_>,
    ) -> Result<(), Refused> {
        let mut inner = self.lock();
        inner.sweep_if_due(now);
        let states: Vec<CounterState> = queries
            .iter()
            .map(|query| inner.state(query, now))
            .collect();
        decide(&states)?;
        for query in queries.iter().filter(|query| query.limit > 0) {
            inner.record(query, now, self.max_tracked);
        }
        Ok(())
    }

    /// [`AttemptCounters::give_back`], without a future.
    pub fn give_back_now(&self, items: &[GiveBack]) {
        let mut inner = self.lock();
        for item in items {
            match *item {
                GiveBack::One { key, started } => {
                    let Some(keys) = inner.scopes.get_mut(key.scope) else {
                        continue;
                    };
                    if let Some(attempts) = keys.get_mut(&key.digest) {
                        if let Some(index) = attempts.times.iter().rposition(|&at| at == started) {
                            attempts.times.remove(index);
                        }
                        if attempts.times.is_empty() {
                            keys.remove(&key.digest);
                        }
                    }
                }
                GiveBack::All { key } => {
                    if let Some(keys) = inner.scopes.get_mut(key.scope) {
                        keys.remove(&key.digest);
                    }
                }
            }
        }
    }

    /// [`AttemptCounters::purge`], without a future.
    pub fn purge_now(&self, now: i64) -> u64 {
        let mut inner = self.lock();
        let before = inner.attempt_count();
        inner.sweep(now);
        before.saturating_sub(inner.attempt_count())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// The live attempts of `query`'s key at `now`, dropping the expired ones.
    fn state(&mut self, query: &CounterQuery, now: i64) -> CounterState {
        if query.limit == 0 {
            return CounterState::default();
        }
        let Some(keys) = self.scopes.get_mut(query.key.scope) else {
            return CounterState::default();
        };
        let Some(attempts) = keys.get_mut(&query.key.digest) else {
            return CounterState::default();
        };
        let start = now.saturating_sub(query.window_ms());
        while attempts.times.front().is_some_and(|&at| at <= start) {
            attempts.times.pop_front();
        }
        if attempts.times.is_empty() {
            keys.remove(&query.key.digest);
            return CounterState::default();
        }
        let limit = query.limit as usize;
        let skip = attempts.times.len().saturating_sub(limit);
        CounterState {
            count: u32::try_from(attempts.times.len() - skip).unwrap_or(u32::MAX),
            oldest: attempts.times.get(skip).copied(),
        }
    }

    fn record(&mut self, query: &CounterQuery, now: i64, max_tracked: usize) {
        let keys = self.scopes.entry(query.key.scope).or_default();
        if !keys.contains_key(&query.key.digest) && keys.len() >= max_tracked {
            make_room(keys);
        }
        let attempts = keys.entry(query.key.digest).or_default();
        attempts.window_ms = attempts.window_ms.max(query.window_ms());
        attempts.times.push_back(now);
        while attempts.times.len() > query.limit as usize {
            attempts.times.pop_front();
        }
    }

    fn sweep_if_due(&mut self, now: i64) {
        if now.saturating_sub(self.last_sweep) >= SWEEP_EVERY_MS {
            self.sweep(now);
        }
    }

    /// Drops the keys whose newest attempt has left its window.
    fn sweep(&mut self, now: i64) {
        self.last_sweep = now;
        for keys in self.scopes.values_mut() {
            keys.retain(|_, attempts| {
                let start = now.saturating_sub(attempts.window_ms);
                attempts.times.retain(|&at| at > start);
                !attempts.times.is_empty()
            });
        }
    }

    fn attempt_count(&self) -> u64 {
        let count: usize = self
            .scopes
            .values()
            .flat_map(HashMap::values)
            .map(|attempts| attempts.times.len())
            .sum();
        count as u64
    }
}

/// Drops the key whose newest attempt is the oldest.
fn make_room(keys: &mut HashMap<[u8; 32], Attempts>) {
    let stalest = keys
        .iter()
        .min_by_key(|(_, attempts)| attempts.times.back().copied().unwrap_or(i64::MIN))
        .map(|(key, _)| *key);
    if let Some(stalest) = stalest {
        keys.remove(&stalest);
    }
}

impl AttemptCounters for MemoryAttemptCounters {
    fn reserve<'a>(
        &'a self,
        queries: &'a [CounterQuery],
        now: i64,
        decide: Decide<'a>,
    ) -> BoxFuture<'a, Result<Result<(), Refused>, StoreError>> {
        Box::pin(async move { Ok(self.reserve_now(queries, now, decide)) })
    }

    fn give_back<'a>(&'a self, items: &'a [GiveBack]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.give_back_now(items);
            Ok(())
        })
    }

    fn purge(&self, now: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move { Ok(self.purge_now(now)) })
    }
}
