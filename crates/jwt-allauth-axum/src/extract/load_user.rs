//! [`LoadUser`]: the caller and their full user record.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use jwt_allauth::events::RevocationReason;
use jwt_allauth::{Error, SessionManager, User, UserStore, UserStoreError};
use time::OffsetDateTime;

use crate::authenticator::{Authenticator, BoxFuture};
use crate::error_response::{server_fault, user_store_fault};
use crate::extract::AuthUser;
use crate::rejection::AuthRejection;

/// The caller ([`AuthUser`]) and their user, loaded through the
/// [`UserStore`](jwt_allauth::UserStore): the seed's `load_user`.
///
/// A valid token of a user who no longer exists, or who is inactive, is rejected with
/// 401 `token_not_valid` (never a 500) and all of that user's sessions are deleted.
///
/// Extracted with the [`UserLoader<U>`] the application state provides through
/// `FromRef` (an [`AuthState`](crate::AuthState) provides it for its user type).
pub struct LoadUser<U> {
    /// The verified access token's caller.
    pub auth: AuthUser,
    /// The loaded user, active.
    pub user: U,
}

/// Another name of [`LoadUser`], for handler signatures that read better with it.
pub type CurrentUser<U> = LoadUser<U>;

impl<U> Deref for LoadUser<U> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.user
    }
}

impl<U: fmt::Debug> fmt::Debug for LoadUser<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadUser")
            .field("auth", &self.auth)
            .field("user", &self.user)
            .finish()
    }
}

/// Loading users and revoking their sessions, behind a trait object.
pub(crate) trait LoadUserDyn<U>: Send + Sync {
    fn load<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<Option<U>, UserStoreError>>;
    fn revoke_all<'a>(
        &'a self,
        user_id: &'a str,
        reason: RevocationReason,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<u64, Error>>;
}

impl<A> LoadUserDyn<A::User> for SessionManager<A>
where
    A: UserStore,
{
    fn load<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<A::User>, UserStoreError>> {
        Box::pin(self.users().load_user(user_id))
    }

    fn revoke_all<'a>(
        &'a self,
        user_id: &'a str,
        reason: RevocationReason,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let revoked = self.revoke_credentials(user_id, reason, now).await?;
            Ok(revoked.sessions)
        })
    }
}

/// What [`LoadUser<U>`] extracts with: an [`Authenticator`] and the user store, without
/// the store's type. Get one with [`AuthState::user_loader`](crate::AuthState::user_loader).
/// Cheap to clone.
pub struct UserLoader<U> {
    authenticator: Authenticator,
    users: Arc<dyn LoadUserDyn<U>>,
}

impl<U> Clone for UserLoader<U> {
    fn clone(&self) -> Self {
        Self {
            authenticator: self.authenticator.clone(),
            users: Arc::clone(&self.users),
        }
    }
}

impl<U> fmt::Debug for UserLoader<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserLoader")
            .field("authenticator", &self.authenticator)
            .finish_non_exhaustive()
    }
}

impl<U: User + 'static> UserLoader<U> {
    /// A loader over `manager`'s user store, verifying tokens with `authenticator`.
    pub fn new<A>(authenticator: Authenticator, manager: Arc<SessionManager<A>>) -> Self
    where
        A: UserStore<User = U> + 'static,
    {
        Self {
            authenticator,
            users: manager,
        }
    }

    /// The authenticator.
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    /// Loads the active user `auth` names; an unknown or inactive user is
    /// [`AuthRejection::UserInactive`] after all of their sessions are deleted.
    pub async fn load(&self, auth: AuthUser) -> Result<LoadUser<U>, AuthRejection> {
        match self.users.load(auth.user_id()).await {
            Ok(Some(user)) if user.is_active() => Ok(LoadUser { auth, user }),
            Ok(found) => {
                let reason = match found {
                    Some(_) => RevocationReason::Deactivated,
                    None => RevocationReason::Deleted,
                };
                let now = self.authenticator.now();
                if let Err(error) = self.users.revoke_all(auth.user_id(), reason, now).await {
                    // The answer is 401 either way; the sessions die at their next
                    // rotation, which re-reads the user.
                    server_fault(&error, "revoking the sessions of an inactive user");
                }
                Err(AuthRejection::UserInactive)
            }
            Err(error) => Err(user_store_fault(&error, "loading the caller").into()),
        }
    }

    /// Verifies the request's token and loads its user.
    pub async fn load_parts(&self, parts: &mut Parts) -> Result<LoadUser<U>, AuthRejection> {
        let auth = self
            .authenticator
            .authenticate_parts(parts)
            .await?
            .ok_or(AuthRejection::MissingCredentials)?;
        self.load(auth).await
    }
}

impl<S, U> FromRequestParts<S> for LoadUser<U>
where
    UserLoader<U>: FromRef<S>,
    U: User + 'static,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        UserLoader::<U>::from_ref(state).load_parts(parts).await
    }
}
