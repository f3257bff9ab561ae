//! JWT authentication with device-level session management.
//!
//! Stateless access tokens (no database read per request) backed by a whitelist of
//! sessions: every login on every device is one row, so an application can list a user's
//! devices, end one or all of them, and detect a stolen refresh token.
//!
//! - [`tokens`]: [`RefreshToken`] (carries `session`, `session_iat`, `role`,
//!   `email_verified` and configured user attributes), [`AccessToken`] (derived from it)
//!   and [`GenericToken`] (single-use purpose tokens, hashed at rest).
//! - [`SessionManager`]: login, rotation with replay detection, reuse interval and
//!   absolute session lifetime, revocation, purpose tokens, purge.
//! - [`store`]: the [`SessionStore`](store::SessionStore) and
//!   [`PurposeTokenStore`](store::PurposeTokenStore) traits; `jwt-allauth-sqlx` implements
//!   them for SQLite and PostgreSQL.
//! - [`memory`]: [`MemoryStore`](memory::MemoryStore), both stores in memory, for tests
//!   and examples.
//! - `conformance` (feature `test-util`): the conformance suite every store runs, with
//!   `conformance_tests!`.
//! - [`rotation`]: the rotation decision of sessions.md (replay, reuse interval, disabled
//!   sessions, absolute lifetime), which every store reuses.
//! - [`user`]: what the library needs from the application's users, and the
//!   [`ClaimsExtension`] point for custom claims.
//! - [`device`]: browser, OS and device from the User-Agent (uap-core rules), client IP.
//! - [`settings`]: every setting with its default, from code, TOML or environment.
//!
//! The crate knows no web framework and no database: `jwt-allauth-axum` and
//! `jwt-allauth-sqlx` bring those. Every operation takes the current time (`now`), so
//! tests control the clock.
//!
//! # Example
//!
//! Log in, rotate, detect a replayed refresh token and revoke, on the in-memory store
//! (`jwt-allauth-sqlx` brings SQLite and PostgreSQL):
//!
//! ```
//! use jwt_allauth::keys::{Algorithm, KeyRing};
//! use jwt_allauth::{DeviceInfo, RotationOutcome, SessionManager, Settings, User, UserStore, UserStoreError};
//! use jwt_allauth::memory::MemoryStore;
//! use time::OffsetDateTime;
//!
//! struct Account { id: u64 }
//!
//! impl User for Account {
//!     fn id(&self) -> String { self.id.to_string() }
//!     fn is_active(&self) -> bool { true }
//!     fn email_verified(&self) -> bool { true }
//!     fn to_json(&self) -> serde_json::Value { serde_json::json!({ "id": self.id }) }
//! }
//!
//! struct Accounts;
//!
//! impl UserStore for Accounts {
//!     type User = Account;
//!     async fn load_user(&self, id: &str) -> Result<Option<Account>, UserStoreError> {
//!         Ok(id.parse().ok().map(|id| Account { id }))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryStore::new();
//! let keys = KeyRing::hmac(Algorithm::HS256, b"a secret of at least thirty-two bytes")?;
//! let manager = SessionManager::new(Settings::default(), keys, store, Accounts);
//! let now = OffsetDateTime::now_utc();
//! let device = DeviceInfo::default();
//!
//! // Login: a session row and a token pair.
//! let login = manager.open_session(&Account { id: 1 }, &device, now).await?;
//! let access = manager.authenticate(login.access.as_str(), now).await?;
//! assert_eq!(access.user_id(), "1");
//!
//! // Rotation: a new pair for the same session.
//! let RotationOutcome::Rotated(next) = manager.rotate(login.refresh.as_str(), &device, now).await? else {
//!     panic!("the current token rotates");
//! };
//! assert_eq!(next.refresh.claims().session, login.refresh.claims().session);
//!
//! // Replaying the old refresh token revokes the whole session, successor included.
//! let replay = manager.rotate(login.refresh.as_str(), &device, now).await?;
//! assert!(matches!(replay, RotationOutcome::Replayed));
//! let after = manager.rotate(next.refresh.as_str(), &device, now).await?;
//! assert!(matches!(after, RotationOutcome::NotFound));
//!
//! // Revocation: log the user out everywhere.
//! manager.open_session(&Account { id: 1 }, &device, now).await?;
//! assert_eq!(manager.logout_all("1", now).await?, 1);
//! assert!(manager.list_sessions("1").await?.is_empty());
//! # Ok(())
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod attempts;
pub mod attributes;
pub mod claims;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod conformance;
pub mod device;
mod dyn_store;
pub mod email;
pub mod error;
pub mod events;
pub mod keys;
mod manager;
pub mod memory;
pub mod random;
pub mod rotation;
pub mod settings;
pub mod store;
pub mod tokens;
pub mod user;

pub use attributes::UserAttributes;
pub use claims::{Claims, ExtraClaims, TokenType};
pub use device::{ClientIpResolver, DeviceInfo, UserAgentParser};
pub use dyn_store::DynStore;
pub use error::{
    BoxError, Error, KeyError, ReservedClaimError, StoreError, TokenError, TokenTooLarge,
    UserStoreError,
};
pub use keys::{Algorithm, KeyRing};
pub use manager::{
    PURGE_BATCH_SIZE, PurgeReport, RevokedCredentials, RotationOutcome, SessionManager,
};
pub use settings::{Secret, Settings};
pub use tokens::{AccessToken, GenericToken, RefreshToken, TokenCodec, TokenPair};
pub use user::{ClaimsExtension, NoClaimsExtension, User, UserStore};
