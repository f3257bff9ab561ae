//! Password hashing with argon2id, off the async runtime.
//!
//! Hashing and verifying cost ≈ 16 ms of CPU each (argon2 0.6 defaults: argon2id,
//! m = 19 MiB, t = 2, p = 1, the OWASP recommendation). Run on the async runtime they
//! would stall every other request, so [`Passwords`] runs them with
//! [`tokio::task::spawn_blocking`], at most one per core at a time (a
//! [`tokio::sync::Semaphore`] with [`std::thread::available_parallelism`] permits).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::RngCore;
use tokio::sync::{OnceCell, Semaphore};

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// argon2 refused to hash (it does not for the default parameters).
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    /// The blocking task panicked or was cancelled.
    #[error("the password hashing task failed")]
    Task(#[source] tokio::task::JoinError),
    /// The semaphore was closed (never happens: it is never closed).
    #[error("the password hashing pool is closed")]
    Closed(#[source] tokio::sync::AcquireError),
}

/// Hashes and verifies passwords as argon2id PHC strings (`$argon2id$v=19$...`) on the
/// blocking thread pool, with at most one computation per core at a time. Cheap to
/// clone: clones share the limit.
#[derive(Debug, Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    permits: Semaphore,
    /// A hash of a random password, verified for unknown e-mail addresses so that they
    /// cost the same as a wrong password.
    dummy_hash: OnceCell<String>,
    /// Password verifications done so far (the dummy one included).
    verifications: AtomicU64,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    /// One permit per core ([`std::thread::available_parallelism`], 1 if unknown).
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_permits(cores)
    }

    /// At most `permits` (at least 1) hashes or verifications at a time.
    pub fn with_permits(permits: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                permits: Semaphore::new(permits.max(1)),
                dummy_hash: OnceCell::new(),
                verifications: AtomicU64::new(0),
            }),
        }
    }

    /// The argon2id PHC string of `password`, with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.to_owned();
        self.run(move || hash_blocking(&password)).await?
    }

    /// Whether `password` matches the PHC string `phc`. A PHC string that cannot be
    /// parsed (a corrupted row) never matches; it is logged as an error.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, PasswordError> {
        let (password, phc) = (password.to_owned(), phc.to_owned());
        self.inner.verifications.fetch_add(1, Ordering::Relaxed);
        self.run(move || verify_blocking(&password, &phc)).await
    }

    /// Verifies `password` against a hash of a random password and returns `false`: the
    /// same work as a real verification, for an unknown e-mail address.
    pub async fn verify_dummy(&self, password: &str) -> Result<bool, PasswordError> {
        let dummy = self.dummy_hash().await?;
        self.verify(password, dummy).await?;
        Ok(false)
    }

    /// Computes the dummy hash now, so that even the first unknown e-mail address of the
    /// process costs one verification and no extra hash. The server calls it before it
    /// accepts connections.
    pub async fn warm_up(&self) -> Result<(), PasswordError> {
        self.dummy_hash().await.map(|_| ())
    }

    async fn dummy_hash(&self) -> Result<&String, PasswordError> {
        self.inner
            .dummy_hash
            .get_or_try_init(|| async {
                let mut random = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut random);
                self.hash(&hex::encode(random)).await
            })
            .await
    }

    /// How many password verifications this instance (and its clones) has run, the
    /// dummy ones for unknown e-mail addresses included. Each login attempt runs exactly
    /// one, whatever its outcome.
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(PasswordError::Closed)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(PasswordError::Task)
    }
}

fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(PasswordError::Hash)
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    match Argon2::default().verify_password(password.as_bytes(), phc) {
        Ok(()) => true,
        Err(argon2::password_hash::Error::PasswordInvalid) => false,
        Err(error) => {
            tracing::error!(%error, "a stored password hash cannot be used; the password is refused");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn warm_up_prepares_the_dummy_hash_without_verifying() {
        let passwords = Passwords::with_permits(1);
        assert!(passwords.inner.dummy_hash.get().is_none());
        passwords.warm_up().await.expect("warm up");
        assert!(passwords.inner.dummy_hash.get().is_some());
        assert_eq!(passwords.verifications(), 0);
        let dummy = passwords.inner.dummy_hash.get().cloned();
        assert!(!passwords.verify_dummy("anything").await.expect("verify"));
        assert_eq!(passwords.verifications(), 1);
        assert_eq!(
            passwords.inner.dummy_hash.get().cloned(),
            dummy,
            "hashed once"
        );
    }

    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let passwords = Passwords::with_permits(2);
        let first = passwords.hash("correct horse").await.expect("hash");
        let second = passwords.hash("correct horse").await.expect("hash");
        assert!(first.starts_with("$argon2id$v=19$"));
        assert_ne!(first, second, "a fresh salt every time");
        assert!(
            passwords
                .verify("correct horse", &first)
                .await
                .expect("verify")
        );
        assert!(!passwords.verify("wrong", &first).await.expect("verify"));
        assert!(
            !passwords
                .verify("x", "not a phc string")
                .await
                .expect("verify")
        );
        assert!(
            !passwords
                .verify_dummy("correct horse")
                .await
                .expect("dummy")
        );
    }
}
