//! [`SequenceGaps`]: where a reader of the event log is, with the gaps it still waits for.
//!
//! On PostgreSQL, transactions commit in another order than they took their sequence
//! numbers, so an event may appear below one already read. A reader that must not miss
//! one keeps its cursor below the lowest number it has not seen, reads again from there,
//! and skips what it already handled, until the gap is filled or older than a timeout (a
//! rolled-back transaction leaves a permanent gap). The revocation feed and the server's
//! webhook delivery read the log this way.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The most missing sequence numbers waited for below an event: more numbers missing at
/// once than transactions can be in flight were purged, or rolled back.
const MAX_GAPS: i64 = 1_000;

/// A reader's position in the event log: every event up to [`cursor`](Self::cursor) was
/// handled (or its number given up on); above it, the events handled and the gaps below
/// them.
///
/// ```
/// use std::time::Duration;
/// use jwt_allauth_sqlx::SequenceGaps;
///
/// let mut gaps = SequenceGaps::new(10, Duration::from_secs(5));
/// // 11 is not visible yet (a transaction still committing): 12 is handled first.
/// gaps.handled(12);
/// assert_eq!(gaps.advance(), 10, "waits for 11");
/// assert!(gaps.is_handled(12) && !gaps.is_handled(11));
/// gaps.handled(11);
/// assert_eq!(gaps.advance(), 12);
/// ```
#[derive(Debug, Clone)]
pub struct SequenceGaps {
    cursor: i64,
    /// Numbers above the cursor: handled, or missing since when.
    seen: BTreeMap<i64, Slot>,
    gap_timeout: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Handled,
    Missing(Instant),
}

impl SequenceGaps {
    /// A reader that has handled every event up to `cursor`, and waits `gap_timeout` for
    /// a missing number.
    pub fn new(cursor: i64, gap_timeout: Duration) -> Self {
        Self {
            cursor,
            seen: BTreeMap::new(),
            gap_timeout,
        }
    }

    /// Every event up to here was handled or given up on: where the next read starts
    /// (`events_after(cursor)`), and what a reader persists.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// Whether the event `seq` was handled already (a read from the cursor returns it
    /// again while a gap below it is open).
    pub fn is_handled(&self, seq: i64) -> bool {
        seq <= self.cursor || matches!(self.seen.get(&seq), Some(Slot::Handled))
    }

    /// Records that `seq` was handled, and the numbers missing below it.
    pub fn handled(&mut self, seq: i64) {
        if seq <= self.cursor {
            return;
        }
        let highest = self
            .seen
            .last_key_value()
            .map_or(self.cursor, |(&seq, _)| seq);
        let now = Instant::now();
        let from = highest.saturating_add(1).max(seq.saturating_sub(MAX_GAPS));
        for missing in from..seq {
            self.seen.insert(missing, Slot::Missing(now));
        }
        self.seen.insert(seq, Slot::Handled);
    }

    /// Moves the cursor over handled numbers and over gaps older than the timeout; the
    /// new cursor.
    pub fn advance(&mut self) -> i64 {
        while let Some(entry) = self.seen.first_entry() {
            let done = match entry.get() {
                Slot::Handled => true,
                Slot::Missing(since) => since.elapsed() >= self.gap_timeout,
            };
            if !done {
                break;
            }
            self.cursor = *entry.key();
            entry.remove();
        }
        self.cursor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_holds_the_cursor_until_filled_or_timed_out() {
        let mut gaps = SequenceGaps::new(0, Duration::from_secs(3600));
        gaps.handled(1);
        gaps.handled(3);
        assert_eq!(gaps.advance(), 1);
        assert!(gaps.is_handled(3) && !gaps.is_handled(2));
        gaps.handled(2);
        assert_eq!(gaps.advance(), 3);
        // Handled again (a re-read): nothing changes.
        gaps.handled(2);
        assert_eq!(gaps.advance(), 3);

        let mut given_up = SequenceGaps::new(0, Duration::ZERO);
        given_up.handled(5);
        assert_eq!(given_up.advance(), 5, "gaps past the timeout are given up");
    }

    #[test]
    fn only_the_last_numbers_below_an_event_are_waited_for() {
        let mut gaps = SequenceGaps::new(0, Duration::from_secs(3600));
        gaps.handled(10 * MAX_GAPS);
        assert_eq!(gaps.advance(), 0);
        // Only the last MAX_GAPS numbers are waited for: once they arrive, the cursor
        // passes the older ones.
        for seq in 9 * MAX_GAPS..10 * MAX_GAPS {
            gaps.handled(seq);
        }
        assert_eq!(gaps.advance(), 10 * MAX_GAPS);
    }
}
