//! [`ReadBatches`]: concurrent reads of rows by id, sent to PostgreSQL as one statement.
//!
//! Every request behind `LoadUser` reads its caller's row: one round trip to PostgreSQL
//! per request, and on each a PostgreSQL backend woken, a query planned from its cache
//! and executed, the answer sent back and the server woken in turn. Under load those
//! wake-ups and sends, not the index look-up, are most of the cost (see BENCHMARKS.md).
//!
//! So reads of a row by id are queued, and one statement (`... WHERE id = ANY($1)`)
//! answers every read queued at the moment it starts:
//!
//! - a read that finds no statement under way (fewer than [`MAX_RUNNING`]) starts one at
//!   once, alone if nothing else waits: no read ever waits for a timer, and an idle
//!   server answers exactly as before;
//! - a read that finds a statement under way joins the queue; when that statement is
//!   done, its task takes the whole queue (up to [`MAX_BATCH`] ids, each id once) into
//!   the next statement, so the busier the server, the more reads each round trip
//!   carries;
//! - every read is answered by a statement that started after the read was asked for:
//!   it sees every write committed before its request arrived, as a read of its own
//!   would.
//!
//! The statements run in tasks of their own, not in the requests' futures: a request
//! that goes away (timed out, client gone) never takes another's answer with it. A
//! failed statement fails every read it carried, with the same error (shared, as
//! [`Arc<sqlx::Error>`]); the [`ReadPool`] beneath it retries once on a connection that
//! turned out to be gone and bounds the wait for a connection, as for a single read.
//! When the database is unreachable, the reads queued behind the failed statement fail
//! with it, so that none waits for the outage twice: a read is answered within the
//! pool's `CONNECT_TIMEOUT` of being asked for, as before.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::PgConnection;
use tokio::sync::oneshot;

use super::{ReadFuture, ReadPool};

/// At most this many statements of one [`ReadBatches`] run at a time. One: the reads
/// asked for while it is on its way all go into the next, so the busier the server, the
/// fewer round trips per read. Measured on PostgreSQL over loopback (BENCHMARKS.md), two
/// at a time carried 2 to 3 reads per statement and served a quarter fewer requests.
pub const MAX_RUNNING: usize = 1;

/// At most this many ids in one statement; reads queued beyond it go into the next.
pub const MAX_BATCH: usize = 256;

/// How long the server lets one statement take, the wait for a connection included.
/// The reads queue behind it, so a
/// statement that hangs (a connection stalled without being closed) must not hold them
/// longer than a request may take: it fails as the database being unreachable, its
/// connection is closed, and the next statement runs on another.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The statement of a batch: the rows among `ids` (distinct), in any order.
pub type BatchQuery<T> = for<'c> fn(&'c mut PgConnection, Vec<i64>) -> ReadFuture<'c, Vec<T>>;

/// What a read by id gives back: the row, or `None` when there is no row with that id.
pub type BatchedRead<T> = Result<Option<T>, Arc<sqlx::Error>>;

/// Reads of rows by id through a [`ReadPool`], coalesced into one statement while others
/// are under way (see the module's documentation). Cheap to clone.
pub struct ReadBatches<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for ReadBatches<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for ReadBatches<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadBatches")
            .field("reads", &self.shared.reads)
            .finish_non_exhaustive()
    }
}

struct Shared<T> {
    reads: ReadPool,
    timeout: Duration,
    query: BatchQuery<T>,
    /// The id of a row.
    id_of: fn(&T) -> i64,
    queue: Mutex<Queue<T>>,
}

/// The reads waiting for a statement, and how many statements are under way.
struct Queue<T> {
    waiting: Vec<Waiting<T>>,
    running: usize,
}

/// A read waiting for its row.
struct Waiting<T> {
    id: i64,
    answer: oneshot::Sender<BatchedRead<T>>,
}

impl<T: Clone + Send + 'static> ReadBatches<T> {
    /// Reads through `reads` with `query`; `id_of` tells which row answers which id. A
    /// statement that takes longer than `timeout`, the wait for a connection included,
    /// fails as the database being unreachable (the server uses [`STATEMENT_TIMEOUT`]).
    pub fn new(
        reads: ReadPool,
        query: BatchQuery<T>,
        id_of: fn(&T) -> i64,
        timeout: Duration,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                reads,
                timeout,
                query,
                id_of,
                queue: Mutex::new(Queue {
                    waiting: Vec::new(),
                    running: 0,
                }),
            }),
        }
    }

    /// The pool the statements run on.
    pub fn pool(&self) -> &ReadPool {
        &self.shared.reads
    }

    /// The row with this id, read by the next statement to start.
    pub async fn read(&self, id: i64) -> BatchedRead<T> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = self.shared.lock();
            queue.waiting.push(Waiting { id, answer });
            let start = queue.running < MAX_RUNNING;
            if start {
                queue.running += 1;
            }
            start
        };
        if start {
            tokio::spawn(run(Runner {
                shared: Arc::clone(&self.shared),
                holds: true,
            }));
        }
        // The sender is only dropped unanswered if its statement's task panicked.
        answered
            .await
            .unwrap_or_else(|_| Err(Arc::new(sqlx::Error::WorkerCrashed)))
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One of the [`MAX_RUNNING`] places; given back when its task ends, even by a panic.
struct Runner<T> {
    shared: Arc<Shared<T>>,
    /// Whether the place is still held.
    holds: bool,
}

impl<T> Drop for Runner<T> {
    fn drop(&mut self) {
        if self.holds {
            self.shared.lock().running -= 1;
        }
    }
}

/// Runs statements while reads are waiting.
async fn run<T: Clone + Send + 'static>(mut runner: Runner<T>) {
    let shared = Arc::clone(&runner.shared);
    loop {
        let batch = {
            let mut queue = shared.lock();
            if queue.waiting.is_empty() {
                // Under the same lock as the look at the queue: a read queued after it
                // finds the place free and starts a statement of its own.
                queue.running -= 1;
                runner.holds = false;
                return;
            }
            let take = queue.waiting.len().min(MAX_BATCH);
            queue.waiting.drain(..take).collect::<Vec<_>>()
        };
        let mut ids: Vec<i64> = batch.iter().map(|waiting| waiting.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let query = shared.query;
        let read = shared
            .reads
            .read(move |connection| query(connection, ids.clone()));
        // Dropping a read mid-statement closes its connection (see `ReadPool`).
        let rows = tokio::time::timeout(shared.timeout, read)
            .await
            .unwrap_or_else(|_| {
                Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "a read of users by id took longer than its timeout",
                )))
            });
        match rows {
            Ok(mut rows) => {
                rows.sort_unstable_by_key(shared.id_of);
                for waiting in batch {
                    let row = rows
                        .binary_search_by_key(&waiting.id, shared.id_of)
                        .ok()
                        .and_then(|at| rows.get(at))
                        .cloned();
                    // The read's request may be gone: nobody to answer.
                    let _ = waiting.answer.send(Ok(row));
                }
            }
            Err(err) => {
                let mut failed = batch;
                if jwt_allauth_sqlx::is_unavailable(&err) {
                    // The reads queued meanwhile would wait for the same outage (the
                    // pool's whole `CONNECT_TIMEOUT`) a second time: they fail now.
                    failed.append(&mut shared.lock().waiting);
                }
                let err = Arc::new(err);
                for waiting in failed {
                    let _ = waiting.answer.send(Err(Arc::clone(&err)));
                }
            }
        }
    }
}
