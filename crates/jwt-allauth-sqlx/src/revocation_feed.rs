//! The revocation feed: keeps an instance's [`RevocationSet`] up to date from the event
//! log, so that every access-token check refuses a revoked session with no query.
//!
//! The feed reads the log in `seq` order from where it left off, applies each event to
//! the set, and then tells the set it is caught up. It reads whenever PostgreSQL notifies
//! the channel `jwt_allauth_events` (the commit of any transaction that wrote events, on
//! any instance), and in any case every [`FeedSettings::poll_interval`]: the poll is what
//! catches up after the listening connection was lost, what picks up the changes of other
//! processes on SQLite, and the heartbeat that keeps the set trusted. A set whose feed has
//! not caught up within its `max_lag` answers "unknown", and the checks fall back to the
//! database.
//!
//! On PostgreSQL, transactions commit in another order than they took their sequence
//! numbers, so an event may appear below one already read. The feed reads again from the
//! lowest number it has not seen, until that gap is filled or older than
//! [`FeedSettings::gap_timeout`] (a rolled-back transaction leaves a permanent gap): see
//! [`SequenceGaps`].

use std::sync::Arc;
use std::time::Duration;

use jwt_allauth::StoreError;
use jwt_allauth::events::{EventLog, RevocationSet};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::sequence_gaps::SequenceGaps;

/// How the feed reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedSettings {
    /// How often it reads the log when nothing wakes it: 250 ms.
    pub poll_interval: Duration,
    /// How long a missing sequence number is waited for: 5 s.
    pub gap_timeout: Duration,
    /// Events read per query: 1,000.
    pub batch: u32,
    /// How far back the first read goes: the set's retention (the access-token lifetime
    /// plus the leeway), after which a revocation cannot matter.
    pub retention: Duration,
}

impl FeedSettings {
    /// The defaults, for a set retaining revocations for `retention`.
    pub fn new(retention: Duration) -> Self {
        Self {
            poll_interval: Duration::from_millis(250),
            gap_timeout: Duration::from_secs(5),
            batch: 1_000,
            retention,
        }
    }
}

/// The running feed: its task ends when this is dropped.
#[derive(Debug)]
pub struct RevocationFeed {
    task: JoinHandle<()>,
    listener: Option<JoinHandle<()>>,
}

impl Drop for RevocationFeed {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(listener) = &self.listener {
            listener.abort();
        }
    }
}

impl RevocationFeed {
    /// Reads the revocations of the last retention period into `set` (so that the set is
    /// live before the first request), then keeps it up to date in a task, polling.
    pub async fn start<L>(
        log: L,
        set: Arc<RevocationSet>,
        settings: FeedSettings,
    ) -> Result<Self, StoreError>
    where
        L: EventLog + 'static,
    {
        Self::start_woken(log, set, settings, Arc::new(Notify::new()), None).await
    }

    /// As [`start`](Self::start), also woken by PostgreSQL's notifications on the channel
    /// `jwt_allauth_events`, through a listening connection from `pool` that reconnects
    /// when it is lost.
    #[cfg(feature = "postgres")]
    pub async fn start_listening<L>(
        log: L,
        pool: &sqlx::PgPool,
        set: Arc<RevocationSet>,
        settings: FeedSettings,
    ) -> Result<Self, StoreError>
    where
        L: EventLog + 'static,
    {
        let wake = Arc::new(Notify::new());
        let mut listener = sqlx::postgres::PgListener::connect_with(pool)
            .await
            .map_err(crate::error::store_error)?;
        listener
            .listen(CHANNEL)
            .await
            .map_err(crate::error::store_error)?;
        let task = tokio::spawn(listen(listener, Arc::clone(&wake)));
        Self::start_woken(log, set, settings, wake, Some(task)).await
    }

    async fn start_woken<L>(
        log: L,
        set: Arc<RevocationSet>,
        settings: FeedSettings,
        wake: Arc<Notify>,
        listener: Option<JoinHandle<()>>,
    ) -> Result<Self, StoreError>
    where
        L: EventLog + 'static,
    {
        let now = OffsetDateTime::now_utc();
        let oldest = now - settings.retention;
        let mut reader = Reader {
            gaps: SequenceGaps::new(log.last_seq_before(oldest).await?, settings.gap_timeout),
            settings,
        };
        reader.read(&log, &set).await?;
        let task = tokio::spawn(async move {
            let mut failing = false;
            loop {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(settings.poll_interval) => {}
                }
                match reader.read(&log, &set).await {
                    Ok(()) => {
                        if failing {
                            tracing::info!("the revocation feed reads the event log again");
                        }
                        failing = false;
                    }
                    Err(error) => {
                        if !failing {
                            tracing::warn!(%error, "the revocation feed cannot read the event log; access tokens are checked against the database until it can");
                        }
                        failing = true;
                    }
                }
            }
        });
        Ok(Self { task, listener })
    }
}

/// The channel the event log's trigger notifies (PostgreSQL migration 0002).
#[cfg(feature = "postgres")]
const CHANNEL: &str = "jwt_allauth_events";

/// Forwards each notification, and each loss of the connection (after which events may
/// have been missed), to the feed.
#[cfg(feature = "postgres")]
async fn listen(mut listener: sqlx::postgres::PgListener, wake: Arc<Notify>) {
    // Logged once per outage, not at every retry.
    let mut failing = false;
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) => {
                failing = false;
                wake.notify_one();
            }
            // Lost, and reconnected at the next call: catch up.
            Ok(None) => {
                tracing::info!("the revocation feed's listening connection was lost; reconnecting");
                wake.notify_one();
            }
            // The server is shutting down.
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "the revocation feed cannot listen; polling until it can");
                }
                failing = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Where the feed is in the log.
struct Reader {
    gaps: SequenceGaps,
    settings: FeedSettings,
}

impl Reader {
    /// Reads every event after the cursor, applies it, and moves the cursor over what is
    /// contiguous; then tells the set it is caught up.
    async fn read<L: EventLog>(&mut self, log: &L, set: &RevocationSet) -> Result<(), StoreError> {
        let mut after = self.gaps.cursor();
        loop {
            let events = log.events_after(after, self.settings.batch).await?;
            for event in &events {
                if !self.gaps.is_handled(event.seq) {
                    set.apply(event);
                }
                self.gaps.handled(event.seq);
            }
            match events.last() {
                Some(last) if events.len() == self.settings.batch as usize => after = last.seq,
                _ => break,
            }
        }
        self.gaps.advance();
        let now = OffsetDateTime::now_utc();
        set.prune(now);
        set.confirm_caught_up(now);
        Ok(())
    }
}
