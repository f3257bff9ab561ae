//! What the routers need from the application's accounts beyond loading users.

use std::future::Future;

use jwt_allauth::{UserStore, UserStoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The profile served by `GET /user/`: `{"email","first_name","last_name"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Profile {
    /// The e-mail address (read-only through the API).
    #[cfg_attr(feature = "openapi", schema(read_only, example = "ada@example.com"))]
    pub email: String,
    /// First name (may be empty).
    pub first_name: String,
    /// Last name (may be empty).
    pub last_name: String,
}

/// The changes of `PATCH /user/`: only the given fields change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileUpdate {
    /// New first name, if given (at most 150 characters, may be empty).
    #[cfg_attr(feature = "openapi", schema(nullable = false, max_length = 150))]
    pub first_name: Option<String>,
    /// New last name, if given (at most 150 characters, may be empty).
    #[cfg_attr(feature = "openapi", schema(nullable = false, max_length = 150))]
    pub last_name: Option<String>,
}

/// What [`AccountStore::change_password`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChange {
    /// The password was changed.
    Changed,
    /// The old password is wrong; nothing changed.
    WrongOldPassword,
    /// There is no such user.
    UserNotFound,
}

/// The application's accounts: credentials and profiles. The server implements it for
/// its users table.
///
/// Password hashing is slow on purpose (argon2): implementations should run it
/// in `tokio::task::spawn_blocking`, behind a semaphore of about the core count, so that
/// logins do not stall other requests.
///
/// To have the routers answer 503 `service_unavailable` instead of 500 when the database
/// cannot be reached, return a [`UserStoreError`] whose source chain contains
/// [`StoreError::Unavailable`](jwt_allauth::StoreError::Unavailable).
///
/// # Example
///
/// A complete store over a map. It keeps passwords in clear text to stay short; a real
/// store keeps argon2 hashes and verifies them off the async runtime.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex};
///
/// use jwt_allauth::{User, UserStore, UserStoreError};
/// use jwt_allauth_axum::{AccountStore, PasswordChange, Profile, ProfileUpdate};
///
/// #[derive(Clone)]
/// struct Account { id: u64, email: String, password: String, first_name: String, last_name: String, active: bool }
///
/// impl User for Account {
///     fn id(&self) -> String { self.id.to_string() }
///     fn is_active(&self) -> bool { self.active }
///     fn email_verified(&self) -> bool { true }
///     fn to_json(&self) -> serde_json::Value {
///         serde_json::json!({ "id": self.id, "email": self.email })
///     }
/// }
///
/// #[derive(Clone, Default)]
/// struct Accounts(Arc<Mutex<HashMap<u64, Account>>>);
///
/// impl Accounts {
///     fn with<T>(&self, user_id: &str, f: impl FnOnce(&mut Account) -> T) -> Option<T> {
///         let id = user_id.parse::<u64>().ok()?;
///         self.0.lock().expect("lock").get_mut(&id).map(f)
///     }
/// }
///
/// impl UserStore for Accounts {
///     type User = Account;
///
///     async fn load_user(&self, user_id: &str) -> Result<Option<Account>, UserStoreError> {
///         Ok(self.with(user_id, |account| account.clone()))
///     }
/// }
///
/// impl AccountStore for Accounts {
///     async fn authenticate(&self, email: &str, password: &str) -> Result<Option<Account>, UserStoreError> {
///         let accounts = self.0.lock().expect("lock");
///         let found = accounts.values().find(|a| a.email.eq_ignore_ascii_case(email));
///         // A real store verifies a dummy hash when `found` is `None`.
///         Ok(found.filter(|a| a.password == password && a.active).cloned())
///     }
///
///     fn profile(&self, user: &Account) -> Profile {
///         Profile {
///             email: user.email.clone(),
///             first_name: user.first_name.clone(),
///             last_name: user.last_name.clone(),
///         }
///     }
///
///     async fn update_profile(&self, user_id: &str, update: ProfileUpdate) -> Result<Option<Profile>, UserStoreError> {
///         Ok(self.with(user_id, |account| {
///             if let Some(first_name) = update.first_name { account.first_name = first_name; }
///             if let Some(last_name) = update.last_name { account.last_name = last_name; }
///             self.profile(account)
///         }))
///     }
///
///     async fn change_password(&self, user_id: &str, old: &str, new: &str) -> Result<PasswordChange, UserStoreError> {
///         Ok(self
///             .with(user_id, |account| {
///                 if account.password != old {
///                     return PasswordChange::WrongOldPassword;
///                 }
///                 account.password = new.to_owned();
///                 PasswordChange::Changed
///             })
///             .unwrap_or(PasswordChange::UserNotFound))
///     }
/// }
/// ```
pub trait AccountStore: UserStore {
    /// The user with this e-mail address (compared case-insensitively) and password.
    ///
    /// `Ok(None)` for an unknown address, a wrong password or an inactive account, at the
    /// same cost: an unknown address still runs one password-hash verification (against
    /// a dummy hash), so that timing does not tell which addresses exist.
    fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> impl Future<Output = Result<Option<Self::User>, UserStoreError>> + Send;

    /// The profile of `user`.
    fn profile(&self, user: &Self::User) -> Profile;

    /// Applies `update` to the user `user_id` and returns the new profile; `Ok(None)`
    /// when there is no such user.
    fn update_profile(
        &self,
        user_id: &str,
        update: ProfileUpdate,
    ) -> impl Future<Output = Result<Option<Profile>, UserStoreError>> + Send;

    /// Sets a new password if `old_password` is the current one.
    fn change_password(
        &self,
        user_id: &str,
        old_password: &str,
        new_password: &str,
    ) -> impl Future<Output = Result<PasswordChange, UserStoreError>> + Send;

    /// Records a successful login (Django's `last_login`). Defaults to doing nothing.
    /// A failure is logged and does not fail the login.
    fn record_login(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), UserStoreError>> + Send {
        let _ = (user_id, now);
        async { Ok(()) }
    }
}
