//! What the library needs from the application's users.

use std::future::Future;

use serde_json::Value;

use crate::claims::{ExtraClaims, default_role};
use crate::error::{ReservedClaimError, UserStoreError};

/// A user of the application, as the library sees it when minting tokens.
///
/// Only [`id`](User::id), [`is_active`](User::is_active),
/// [`email_verified`](User::email_verified) and [`to_json`](User::to_json) are required;
/// the role defaults to the contract's staff/superuser rule.
pub trait User: Send + Sync {
    /// The user id; it becomes the `user_id` claim (a string, e.g. `"1"`).
    fn id(&self) -> String;

    /// Whether the user may hold sessions. An inactive user's sessions are deleted at their
    /// next rotation.
    fn is_active(&self) -> bool;

    /// Whether the user's e-mail address is confirmed (the `email_verified` claim).
    fn email_verified(&self) -> bool;

    /// Django's `is_staff`. Defaults to `false`.
    fn is_staff(&self) -> bool {
        false
    }

    /// Django's `is_superuser`. Defaults to `false`.
    fn is_superuser(&self) -> bool {
        false
    }

    /// The `role` claim. Defaults to [`default_role`]: 1000 for staff, 900 for a superuser
    /// who is not staff, else 0. Override it when the application has roles of its own.
    fn role(&self) -> i64 {
        default_role(self.is_staff(), self.is_superuser())
    }

    /// The user's JSON form, into which `user_attributes` paths point.
    fn to_json(&self) -> Value;
}

/// Loads users by id. Rotation uses it to re-read the claims of every refreshed token, and
/// the axum integration uses it to load the full user on demand.
pub trait UserStore: Send + Sync {
    /// The application's user type.
    type User: User;

    /// Loads the user with this id (`user_id` claim). `Ok(None)` when there is no such
    /// user; an id that is not in the application's format is also `Ok(None)`.
    fn load_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<Self::User>, UserStoreError>> + Send;
}

/// Adds application claims to every refresh token at login and at every rotation; access
/// tokens copy them.
///
/// This is the seed's `set_user_permissions` extension point:
///
/// ```
/// use jwt_allauth::{ClaimsExtension, ExtraClaims, ReservedClaimError, User};
///
/// struct Account { id: u64, permissions: Vec<String> }
///
/// impl User for Account {
///     fn id(&self) -> String { self.id.to_string() }
///     fn is_active(&self) -> bool { true }
///     fn email_verified(&self) -> bool { true }
///     fn to_json(&self) -> serde_json::Value { serde_json::json!({ "id": self.id }) }
/// }
///
/// /// Puts the user's permissions into the tokens.
/// struct SetUserPermissions;
///
/// impl ClaimsExtension<Account> for SetUserPermissions {
///     fn extend_claims(&self, user: &Account, claims: &mut ExtraClaims) -> Result<(), ReservedClaimError> {
///         claims.insert("permissions", user.permissions.clone())
///     }
/// }
///
/// let mut claims = ExtraClaims::new();
/// let account = Account { id: 1, permissions: vec!["billing.read".into()] };
/// SetUserPermissions.extend_claims(&account, &mut claims)?;
/// assert_eq!(claims.get("permissions"), Some(&serde_json::json!(["billing.read"])));
/// // The library's own claims cannot be overwritten:
/// assert!(claims.insert("role", 1000).is_err());
/// # Ok::<(), ReservedClaimError>(())
/// ```
pub trait ClaimsExtension<U>: Send + Sync {
    /// Adds claims for `user`. Runs after the configured user attributes, so it may
    /// replace one of them.
    fn extend_claims(&self, user: &U, claims: &mut ExtraClaims) -> Result<(), ReservedClaimError>;
}

/// The default extension: adds nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClaimsExtension;

impl<U> ClaimsExtension<U> for NoClaimsExtension {
    fn extend_claims(
        &self,
        _user: &U,
        _claims: &mut ExtraClaims,
    ) -> Result<(), ReservedClaimError> {
        Ok(())
    }
}
