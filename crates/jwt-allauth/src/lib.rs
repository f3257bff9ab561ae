//! JWT authentication with device-level session management.
#![doc = "TODO: crate example"]

pub mod attributes;
pub mod claims;
pub mod device;
pub mod error;
pub mod keys;
mod manager;
mod random;
pub mod settings;
pub mod store;
pub mod tokens;
pub mod user;

pub use attributes::UserAttributes;
pub use claims::{Claims, ExtraClaims, TokenType};
pub use device::{ClientIpResolver, DeviceInfo, UserAgentParser};
pub use error::{BoxError, Error, KeyError, ReservedClaimError, StoreError, TokenError, UserStoreError};
pub use keys::{Algorithm, KeyRing};
pub use settings::{Secret, Settings};
pub use user::{ClaimsExtension, NoClaimsExtension, User, UserStore};
pub use manager::{PURGE_BATCH_SIZE, PurgeReport, RevokedCredentials, RotationOutcome, SessionManager};
pub use tokens::{AccessToken, GenericToken, RefreshToken, TokenCodec, TokenPair};
