//! Runs a future that must not wait: the verifiers under test read no database here, so
//! their futures are ready at the first poll.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The output of `future`, polled once.
///
/// # Panics
///
/// If the future is not ready at once: a verifier that waits here would be waiting on
/// the store, which [`EmptyStore`](crate::empty_store::EmptyStore) never makes it do.
pub fn now_or_panic<F: Future>(future: F) -> F::Output {
    let mut context = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future waited"),
    }
}
