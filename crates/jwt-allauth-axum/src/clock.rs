//! The clock the handlers read the current time from.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

/// Where [`AuthState`](crate::AuthState) gets the current time: the system clock by
/// default, or any function (tests inject a fixed or adjustable clock to test expiry, the
/// reuse interval, session lifetimes and the login throttle exactly and instantly).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> OffsetDateTime + Send + Sync>);

impl Clock {
    /// The system clock ([`OffsetDateTime::now_utc`]).
    pub fn system() -> Self {
        Self(Arc::new(OffsetDateTime::now_utc))
    }

    /// A clock reading `now`.
    pub fn new(now: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// A clock that always reads `at`.
    pub fn fixed(at: OffsetDateTime) -> Self {
        Self::new(move || at)
    }

    /// The current time.
    pub fn now(&self) -> OffsetDateTime {
        (self.0)()
    }
}

impl Default for Clock {
    /// The system clock.
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Clock").field(&self.now()).finish()
    }
}
