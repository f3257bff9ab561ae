//! The revocation feed of a server instance (`REVOCATION_FEED`): the set of recent
//! revocations every access-token check consults, and the task that keeps it up to date
//! from the event log.

use std::sync::Arc;
use std::time::Duration;

use jwt_allauth::events::RevocationSet;
use jwt_allauth::{Settings, StoreError};
use jwt_allauth_sqlx::{FeedSettings, PostgresStore, RevocationFeed, SqliteStore};

use crate::config::Config;
use crate::db::Database;

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

/// Fills `set` with the revocations of the last `retention` and keeps it up to date:
/// woken by PostgreSQL's notifications, polling in any case (on SQLite, polling is what
/// sees the changes of other processes, such as the CLI).
pub async fn start_feed(
    db: &Database,
    set: Arc<RevocationSet>,
    retention: Duration,
) -> Result<RevocationFeed, StoreError> {
    let settings = FeedSettings::new(retention);
    match db {
        Database::Sqlite(pool) => {
            RevocationFeed::start(SqliteStore::new(pool.clone()), set, settings).await
        }
        Database::Postgres(pool) => {
            let store = PostgresStore::new(pool.clone());
            RevocationFeed::start_listening(store, pool, set, settings).await
        }
    }
}
