//! [`AuthUser`]: the caller, from the Bearer access token.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use jwt_allauth::Claims;

use crate::authenticator::Authenticator;
use crate::rejection::{AuthRejection, PermissionDenied};

/// The caller of a protected route: the user id and claims of a valid
/// `Authorization: Bearer` access token.
///
/// Stateless: verifying the token reads no database unless `ACCESS_TOKEN_SESSION_CHECK`
/// is on. The user is not loaded; use [`LoadUser`](crate::LoadUser) for that.
///
/// Extracted with the [`Authenticator`] the application state provides through
/// `FromRef`. Rejections ([`AuthRejection`], all 401 with `WWW-Authenticate`): no or
/// another scheme's credentials, a malformed `Bearer` header, an invalid, expired or
/// refresh token, or a closed session (with the session check on).
///
/// `Option<AuthUser>` is for routes open to everyone: no credentials gives `None`, but
/// credentials that are present and wrong are still rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthUser {
    claims: Claims,
}

impl AuthUser {
    pub(crate) fn new(claims: Claims) -> Self {
        Self { claims }
    }

    /// The user id (`user_id` claim).
    pub fn user_id(&self) -> &str {
        &self.claims.user_id
    }

    /// The session id (`session` claim), when the token has one.
    pub fn session(&self) -> Option<&str> {
        self.claims.session.as_deref()
    }

    /// The role when the token was minted (`role` claim). A role change shows from the
    /// next refresh on.
    pub fn role(&self) -> i64 {
        self.claims.role
    }

    /// The access token's claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The claims, by value.
    pub fn into_claims(self) -> Claims {
        self.claims
    }

    /// `Ok` when the caller's role is at least `min`.
    pub fn require_role(&self, min: i64) -> Result<(), PermissionDenied> {
        if self.claims.role >= min {
            Ok(())
        } else {
            Err(PermissionDenied)
        }
    }

    /// `Ok` when the caller's role is one of `roles`.
    pub fn require_any_role(&self, roles: &[i64]) -> Result<(), PermissionDenied> {
        if roles.contains(&self.claims.role) {
            Ok(())
        } else {
            Err(PermissionDenied)
        }
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Authenticator::from_ref(state)
            .authenticate_parts(parts)
            .await?
            .ok_or(AuthRejection::MissingCredentials)
    }
}

impl<S> OptionalFromRequestParts<S> for AuthUser
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Authenticator::from_ref(state)
            .authenticate_parts(parts)
            .await
    }
}
