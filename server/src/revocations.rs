//! The revocation feed of a server instance (`REVOCATION_FEED`): the set of recent
//! revocations every access-token check consults, and the task that keeps it up to date
//! from the event log.

use std::sync::Arc;
use std::time::Duration;

use jwt_allauth::events::RevocationSet;
use jwt_allauth::{Settings, StoreError};
use jwt_allauth_sqlx::{FeedSettings, PostgresStore, RevocationFeed, SqliteStore};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::config::Config;
use crate::db::{CONNECT_TIMEOUT, Database};

/// The most revocations an instance keeps in memory (sessions and users, of the last
/// access-token lifetime): about 10 MB. Past it, access-token checks ask the database
/// until the oldest expire, rather than keep more.
pub const REVOCATION_SET_CAPACITY: usize = 100_000;

/// How long the set is trusted after the feed last caught up: the bound of events.md.
/// The feed polls four times within it; a feed behind by more makes every check ask the
/// database.
pub const FEED_MAX_LAG: Duration = Duration::from_secs(1);

/// How long a revocation matters: an access token lives `ACCESS_TOKEN_LIFETIME`, plus the
/// leeway its expiry is checked with.
pub fn retention(tokens: &Settings) -> Duration {
    tokens.access_token_lifetime + tokens.leeway
}

/// The instance's revocation set, unless `REVOCATION_FEED` is off.
pub fn revocation_set(config: &Config) -> Option<Arc<RevocationSet>> {
    config.server.revocation_feed.then(|| {
        Arc::new(RevocationSet::fed(
            retention(&config.tokens),
            REVOCATION_SET_CAPACITY,
            FEED_MAX_LAG,
        ))
    })
}

/// The `application_name` of the revocation feed's database connections on PostgreSQL
/// (its `LISTEN` connection and its reads), as `pg_stat_activity` shows them.
pub const FEED_APPLICATION_NAME: &str = "jwt-allauth revocation feed";

/// The most connections the feed's own pool opens: its `LISTEN` connection and one for
/// its reads.
pub const FEED_POOL_CONNECTIONS: u32 = 2;

/// A running revocation feed: it stops when this is dropped.
#[derive(Debug)]
pub struct RunningFeed {
    feed: RevocationFeed,
    /// On PostgreSQL, the feed's own pool.
    pool: Option<PgPool>,
}

impl RunningFeed {
    /// The feed's own connection pool (PostgreSQL), for the pool metrics.
    pub fn pool(&self) -> Option<&PgPool> {
        self.pool.as_ref()
    }

    /// Stops the feed and closes its connections.
    pub async fn stop(self) {
        let Self { feed, pool } = self;
        drop(feed);
        if let Some(pool) = pool {
            pool.close().await;
        }
    }
}

/// Fills `set` with the revocations of the last `retention` and keeps it up to date:
/// woken by PostgreSQL's notifications, polling in any case (on SQLite, polling is what
/// sees the changes of other processes, such as the CLI).
///
/// On PostgreSQL the feed reads and listens through a pool of its own
/// ([`FEED_POOL_CONNECTIONS`] connections named [`FEED_APPLICATION_NAME`]): requests that
/// hold every connection of the main pool cannot starve it (which would push every
/// access-token check to the database), and an operator can tell its connections apart.
pub async fn start_feed(
    db: &Database,
    set: Arc<RevocationSet>,
    retention: Duration,
) -> Result<RunningFeed, StoreError> {
    let settings = FeedSettings::new(retention);
    match db {
        Database::Sqlite(pool) => {
            let feed = RevocationFeed::start(SqliteStore::new(pool.clone()), set, settings).await?;
            Ok(RunningFeed { feed, pool: None })
        }
        Database::Postgres(pool) => {
            let options = (*pool.connect_options())
                .clone()
                .application_name(FEED_APPLICATION_NAME);
            let feed_pool = PgPoolOptions::new()
                .max_connections(FEED_POOL_CONNECTIONS)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(|error| StoreError::Backend(Box::new(error)))?;
            let store = PostgresStore::new(feed_pool.clone());
            let feed = RevocationFeed::start_listening(store, &feed_pool, set, settings).await?;
            Ok(RunningFeed {
                feed,
                pool: Some(feed_pool),
            })
        }
    }
}
