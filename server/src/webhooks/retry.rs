//! When a failed delivery is tried again, and when it is given up.

use std::time::Duration;

/// The wait after the first failed attempt; it doubles after each.
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);

/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(5 * 60);

/// How long an event is retried, from its first attempt, before it is given up for the
/// endpoint (logged and counted as `given_up`) and the endpoint moves on: 24 hours.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest an attempt may take (connecting, sending, the answer's head); past it, the
/// attempt failed.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait after `attempts` failed attempts (1 or more): 1 s, 2 s, 4 s ... at most 5 min.
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(31);
    FIRST_RETRY_DELAY
        .checked_mul(1u32 << doublings)
        .unwrap_or(MAX_RETRY_DELAY)
        .min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_up_to_five_minutes() {
        let delays: Vec<u64> = (1..=10).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(retry_delay(0).as_secs(), 1);
        assert_eq!(retry_delay(u32::MAX).as_secs(), 300);
    }
}
