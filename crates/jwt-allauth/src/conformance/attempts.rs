//! The conformance suite of [`AttemptCounters`]: what the login throttle and the rate
//! limits rely on, run against the memory counters and every shared store.
//!
//! A store's test file invokes [`attempt_counter_tests!`](crate::attempt_counter_tests)
//! with a runner that gives each case fresh, empty counters:
//!
//! ```
//! use std::future::Future;
//! use std::sync::Arc;
//!
//! use jwt_allauth::attempts::{AttemptCounters, MemoryAttemptCounters};
//!
//! async fn with_counters<F, Fut>(test: F)
//! where
//!     F: FnOnce(Arc<dyn AttemptCounters>) -> Fut,
//!     Fut: Future<Output = ()>,
//! {
//!     test(Arc::new(MemoryAttemptCounters::new())).await;
//! }
//!
//! jwt_allauth::attempt_counter_tests!(with_counters);
//! # fn main() {}
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::attempts::{AttemptCounters, CounterKey, CounterQuery, CounterState, GiveBack, Refused};

/// Generates one `#[test]` per case of the [`AttemptCounters`] suite, each run through
/// `$run` on a multi-threaded tokio runtime with 4 workers.
#[macro_export]
macro_rules! attempt_counter_tests {
    ($run:path) => {
        $crate::conformance_tests!(@cases $run;
            attempts_count_up_to_the_limit_in_a_sliding_window,
            attempts_report_the_newest_up_to_the_limit,
            attempts_are_counted_per_scope_and_key,
            attempts_with_limit_zero_are_not_recorded,
            attempts_are_recorded_in_every_counter_or_none,
            attempts_given_back_no_longer_count,
            attempts_purge_deletes_only_expired_attempts,
            attempts_concurrent_reservations_never_exceed_the_limit,
        );
    };
}

/// 2026-01-15 00:00:00 UTC in Unix milliseconds: the suite's time zero.
const T0: i64 = 1_768_435_200_000;

fn key(scope: &'static str, name: &str) -> CounterKey {
    use sha2::{Digest, Sha256};
    CounterKey {
        scope,
        digest: Sha256::digest(name.as_bytes()).into(),
    }
}

fn query(key: CounterKey, window_secs: u64, limit: u32) -> CounterQuery {
    CounterQuery {
        key,
        window: Duration::from_secs(window_secs),
        limit,
    }
}

/// Reserves with the rule "refuse when any counter is full".
async fn reserve(
    counters: &dyn AttemptCounters,
    queries: &[CounterQuery],
    now: i64,
) -> Result<(), Refused> {
    let decide = |states: &[CounterState]| {
        let mut wait = None;
        for (query, state) in queries.iter().zip(states) {
            if state.is_full(query.limit) {
                wait = wait.max(Some(state.wait_ms(query.window_ms(), now)));
            }
        }
        wait.map_or(Ok(()), |wait_ms| Err(Refused { wait_ms }))
    };
    counters.reserve(queries, now, &decide).await.unwrap()
}

/// The states `counters` report for `queries` at `now` (with a decision that refuses, so
/// nothing is recorded).
async fn states(
    counters: &dyn AttemptCounters,
    queries: &[CounterQuery],
    now: i64,
) -> Vec<CounterState> {
    let seen = std::sync::Mutex::new(Vec::new());
    let decide = |states: &[CounterState]| {
        *seen.lock().unwrap() = states.to_vec();
        Err(Refused { wait_ms: 1 })
    };
    let outcome = counters.reserve(queries, now, &decide).await.unwrap();
    assert_eq!(outcome, Err(Refused { wait_ms: 1 }));
    seen.into_inner().unwrap()
}

/// A limit of 2 in 60 s: the third attempt is refused until the first leaves the window.
pub async fn attempts_count_up_to_the_limit_in_a_sliding_window(
    counters: Arc<dyn AttemptCounters>,
) {
    let q = [query(key("test", "a"), 60, 2)];
    assert_eq!(reserve(&*counters, &q, T0).await, Ok(()));
    assert_eq!(reserve(&*counters, &q, T0 + 10_000).await, Ok(()));
    assert_eq!(
        reserve(&*counters, &q, T0 + 20_000).await,
        Err(Refused { wait_ms: 40_000 })
    );
    // A refused attempt is not recorded; the first leaves the window at 60 s exactly.
    assert_eq!(reserve(&*counters, &q, T0 + 60_000).await, Ok(()));
    assert_eq!(
        reserve(&*counters, &q, T0 + 61_000).await,
        Err(Refused { wait_ms: 9_000 })
    );
}

/// A counter reports at most the query's limit, the newest, and the oldest of those.
pub async fn attempts_report_the_newest_up_to_the_limit(counters: Arc<dyn AttemptCounters>) {
    let k = key("test", "a");
    let unlimited_rule = [query(k, 300, 10)];
    for second in 0..5 {
        assert_eq!(
            reserve(&*counters, &unlimited_rule, T0 + second * 1_000).await,
            Ok(())
        );
    }
    let seen = states(&*counters, &[query(k, 300, 3)], T0 + 10_000).await;
    assert_eq!(
        seen,
        [CounterState {
            count: 3,
            oldest: Some(T0 + 2_000)
        }]
    );
    let seen = states(&*counters, &[query(k, 300, 10)], T0 + 301_500).await;
    assert_eq!(
        seen,
        [CounterState {
            count: 3,
            oldest: Some(T0 + 2_000)
        }]
    );
    assert_eq!(
        states(&*counters, &[query(k, 300, 10)], T0 + 305_000).await,
        [CounterState::default()]
    );
}

/// The same digest in two scopes, and two digests in one scope, are four counters.
pub async fn attempts_are_counted_per_scope_and_key(counters: Arc<dyn AttemptCounters>) {
    let first = query(key("one", "a"), 60, 1);
    assert_eq!(reserve(&*counters, &[first], T0).await, Ok(()));
    assert!(reserve(&*counters, &[first], T0).await.is_err());
    for other in [key("two", "a"), key("one", "b")] {
        assert_eq!(
            reserve(&*counters, &[query(other, 60, 1)], T0).await,
            Ok(())
        );
    }
}

/// A counter queried with limit 0 reads as empty and records nothing.
pub async fn attempts_with_limit_zero_are_not_recorded(counters: Arc<dyn AttemptCounters>) {
    let k = key("test", "a");
    for _ in 0..3 {
        assert_eq!(reserve(&*counters, &[query(k, 60, 0)], T0).await, Ok(()));
    }
    assert_eq!(
        states(&*counters, &[query(k, 60, 5)], T0).await,
        [CounterState::default()]
    );
}

/// A reservation records in all its counters, and a refusal in none.
pub async fn attempts_are_recorded_in_every_counter_or_none(counters: Arc<dyn AttemptCounters>) {
    let a = query(key("test", "a"), 60, 1);
    let b = query(key("test", "b"), 60, 5);
    assert_eq!(reserve(&*counters, &[a, b], T0).await, Ok(()));
    assert!(reserve(&*counters, &[a, b], T0 + 1_000).await.is_err());
    let seen = states(&*counters, &[a, b], T0 + 2_000).await;
    let one = CounterState {
        count: 1,
        oldest: Some(T0),
    };
    assert_eq!(seen, [one, one]);
}

/// Giving back one attempt removes it; giving back all of a key empties that key only.
pub async fn attempts_given_back_no_longer_count(counters: Arc<dyn AttemptCounters>) {
    let a = query(key("test", "a"), 60, 2);
    let b = query(key("test", "b"), 60, 2);
    assert_eq!(reserve(&*counters, &[a, b], T0).await, Ok(()));
    assert_eq!(reserve(&*counters, &[a, b], T0 + 1_000).await, Ok(()));
    assert!(reserve(&*counters, &[a], T0 + 2_000).await.is_err());
    counters
        .give_back(&[GiveBack::One {
            key: a.key,
            started: T0 + 1_000,
        }])
        .await
        .unwrap();
    let seen = states(&*counters, &[a, b], T0 + 2_000).await;
    assert_eq!(
        seen[0],
        CounterState {
            count: 1,
            oldest: Some(T0)
        }
    );
    assert_eq!(seen[1].count, 2);
    counters
        .give_back(&[GiveBack::All { key: b.key }])
        .await
        .unwrap();
    let seen = states(&*counters, &[a, b], T0 + 2_000).await;
    assert_eq!((seen[0].count, seen[1].count), (1, 0));
    // Giving back what is not there is no error.
    counters
        .give_back(&[GiveBack::One {
            key: key("test", "none"),
            started: T0,
        }])
        .await
        .unwrap();
}

/// Purging deletes the attempts whose window has ended, and only those.
pub async fn attempts_purge_deletes_only_expired_attempts(counters: Arc<dyn AttemptCounters>) {
    let short = query(key("test", "short"), 60, 5);
    let long = query(key("test", "long"), 300, 5);
    assert_eq!(reserve(&*counters, &[short, long], T0).await, Ok(()));
    assert_eq!(reserve(&*counters, &[short], T0 + 30_000).await, Ok(()));
    assert_eq!(counters.purge(T0 + 61_000).await.unwrap(), 1);
    let seen = states(&*counters, &[short, long], T0 + 61_000).await;
    assert_eq!((seen[0].count, seen[1].count), (1, 1));
    assert_eq!(counters.purge(T0 + 400_000).await.unwrap(), 2);
    let seen = states(&*counters, &[short, long], T0 + 61_000).await;
    assert_eq!((seen[0].count, seen[1].count), (0, 0));
}

/// Many reservations at once on one counter (and a second one they share): exactly the
/// limit is let through.
pub async fn attempts_concurrent_reservations_never_exceed_the_limit(
    counters: Arc<dyn AttemptCounters>,
) {
    const LIMIT: u32 = 5;
    const TRIES: usize = 40;
    let shared = query(key("test", "shared"), 300, LIMIT);
    let mut tasks = Vec::new();
    for n in 0..TRIES {
        let counters = Arc::clone(&counters);
        let own = query(key("own", &n.to_string()), 300, 10);
        tasks.push(tokio::spawn(async move {
            reserve(&*counters, &[own, shared], T0 + (n as i64 % 3)).await
        }));
    }
    let mut passed = 0;
    for task in tasks {
        if task.await.unwrap().is_ok() {
            passed += 1;
        }
    }
    assert_eq!(passed, LIMIT as usize);
}
