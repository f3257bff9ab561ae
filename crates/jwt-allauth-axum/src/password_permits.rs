//! Turns at password checks, shared fairly between clients.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::throttle::ClientBucket;

/// Permits to run a password check (an argon2 verification or hash), handed out in turn
/// per client, so that one client's burst of logins cannot starve the others.
///
/// Password hashing is slow on purpose and runs a few at a time (about one per core). A
/// first-come queue would put a legitimate login behind every queued guess of a flood;
/// here a waiting client is served before a client that already has a turn waiting is
/// served again (round robin over clients, first come within a client), so a login waits
/// for at most one check per other client with checks waiting.
///
/// The routers take a permit around each call to the user store that checks a password
/// (login, password change); the permit count should match the user store's own limit on
/// concurrent hashing. Cheap to clone: clones share the permits.
#[derive(Debug, Clone)]
pub struct PasswordPermits {
    queue: Arc<Mutex<Queue>>,
}

#[derive(Debug)]
struct Queue {
    free: usize,
    /// Waiters per client, first come first.
    waiting: HashMap<Option<ClientBucket>, VecDeque<oneshot::Sender<()>>>,
    /// Clients with waiters, in the order they are served.
    turns: VecDeque<Option<ClientBucket>>,
}

impl PasswordPermits {
    /// `permits` (at least 1) password checks at a time.
    pub fn new(permits: usize) -> Self {
        Self {
            queue: Arc::new(Mutex::new(Queue {
                free: permits.max(1),
                waiting: HashMap::new(),
                turns: VecDeque::new(),
            })),
        }
    }

    /// One permit per core ([`std::thread::available_parallelism`], 1 if unknown).
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Waits for a turn of `client` (`None`: a client whose IP is unknown). The permit is
    /// given back when the returned value is dropped; a wait that is dropped gives up its
    /// place, or hands on the turn it was just given.
    pub async fn acquire(&self, client: Option<ClientBucket>) -> PasswordPermit {
        let receiver = {
            let mut queue = self.lock();
            if queue.free > 0 && queue.turns.is_empty() {
                queue.free -= 1;
                return self.permit();
            }
            let (sender, receiver) = oneshot::channel();
            let waiters = queue.waiting.entry(client).or_default();
            waiters.push_back(sender);
            if waiters.len() == 1 {
                queue.turns.push_back(client);
            }
            receiver
        };
        let mut wait = Wait {
            receiver,
            permits: self,
            granted: false,
        };
        // The sender lives in the queue until it is served (an error would mean the
        // queue is gone, which the permits' own `Arc` prevents).
        let _ = (&mut wait.receiver).await;
        wait.granted = true;
        self.permit()
    }

    /// How many permits are free now (for tests and metrics).
    pub fn available(&self) -> usize {
        self.lock().free
    }

    fn permit(&self) -> PasswordPermit {
        PasswordPermit {
            permits: self.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a freed permit to the next waiting client in turn, or keeps it free.
    fn release(&self) {
        loop {
            let next = {
                let mut queue = self.lock();
                match queue.next_waiter() {
                    Some(sender) => sender,
                    None => {
                        queue.free += 1;
                        return;
                    }
                }
            };
            // A waiter that gave up has closed its receiver: try the next one.
            if next.send(()).is_ok() {
                return;
            }
        }
    }
}

impl Queue {
    fn next_waiter(&mut self) -> Option<oneshot::Sender<()>> {
        while let Some(client) = self.turns.pop_front() {
            let Some(waiters) = self.waiting.get_mut(&client) else {
                continue;
            };
            let sender = waiters.pop_front();
            if waiters.is_empty() {
                self.waiting.remove(&client);
            } else {
                self.turns.push_back(client);
            }
            if sender.is_some() {
                return sender;
            }
        }
        None
    }
}

/// A turn at a password check; dropping it hands the turn on.
#[derive(Debug)]
pub struct PasswordPermit {
    permits: PasswordPermits,
}

impl Drop for PasswordPermit {
    fn drop(&mut self) {
        self.permits.release();
    }
}

/// A wait for a turn; dropped before its turn came, it gives up its place, and dropped
/// just after, it hands the turn on.
struct Wait<'a> {
    receiver: oneshot::Receiver<()>,
    permits: &'a PasswordPermits,
    /// Set once the turn came and became a [`PasswordPermit`].
    granted: bool,
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if self.granted {
            return;
        }
        self.receiver.close();
        if self.receiver.try_recv().is_ok() {
            self.permits.release();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use super::*;

    fn client(last: u8) -> Option<ClientBucket> {
        Some(ClientBucket::of(IpAddr::from([192, 0, 2, last])))
    }

    /// Order in which waiting permits are granted.
    async fn grant_order(waiters: &[(u8, u32)]) -> Vec<(u8, u32)> {
        let permits = PasswordPermits::new(1);
        let held = permits.acquire(client(0)).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for &(who, n) in waiters {
            let (task_permits, order) = (permits.clone(), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let _permit = task_permits.acquire(client(who)).await;
                order.lock().unwrap().push((who, n));
                tokio::task::yield_now().await;
            }));
            // Queue in a known order.
            while permits
                .lock()
                .waiting
                .values()
                .map(VecDeque::len)
                .sum::<usize>()
                < tasks.len()
            {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(permits.available(), 1);
        Arc::try_unwrap(order).unwrap().into_inner().unwrap()
    }

    #[tokio::test]
    async fn clients_take_turns() {
        let flood: Vec<(u8, u32)> = (0..5).map(|n| (1, n)).chain([(2, 0), (3, 0)]).collect();
        assert_eq!(
            grant_order(&flood).await,
            [(1, 0), (2, 0), (3, 0), (1, 1), (1, 2), (1, 3), (1, 4)]
        );
    }

    #[tokio::test]
    async fn a_wait_given_up_loses_no_permit() {
        let permits = PasswordPermits::new(1);
        let held = permits.acquire(client(1)).await;
        let gone =
            tokio::time::timeout(Duration::from_millis(10), permits.acquire(client(2))).await;
        assert!(gone.is_err());
        let waiting = {
            let permits = permits.clone();
            tokio::spawn(async move { drop(permits.acquire(client(3)).await) })
        };
        tokio::task::yield_now().await;
        drop(held);
        waiting.await.unwrap();
        assert_eq!(permits.available(), 1);
    }
}
