//! The application's own users: an in-memory [`AccountStore`] with argon2id password
//! hashes, seeded with two demo accounts.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jwt_allauth::{User, UserStore, UserStoreError};
use jwt_allauth_axum::{AccountStore, PasswordChange, Profile, ProfileUpdate};
use tokio::sync::Semaphore;

/// The seeded normal user: id 1, role 0.
pub const DEMO_USER: (&str, &str) = ("alice@example.com", "alice-password");

/// The seeded staff user: id 2, role 1000.
pub const DEMO_STAFF: (&str, &str) = ("bob@example.com", "bob-password");

/// A user of the application.
#[derive(Clone)]
pub struct Account {
    /// The id (`user_id` claim `"1"`, `"2"`, ...).
    pub id: u64,
    /// The e-mail address, used to log in.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Whether the user is staff (role 1000 in the tokens).
    pub is_staff: bool,
    /// Whether the user may log in.
    pub is_active: bool,
    /// The argon2id PHC string of the password.
    password_hash: String,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No password hash in logs.
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("is_staff", &self.is_staff)
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

impl User for Account {
    fn id(&self) -> String {
        self.id.to_string()
    }

    fn is_active(&self) -> bool {
        self.is_active
    }

    fn email_verified(&self) -> bool {
        true
    }

    fn is_staff(&self) -> bool {
        self.is_staff
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "is_staff": self.is_staff,
        })
    }
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// argon2 refused to hash.
    #[error("password hashing failed")]
    Hash(#[source] argon2::password_hash::Error),
    /// The blocking task panicked or was cancelled.
    #[error("the password hashing task failed")]
    Task(#[source] tokio::task::JoinError),
    /// The semaphore was closed (it never is).
    #[error("the password hashing pool is closed")]
    Closed(#[source] tokio::sync::AcquireError),
}

impl From<PasswordError> for UserStoreError {
    fn from(error: PasswordError) -> Self {
        UserStoreError(Box::new(error))
    }
}

/// The application's accounts, in memory. Cheap to clone (one `Arc`).
///
/// Passwords are argon2id hashes, computed and verified on the blocking thread pool, at
/// most one per core at a time, so that logins do not stall other requests.
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    users: RwLock<BTreeMap<u64, Account>>,
    /// A hash verified for unknown e-mail addresses, so that they cost the same as a
    /// wrong password.
    dummy_hash: String,
    permits: Semaphore,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("users", &self.read(|users| users.len()))
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// An empty store.
    pub async fn new() -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let permits = Semaphore::new(cores);
        let dummy_hash = run(&permits, || hash("not the password of anyone")).await??;
        Ok(Self {
            inner: Arc::new(Inner {
                users: RwLock::new(BTreeMap::new()),
                dummy_hash,
                permits,
            }),
        })
    }

    /// A store with the demo accounts: [`DEMO_USER`] (id 1, a normal user) and
    /// [`DEMO_STAFF`] (id 2, staff).
    pub async fn seeded() -> Result<Self, PasswordError> {
        let accounts = Self::new().await?;
        accounts
            .add(1, DEMO_USER.0, DEMO_USER.1, ("Alice", "Liddell"), false)
            .await?;
        accounts
            .add(2, DEMO_STAFF.0, DEMO_STAFF.1, ("Bob", "Builder"), true)
            .await?;
        Ok(accounts)
    }

    /// Adds (or replaces) the active user `id`.
    pub async fn add(
        &self,
        id: u64,
        email: &str,
        password: &str,
        (first_name, last_name): (&str, &str),
        is_staff: bool,
    ) -> Result<(), PasswordError> {
        let password_hash = self.hash(password).await?;
        let account = Account {
            id,
            email: email.to_owned(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            is_staff,
            is_active: true,
            password_hash,
        };
        self.write(|users| users.insert(id, account));
        Ok(())
    }

    /// Sets whether the user `id` may log in; `false` when there is no such user.
    pub fn set_active(&self, id: u64, active: bool) -> bool {
        self.write(|users| {
            users
                .get_mut(&id)
                .map(|account| account.is_active = active)
                .is_some()
        })
    }

    async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.to_owned();
        run(&self.inner.permits, move || hash(&password)).await?
    }

    async fn verify(&self, password: &str, phc: &str) -> Result<bool, PasswordError> {
        let (password, phc) = (password.to_owned(), phc.to_owned());
        run(&self.inner.permits, move || verify(&password, &phc)).await
    }

    // A panic while holding the lock cannot leave a half-written map (every write is a
    // single insert or field assignment), so a poisoned lock is used as is.
    fn read<T>(&self, f: impl FnOnce(&BTreeMap<u64, Account>) -> T) -> T {
        f(&self
            .inner
            .users
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    fn write<T>(&self, f: impl FnOnce(&mut BTreeMap<u64, Account>) -> T) -> T {
        f(&mut self
            .inner
            .users
            .write()
            .unwrap_or_else(PoisonError::into_inner))
    }

    fn find(&self, user_id: &str) -> Option<Account> {
        let id = user_id.parse::<u64>().ok()?;
        self.read(|users| users.get(&id).cloned())
    }
}

impl UserStore for Accounts {
    type User = Account;

    async fn load_user(&self, user_id: &str) -> Result<Option<Account>, UserStoreError> {
        Ok(self.find(user_id))
    }
}

impl AccountStore for Accounts {
    async fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<Account>, UserStoreError> {
        let found = self.read(|users| {
            users
                .values()
                .find(|account| account.email.eq_ignore_ascii_case(email))
                .cloned()
        });
        let Some(account) = found else {
            self.verify(password, &self.inner.dummy_hash).await?;
            return Ok(None);
        };
        let matches = self.verify(password, &account.password_hash).await?;
        Ok((matches && account.is_active).then_some(account))
    }

    fn profile(&self, user: &Account) -> Profile {
        Profile {
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
        }
    }

    async fn update_profile(
        &self,
        user_id: &str,
        update: ProfileUpdate,
    ) -> Result<Option<Profile>, UserStoreError> {
        let Ok(id) = user_id.parse::<u64>() else {
            return Ok(None);
        };
        Ok(self.write(|users| {
            let account = users.get_mut(&id)?;
            if let Some(first_name) = update.first_name {
                account.first_name = first_name;
            }
            if let Some(last_name) = update.last_name {
                account.last_name = last_name;
            }
            Some(self.profile(account))
        }))
    }

    async fn change_password(
        &self,
        user_id: &str,
        old_password: &str,
        new_password: &str,
    ) -> Result<PasswordChange, UserStoreError> {
        let Some(account) = self.find(user_id) else {
            return Ok(PasswordChange::UserNotFound);
        };
        if !self.verify(old_password, &account.password_hash).await? {
            return Ok(PasswordChange::WrongOldPassword);
        }
        let password_hash = self.hash(new_password).await?;
        let changed = self.write(|users| {
            users
                .get_mut(&account.id)
                .map(|account| account.password_hash = password_hash)
                .is_some()
        });
        Ok(if changed {
            PasswordChange::Changed
        } else {
            PasswordChange::UserNotFound
        })
    }
}

/// Runs `work` on the blocking thread pool, holding one of `permits`.
async fn run<T: Send + 'static>(
    permits: &Semaphore,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let _permit = permits.acquire().await.map_err(PasswordError::Closed)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(PasswordError::Task)
}

/// The argon2id PHC string of `password`, with a fresh random salt.
fn hash(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(PasswordError::Hash)
}

/// Whether `password` matches the PHC string `phc`; an unusable hash never matches.
fn verify(password: &str, phc: &str) -> bool {
    match Argon2::default().verify_password(password.as_bytes(), phc) {
        Ok(()) => true,
        Err(argon2::password_hash::Error::PasswordInvalid) => false,
        Err(error) => {
            tracing::error!(%error, "a stored password hash cannot be used; the password is refused");
            false
        }
    }
}
