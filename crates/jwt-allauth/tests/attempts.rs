//! The `AttemptCounters` conformance suite on [`MemoryAttemptCounters`], fresh counters
//! per case.

use std::future::Future;
use std::sync::Arc;

use jwt_allauth::attempts::{AttemptCounters, MemoryAttemptCounters};

/// Runs `test` on fresh, empty memory counters.
async fn with_memory_counters<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn AttemptCounters>) -> Fut,
    Fut: Future<Output = ()>,
{
    test(Arc::new(MemoryAttemptCounters::new())).await;
}

jwt_allauth::attempt_counter_tests!(with_memory_counters);
