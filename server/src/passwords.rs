//! Password hashing with argon2id, off the async runtime, in bounded memory.
//!
//! Hashing and verifying take milliseconds of CPU each, on purpose (argon2 0.6 defaults:
//! argon2id, m = 19 MiB, t = 2, p = 1, the OWASP recommendation; the cost here is in
//! BENCHMARKS.md, "Login under load"). Run on the async runtime they
//! would stall every other request, so [`Passwords`] runs them with
//! [`tokio::task::spawn_blocking`], at most one per core at a time (a
//! [`tokio::sync::Semaphore`] with [`std::thread::available_parallelism`] permits, held
//! until the computation ends, even when the request that started it is dropped).
//!
//! Each computation fills its 19 MiB matrix in a buffer of a `MemoryPool` with one
//! buffer per permit, allocated once and reused, instead of a fresh allocation that the
//! allocator would keep resident afterwards (see `memory_pool`).
//!
//! Hashes imported from Django (`jwt-allauth import django`) are verified too (see
//! [`django_hash`]); [`Passwords::is_foreign_hash`] tells the login path to re-hash the
//! password to argon2id once it has matched.

pub mod django_hash;
mod memory_pool;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::Error as HashError;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::sync::{OnceCell, Semaphore};

use self::memory_pool::MemoryPool;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The hash could not be computed: the system's random number generator failed, or
    /// its memory could not be allocated.
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
    /// One permit per computation allowed at a time; each computation holds its permit
    /// (moved into the blocking task) until it ends.
    permits: Arc<Semaphore>,
    /// Argon2 memory, one buffer per permit.
    memory: MemoryPool,
    /// A hash of a random password, verified for unknown e-mail addresses so that they
    /// cost the same as a wrong password.
    dummy_hash: OnceCell<String>,
    /// Password verifications done so far (the dummy one included).
    verifications: AtomicU64,
    /// The number of permits.
    permit_count: usize,
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
        let permits = permits.max(1);
        Self {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(permits)),
                memory: MemoryPool::new(Params::DEFAULT.block_count(), permits),
                dummy_hash: OnceCell::new(),
                verifications: AtomicU64::new(0),
                permit_count: permits,
            }),
        }
    }

    /// How many hashes or verifications run at a time at most.
    pub fn permits(&self) -> usize {
        self.inner.permit_count
    }

    /// The argon2id PHC string of `password`, with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.to_owned();
        self.run(move |memory| new_phc(memory, &password))
            .await?
            .map_err(PasswordError::Hash)
    }

    /// Whether `password` matches the PHC string `phc`. A PHC string that cannot be
    /// parsed (a corrupted row) never matches; it is logged as an error.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, PasswordError> {
        let (password, phc) = (password.to_owned(), phc.to_owned());
        self.inner.verifications.fetch_add(1, Ordering::Relaxed);
        self.run(move |memory| verify_blocking(memory, &password, &phc))
            .await
    }

    /// Whether `stored` is a hash this server does not write (a Django hash kept by
    /// `jwt-allauth import django`): the login path replaces it with an argon2id hash of
    /// the password once the password has matched.
    pub fn is_foreign_hash(stored: &str) -> bool {
        django_hash::DjangoHash::parse(stored).is_some()
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

    /// Runs `work` on the blocking thread pool with the pool's memory once a permit is
    /// free. The permit moves into the blocking task: if this future is dropped (a
    /// client gone, a timeout), the computation still counts until it ends, so no more
    /// than the permits ever run, or hold memory, at once.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&MemoryPool) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(PasswordError::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let result = work(&inner.memory);
            drop(permit);
            result
        })
        .await
        .map_err(PasswordError::Task)
    }
}

/// The argon2id (v=19, default parameters) PHC string of `password` with a fresh
/// 16-byte salt: the string [`Argon2::default`] would produce, computed in pooled memory.
fn new_phc(memory: &MemoryPool, password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|_| HashError::RngFailure)?;
    let salt = Salt::new(&salt)?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT);
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let mut blocks = memory.take(argon2.params().block_count())?;
    argon2.hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, &mut *blocks)?;
    drop(blocks);
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(salt),
        hash: Some(Output::new(&output)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches `phc` (or a Django hash, see [`django_hash`]); a stored
/// string that cannot be used is logged and never matches.
fn verify_blocking(memory: &MemoryPool, password: &str, phc: &str) -> bool {
    if let Some(django) = django_hash::DjangoHash::parse(phc) {
        return match django {
            Ok(hash) => hash.matches(password, |phc| verify_blocking(memory, password, phc)),
            Err(error) => {
                tracing::error!(%error, "a stored password hash cannot be used; the password is refused");
                false
            }
        };
    }
    match matches_phc(memory, password, phc) {
        Ok(matches) => matches,
        Err(error) => {
            tracing::error!(%error, "a stored password hash cannot be used; the password is refused");
            false
        }
    }
}

/// The most memory a stored hash may ask for, in KiB (256 MiB: 13 times OWASP's 19 MiB).
const MAX_MEMORY_KIB: u32 = 256 * 1024;
/// The most passes a stored hash may ask for (OWASP's lightest setting uses 2, its
/// heaviest 5).
const MAX_PASSES: u32 = 16;
/// The most lanes a stored hash may ask for.
const MAX_LANES: u32 = 16;

/// Why a stored PHC string is not computed.
#[derive(Debug, thiserror::Error)]
enum UnusableHash {
    /// It does not parse, or names an unknown variant or version.
    #[error(transparent)]
    Invalid(#[from] HashError),
    /// Its parameters ask for more than any hash this server writes, or than its
    /// memory and time allow per login: a row tampered with or corrupted, which would
    /// otherwise let one login exhaust the server (a memory cost of 4 TiB, say).
    #[error(
        "its argon2 parameters exceed the limits (m={m_cost} KiB, t={t_cost}, p={p_cost}; \
         at most m=262144, t=16, p=16)"
    )]
    TooCostly {
        /// Memory in KiB.
        m_cost: u32,
        /// Passes.
        t_cost: u32,
        /// Lanes.
        p_cost: u32,
    },
}

impl From<argon2::password_hash::phc::Error> for UnusableHash {
    fn from(error: argon2::password_hash::phc::Error) -> Self {
        Self::Invalid(error.into())
    }
}

impl From<argon2::Error> for UnusableHash {
    fn from(error: argon2::Error) -> Self {
        Self::Invalid(error.into())
    }
}

/// Recomputes the hash of `password` with the algorithm, version, parameters, salt and
/// output length of `phc` (any argon2 variant, and parameters up to [`MAX_MEMORY_KIB`],
/// [`MAX_PASSES`] and [`MAX_LANES`]) and compares it with the stored output in constant
/// time.
fn matches_phc(memory: &MemoryPool, password: &str, phc: &str) -> Result<bool, UnusableHash> {
    let hash = PasswordHash::new(phc)?;
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(HashError::EncodingInvalid.into());
    };
    let algorithm = Algorithm::try_from(hash.algorithm.as_str())?;
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(&hash)?;
    if params.m_cost() > MAX_MEMORY_KIB
        || params.t_cost() > MAX_PASSES
        || params.p_cost() > MAX_LANES
    {
        return Err(UnusableHash::TooCostly {
            m_cost: params.m_cost(),
            t_cost: params.t_cost(),
            p_cost: params.p_cost(),
        });
    }
    let argon2 = Argon2::new(algorithm, version, params);
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let output = buffer
        .get_mut(..expected.len())
        .ok_or(HashError::OutputSize)?;
    let mut blocks = memory.take(argon2.params().block_count())?;
    argon2.hash_password_into_with_memory(password.as_bytes(), salt, output, &mut *blocks)?;
    Ok(output.ct_eq(expected.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    /// Made by this server before the memory pool (`Argon2::default().hash_password`,
    /// through `jwt-allauth user create`), for "correct horse battery staple".
    const HASH_BEFORE_THE_POOL: &str = "$argon2id$v=19$m=19456,t=2,p=1$Qt5sZmST23Ic5k7qJIiGCA$f9JosOFyfMTwxc3vnivUnETHhDPgn4ibmnAoXKXpgMI";

    fn reference_verifies(password: &str, phc: &str) -> bool {
        let hash = PasswordHash::new(phc).expect("a PHC string");
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    }

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

    #[test]
    fn a_stored_hash_asking_for_absurd_costs_is_refused_not_computed() {
        let pool = MemoryPool::new(Params::DEFAULT.block_count(), 1);
        for (from, to) in [
            ("m=19456", "m=4294967295"),
            ("m=19456", "m=262145"),
            ("t=2", "t=4294967295"),
            ("p=1", "p=255"),
        ] {
            let tampered = HASH_BEFORE_THE_POOL.replace(from, to);
            let refused = matches_phc(&pool, "correct horse battery staple", &tampered);
            assert!(
                matches!(refused, Err(UnusableHash::TooCostly { .. })),
                "{to}: {refused:?}"
            );
        }
        assert_eq!(
            (pool.allocated(), pool.one_offs()),
            (0, 0),
            "no memory was taken for them"
        );
        let at_the_limit = HASH_BEFORE_THE_POOL.replace("m=19456", "m=262144");
        assert!(matches!(
            matches_phc(&pool, "correct horse battery staple", &at_the_limit),
            Ok(false)
        ));
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

    #[tokio::test]
    async fn hashes_made_with_the_argon2_defaults_still_verify() {
        let passwords = Passwords::with_permits(1);
        let password = "correct horse battery staple";
        assert!(
            passwords
                .verify(password, HASH_BEFORE_THE_POOL)
                .await
                .expect("verify")
        );
        assert!(
            !passwords
                .verify("correct horse battery stapler", HASH_BEFORE_THE_POOL)
                .await
                .expect("verify")
        );
        let fresh = Argon2::default()
            .hash_password(password.as_bytes())
            .expect("reference hash")
            .to_string();
        assert!(passwords.verify(password, &fresh).await.expect("verify"));
        assert!(!passwords.verify("", &fresh).await.expect("verify"));
    }

    #[tokio::test]
    async fn new_hashes_are_default_argon2id_strings_the_reference_verifier_accepts() {
        let passwords = Passwords::with_permits(1);
        for password in ["correct horse", "", "ünïcødé 🔑 password"] {
            let phc = passwords.hash(password).await.expect("hash");
            let salt_and_hash = phc
                .strip_prefix("$argon2id$v=19$m=19456,t=2,p=1$")
                .expect("the argon2 default parameters");
            let (salt, hash) = salt_and_hash.split_once('$').expect("salt and hash");
            assert_eq!(
                (salt.len(), hash.len()),
                (22, 43),
                "16-byte salt, 32-byte hash"
            );
            assert!(reference_verifies(password, &phc), "{password:?}");
            assert!(!reference_verifies("wrong", &phc));
        }
        assert_eq!(passwords.inner.memory.allocated(), 1, "one buffer, reused");
    }

    #[tokio::test]
    async fn other_variants_and_parameters_verify_in_memory_of_their_own_size() {
        let passwords = Passwords::with_permits(2);
        let cases = [
            // Fewer blocks than the pool's buffers (two lanes): a pooled buffer.
            (Algorithm::Argon2id, Version::V0x13, 8192, 1, 2, None),
            (Algorithm::Argon2d, Version::V0x10, 19456, 2, 1, Some(16)),
            // More blocks (32 MiB): a one-off buffer.
            (Algorithm::Argon2i, Version::V0x13, 32768, 1, 1, Some(64)),
        ];
        for (algorithm, version, m, t, p, output_len) in cases {
            let params = Params::new(m, t, p, output_len).expect("params");
            let phc = Argon2::new(algorithm, version, params)
                .hash_password(b"s3cret")
                .expect("reference hash")
                .to_string();
            assert!(
                passwords.verify("s3cret", &phc).await.expect("verify"),
                "{phc}"
            );
            assert!(
                !passwords.verify("s3creT", &phc).await.expect("verify"),
                "{phc}"
            );
        }
        let memory = &passwords.inner.memory;
        assert!(memory.allocated() <= 2);
        assert_eq!(memory.one_offs(), 2, "only the 32 MiB case, twice");
    }

    #[tokio::test]
    async fn unusable_hashes_never_match() {
        let passwords = Passwords::with_permits(1);
        let no_output = "$argon2id$v=19$m=19456,t=2,p=1$Qt5sZmST23Ic5k7qJIiGCA";
        let unknown_algorithm = HASH_BEFORE_THE_POOL.replace("argon2id", "argon2x");
        let truncated_output = &HASH_BEFORE_THE_POOL[..HASH_BEFORE_THE_POOL.len() - 1];
        for phc in [no_output, &unknown_algorithm, truncated_output, ""] {
            let matches = passwords.verify("correct horse battery staple", phc).await;
            assert!(!matches.expect("verify"), "{phc}");
        }
    }

    #[tokio::test]
    async fn the_pool_never_holds_more_buffers_than_permits() {
        let passwords = Passwords::with_permits(2);
        let phc = passwords.hash("pw").await.expect("hash");
        let work = (0..8).map(|i| {
            let (passwords, phc) = (passwords.clone(), phc.clone());
            async move {
                if i % 2 == 0 {
                    passwords.hash("pw").await.map(|hash| !hash.is_empty())
                } else {
                    passwords.verify("pw", &phc).await
                }
            }
        });
        for outcome in futures::future::join_all(work).await {
            assert!(outcome.expect("hash or verify"));
        }
        let memory = &passwords.inner.memory;
        assert!(
            (1..=2).contains(&memory.allocated()),
            "{}",
            memory.allocated()
        );
        assert_eq!(memory.one_offs(), 0, "never more computations than buffers");
    }

    #[tokio::test]
    async fn a_dropped_verification_holds_its_permit_until_it_ends() {
        let passwords = Passwords::with_permits(1);
        let dropped = tokio::time::timeout(
            Duration::from_millis(1),
            passwords.verify("pw", HASH_BEFORE_THE_POOL),
        )
        .await;
        assert!(dropped.is_err(), "a verification takes longer than 1 ms");
        assert!(
            passwords
                .verify("correct horse battery staple", HASH_BEFORE_THE_POOL)
                .await
                .expect("verify")
        );
        let memory = &passwords.inner.memory;
        assert_eq!(memory.allocated(), 1);
        assert_eq!(memory.one_offs(), 0, "the second waited for the first");
        assert_eq!(passwords.verifications(), 2);
    }
}
