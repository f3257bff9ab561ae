//! The conformance suite on [`MemoryStore`], a fresh store per case.

use std::future::Future;

use jwt_allauth::memory::MemoryStore;

/// Runs `test` on a fresh, empty memory store.
async fn with_memory_store<F, Fut>(test: F)
where
    F: FnOnce(MemoryStore) -> Fut,
    Fut: Future<Output = ()>,
{
    test(MemoryStore::new()).await;
}

jwt_allauth::conformance_tests!(with_memory_store);
jwt_allauth::event_log_tests!(with_memory_store);
