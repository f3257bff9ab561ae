//! Extractors: the caller of a protected route.

mod auth_user;
mod load_user;
mod role;

pub use auth_user::AuthUser;
pub use load_user::{CurrentUser, LoadUser, UserLoader};
pub use role::RequireRole;
