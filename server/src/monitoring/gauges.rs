//! [`Gauges`]: the values the server samples at each scrape rather than records as they
//! change.

use std::sync::Arc;

use jwt_allauth::events::{RevocationSet, RevocationSetState};
use sqlx::PgPool;
use time::OffsetDateTime;

use super::{DB_POOL_CONNECTIONS, REVOCATION_FEED_FALLBACK, REVOCATION_FEED_LAG_SECONDS};
use crate::db::{Database, ReadPool};

/// The state of the revocation feed and of the connection pools, set into their gauges
/// by [`update`](Self::update) just before each scrape is rendered.
#[derive(Debug, Clone)]
pub struct Gauges {
    db: Database,
    reads: Option<ReadPool>,
    feed_pool: Option<PgPool>,
    revocations: Option<Arc<RevocationSet>>,
}

impl Gauges {
    /// The gauges of `db`'s pool and of `revocations` (`None` when `REVOCATION_FEED` is
    /// off).
    pub fn new(db: Database, revocations: Option<Arc<RevocationSet>>) -> Self {
        Self {
            db,
            reads: None,
            feed_pool: None,
            revocations,
        }
    }

    /// Also the pool of user reads (`pool="reads"`).
    pub fn with_read_pool(mut self, reads: Option<ReadPool>) -> Self {
        self.reads = reads;
        self
    }

    /// Also the revocation feed's own pool (`pool="feed"`).
    pub fn with_feed_pool(mut self, pool: Option<PgPool>) -> Self {
        self.feed_pool = pool;
        self
    }

    /// Sets every gauge to its value at `now`.
    pub fn update(&self, now: OffsetDateTime) {
        if let Some(set) = &self.revocations {
            let fallback = set.state(now) != RevocationSetState::Live;
            metrics::gauge!(REVOCATION_FEED_FALLBACK).set(f64::from(u8::from(fallback)));
            // Before the first read of the feed, it is as far behind as it can be.
            let lag = set.lag(now).map_or(f64::INFINITY, |lag| lag.as_secs_f64());
            metrics::gauge!(REVOCATION_FEED_LAG_SECONDS).set(lag);
        } else {
            metrics::gauge!(REVOCATION_FEED_FALLBACK).set(0.0);
        }
        let (open, idle) = match &self.db {
            Database::Sqlite(pool) => (pool.size(), pool.num_idle()),
            Database::Postgres(pool) => (pool.size(), pool.num_idle()),
        };
        set_pool("main", open as f64, idle as f64);
        if let Some(reads) = &self.reads {
            set_pool("reads", reads.size() as f64, reads.idle() as f64);
        }
        if let Some(feed) = &self.feed_pool {
            set_pool("feed", f64::from(feed.size()), feed.num_idle() as f64);
        }
    }
}

fn set_pool(pool: &'static str, open: f64, idle: f64) {
    metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => pool, "state" => "open").set(open);
    metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => pool, "state" => "idle").set(idle);
}
