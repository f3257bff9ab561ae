//! [`RequireRole`]: a role guard.

use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::authenticator::Authenticator;
use crate::extract::AuthUser;
use crate::rejection::{PermissionDenied, RoleRejection};

/// An [`AuthUser`] whose `role` claim is at least `MIN`; otherwise 403
/// `{"detail":"You do not have permission to perform this action."}` (and the 401s of
/// `AuthUser` without valid credentials).
///
/// ```
/// use jwt_allauth::claims::ROLE_STAFF;
/// use jwt_allauth_axum::RequireRole;
///
/// async fn staff_only(RequireRole(caller): RequireRole<ROLE_STAFF>) -> String {
///     format!("hello, staff member {}", caller.user_id())
/// }
/// ```
///
/// For a set of roles rather than a minimum, take an `AuthUser` and call
/// [`AuthUser::require_any_role`].
#[derive(Debug, Clone, PartialEq)]
pub struct RequireRole<const MIN: i64>(pub AuthUser);

impl<const MIN: i64> Deref for RequireRole<MIN> {
    type Target = AuthUser;

    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

impl<S, const MIN: i64> FromRequestParts<S> for RequireRole<MIN>
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = RoleRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.role() < MIN {
            return Err(PermissionDenied.into());
        }
        Ok(Self(user))
    }
}
