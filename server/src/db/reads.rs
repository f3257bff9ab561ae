//! [`ReadPool`]: PostgreSQL connections for reads, handed back without a round trip.
//!
//! sqlx pings every connection (a `Sync` round trip to PostgreSQL) each time it goes
//! back to its pool, with no option to turn it off: for a one-statement read such as
//! the user lookup of every request behind `LoadUser`, that doubles the round trips and
//! wakes a PostgreSQL backend for nothing. sqlx does it to catch a connection left in an
//! unknown state by a query whose future was dropped, and a broken one.
//!
//! This pool (deadpool's `managed` pool of plain [`PgConnection`]s) decides that
//! without a round trip instead:
//!
//! - a connection whose statement did not finish (its future dropped: a request timed
//!   out, a client went away) is closed, never reused ([`ReadConnection`]'s `Drop`);
//! - one whose statement failed other than with an error PostgreSQL reported on a
//!   healthy connection (I/O, protocol, a server shutdown) is closed;
//! - one idle for as long as the sqlx pool lets its own be used unchecked, or longer, is
//!   pinged before use, as the sqlx pool does, and replaced if the ping fails
//!   (PostgreSQL restarted meanwhile);
//! - a statement that fails on a reused connection because the connection is gone
//!   (PostgreSQL closed it: restart, `pg_terminate_backend`) is run once more on a new
//!   connection, which only reads can afford; the idle connections, likely gone too,
//!   are closed.
//!
//! Its limits are those of the sqlx pool: at most as many connections; taking one
//! (waiting for a free one, or connecting) fails after [`CONNECT_TIMEOUT`] with
//! [`sqlx::Error::PoolTimedOut`], which servers answer 503 like any unreachable
//! database; a connection idle for [`IDLE_TIMEOUT`] or open for [`MAX_LIFETIME`] is
//! closed (sqlx's defaults). It opens its connections on demand, apart from the sqlx
//! pool's.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use deadpool::managed::{self, Manager, Metrics, Object, RecycleError, RecycleResult};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::{CONNECT_TIMEOUT, PG_MAX_CONNECTIONS, PG_PING_IDLE_AFTER};

/// How long a connection may stay idle before it is closed: sqlx's default.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How long a connection may stay open: sqlx's default.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// How often idle connections are looked at, to close those past [`IDLE_TIMEOUT`] or
/// [`MAX_LIFETIME`].
const REAP_EVERY: Duration = Duration::from_secs(60);

/// A boxed future borrowing a connection: what [`ReadPool::read`] runs.
pub type ReadFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// Why a [`ReadPool`] could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the pool of read connections")]
pub struct ReadPoolError(#[source] managed::BuildError);

/// A pool of PostgreSQL connections for reads that never wait for a round trip when
/// handed back (see the module's documentation). Cheap to clone; connects lazily.
#[derive(Clone)]
pub struct ReadPool {
    pool: managed::Pool<Connector>,
}

impl fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("ReadPool")
            .field("size", &status.size)
            .field("available", &status.available)
            .field("max_size", &status.max_size)
            .finish()
    }
}

impl ReadPool {
    /// A pool connecting with `options`, empty until the first read. Within a tokio
    /// runtime, a task closes idle connections past sqlx's idle timeout (10 minutes) or
    /// lifetime (30 minutes) until the pool is dropped; connections past them are never
    /// handed out anyway.
    pub fn new(options: PgConnectOptions) -> Result<Self, ReadPoolError> {
        // No timeouts in deadpool (it would need its runtime feature): the whole
        // acquisition is bounded by `CONNECT_TIMEOUT` in `acquire`.
        let pool = managed::Pool::builder(Connector { options })
            .max_size(PG_MAX_CONNECTIONS as usize)
            .queue_mode(managed::QueueMode::Lifo)
            .build()
            .map_err(ReadPoolError)?;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = pool.weak();
            runtime.spawn(async move {
                loop {
                    tokio::time::sleep(REAP_EVERY).await;
                    let Some(pool) = weak.upgrade() else {
                        break;
                    };
                    pool.retain(|pooled, metrics| !expired(pooled, &metrics));
                }
            });
        }
        Ok(Self { pool })
    }

    /// Runs `read` on a connection of the pool and hands the connection back, or closes
    /// it (see the module's documentation). `read` runs a second time, on a new
    /// connection, when it failed on a reused one that turned out to be gone.
    pub async fn read<T, F>(&self, read: F) -> Result<T, sqlx::Error>
    where
        F: for<'c> Fn(&'c mut PgConnection) -> ReadFuture<'c, T>,
    {
        let mut connection = self.acquire().await?;
        let result = connection.run(&read).await;
        match result {
            Err(err) if connection.reused && is_gone(&err) => {
                drop(connection);
                self.pool.retain(|_, _| false);
                let mut connection = self.acquire().await?;
                connection.run(&read).await
            }
            result => result,
        }
    }

    /// Closes the pool: connections are closed as they come back, and no new one is
    /// opened.
    pub fn close(&self) {
        self.pool.close();
    }

    /// How many connections the pool holds (in use or idle).
    pub fn size(&self) -> usize {
        self.pool.status().size
    }

    /// How many of those connections are idle.
    pub fn idle(&self) -> usize {
        self.pool.status().available
    }

    async fn acquire(&self) -> Result<ReadConnection, sqlx::Error> {
        let object = match tokio::time::timeout(CONNECT_TIMEOUT, self.pool.get()).await {
            Ok(Ok(object)) => object,
            Ok(Err(managed::PoolError::Backend(err))) => return Err(err),
            Ok(Err(managed::PoolError::Closed)) => return Err(sqlx::Error::PoolClosed),
            Ok(Err(_)) | Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        Ok(ReadConnection {
            reused: Object::metrics(&object).recycle_count > 0,
            object: Some(object),
            done: false,
        })
    }
}

/// Whether a connection is past [`IDLE_TIMEOUT`] or [`MAX_LIFETIME`].
fn expired(pooled: &PooledConnection, metrics: &Metrics) -> bool {
    pooled.idle_since.elapsed() >= IDLE_TIMEOUT || metrics.age() >= MAX_LIFETIME
}

/// Whether `err` says the connection is gone: PostgreSQL closed it, or the socket broke.
fn is_gone(err: &sqlx::Error) -> bool {
    jwt_allauth_sqlx::is_unavailable(err)
}

/// Whether a connection whose statement ended with `result` can serve again: after
/// success, or an error PostgreSQL reported that does not concern the connection (a
/// constraint, a syntax error). Anything else may have left it mid-protocol.
fn reusable<T>(result: &Result<T, sqlx::Error>) -> bool {
    match result {
        Ok(_) => true,
        Err(err @ sqlx::Error::Database(_)) => !jwt_allauth_sqlx::is_unavailable(err),
        Err(_) => false,
    }
}

/// A connection taken from the [`ReadPool`] for one statement. Dropped before
/// [`ReadConnection::run`] finished (the statement's future was dropped), it closes the
/// connection instead of handing it back.
struct ReadConnection {
    object: Option<Object<Connector>>,
    /// Whether the connection served before (so may have gone stale in the pool).
    reused: bool,
    /// Whether the connection may go back to the pool.
    done: bool,
}

impl ReadConnection {
    async fn run<T, F>(&mut self, read: &F) -> Result<T, sqlx::Error>
    where
        F: for<'c> Fn(&'c mut PgConnection) -> ReadFuture<'c, T>,
    {
        let Some(object) = self.object.as_mut() else {
            return Err(sqlx::Error::PoolClosed);
        };
        let result = read(&mut object.connection).await;
        if reusable(&result) {
            object.idle_since = Instant::now();
            self.done = true;
        }
        result
    }
}

impl Drop for ReadConnection {
    fn drop(&mut self) {
        if let Some(object) = self.object.take()
            && !self.done
        {
            // Out of the pool for good; dropping the connection closes its socket.
            drop(Object::take(object));
        }
    }
}

/// A pooled connection and when it last finished a statement.
struct PooledConnection {
    connection: PgConnection,
    idle_since: Instant,
}

/// Opens and checks the [`ReadPool`]'s connections.
struct Connector {
    options: PgConnectOptions,
}

impl Manager for Connector {
    type Type = PooledConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<PooledConnection, sqlx::Error> {
        let connection = PgConnection::connect_with(&self.options).await?;
        Ok(PooledConnection {
            connection,
            idle_since: Instant::now(),
        })
    }

    async fn recycle(
        &self,
        pooled: &mut PooledConnection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        if expired(pooled, metrics) {
            return Err(RecycleError::message("past its idle timeout or lifetime"));
        }
        if pooled.idle_since.elapsed() >= PG_PING_IDLE_AFTER {
            pooled
                .connection
                .ping()
                .await
                .map_err(RecycleError::Backend)?;
        }
        Ok(())
    }
}
