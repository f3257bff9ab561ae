//! JWT authentication with device-level session management.
#![doc = "TODO: crate example"]

pub mod attributes;
pub mod claims;
pub mod device;
pub mod error;
pub mod keys;
pub mod settings;
pub mod store;
pub mod user;

pub use attributes::UserAttributes;
pub use claims::{Claims, ExtraClaims, TokenType};
pub use device::{ClientIpResolver, DeviceInfo, UserAgentParser};
pub use error::{BoxError, Error, KeyError, ReservedClaimError, StoreError, TokenError, UserStoreError};
pub use keys::{Algorithm, KeyRing};
pub use settings::{Secret, Settings};
pub use user::{ClaimsExtension, NoClaimsExtension, User, UserStore};
