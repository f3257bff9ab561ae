//! Account operations of the HTTP layer: log in, change the password, the profile of
//! `/user/`; and the axum crate's [`AccountStore`] on them.

use jwt_allauth::{StoreError, UserStoreError};
use jwt_allauth_axum::{AccountStore, PasswordChange, Profile, ProfileUpdate};
use time::OffsetDateTime;

use super::{ServerUser, Users, UsersError, parse_user_id};
use crate::passwords::Passwords;

impl Users {
    /// The active user with this e-mail address (compared regardless of case) and
    /// password, else `None`.
    ///
    /// An unknown address, a wrong password and an inactive account all answer `None`
    /// after the same work: exactly one argon2 verification (against a dummy hash for an
    /// unknown address), so the answer time does not tell whether an account exists.
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<ServerUser>, UsersError> {
        let Some(user) = self.find_by_email(email).await? else {
            self.passwords.verify_dummy(password).await?;
            return Ok(None);
        };
        let matches = self.passwords.verify(password, &user.password_hash).await?;
        if !(matches && user.is_active) {
            return Ok(None);
        }
        if Passwords::is_foreign_hash(&user.password_hash) {
            self.upgrade_password_hash(&user, password).await;
        }
        Ok(Some(user))
    }

    /// Replaces an imported (Django) hash of `user`, whose password `password` has just
    /// matched, with an argon2id hash: once, at the first successful login after the
    /// import. Not a credential change: no event, no session ends. The hash is replaced
    /// only if it is still the one that matched. A failure is logged and the login goes on
    /// (the old hash still verifies; the next login tries again).
    async fn upgrade_password_hash(&self, user: &ServerUser, password: &str) {
        let upgraded = match self.passwords.hash(password).await {
            Ok(new_hash) => {
                on_table!(&self.db, table =>
                    table.replace_password_hash(user.id, &user.password_hash, &new_hash))
            }
            Err(error) => Err(error.into()),
        };
        match upgraded {
            Ok(true) => tracing::info!(
                user_id = user.id,
                "imported password hash upgraded to argon2id"
            ),
            Ok(false) => {}
            Err(error) => tracing::warn!(
                user_id = user.id,
                error = %crate::error::report(&error),
                "the imported password hash could not be upgraded"
            ),
        }
    }

    /// Changes the password of the user `user_id` (a `user_id` claim) if `old_password`
    /// is the current one. The hash is replaced only if it is still the one that was
    /// checked, so of two concurrent changes at most one succeeds. The caller ends the
    /// user's sessions and purpose tokens (`SessionManager::revoke_credentials`).
    pub async fn change_password(
        &self,
        user_id: &str,
        old_password: &str,
        new_password: &str,
    ) -> Result<PasswordChange, UsersError> {
        if new_password.is_empty() {
            return Err(UsersError::EmptyPassword);
        }
        let Some(id) = parse_user_id(user_id) else {
            return Ok(PasswordChange::UserNotFound);
        };
        let Some(user) = self.find_by_id(id).await? else {
            return Ok(PasswordChange::UserNotFound);
        };
        if !self
            .passwords
            .verify(old_password, &user.password_hash)
            .await?
        {
            return Ok(PasswordChange::WrongOldPassword);
        }
        let new_hash = self.passwords.hash(new_password).await?;
        // The HTTP layer's `AccountStore::change_password` passes no time: the event is
        // stamped with the clock's.
        let swapped = self
            .set_password_hash_if(
                id,
                &user.password_hash,
                &new_hash,
                OffsetDateTime::now_utc(),
            )
            .await?;
        Ok(if swapped {
            PasswordChange::Changed
        } else if self.find_by_id(id).await?.is_some() {
            PasswordChange::WrongOldPassword
        } else {
            PasswordChange::UserNotFound
        })
    }

    /// The user `user_id` (a `user_id` claim), `None` if there is none or the id is not
    /// one of ours.
    pub async fn find_by_user_id(&self, user_id: &str) -> Result<Option<ServerUser>, UsersError> {
        match parse_user_id(user_id) {
            Some(id) => self.find_by_id(id).await,
            None => Ok(None),
        }
    }
}

impl From<UsersError> for UserStoreError {
    /// Keeps the error as the source; an unreachable database becomes
    /// [`StoreError::Unavailable`] in the chain, which the routers answer with 503.
    fn from(err: UsersError) -> Self {
        match err {
            UsersError::Unavailable(source) => {
                UserStoreError(Box::new(StoreError::Unavailable(Box::new(source))))
            }
            UsersError::Store(store @ StoreError::Unavailable(_)) => {
                UserStoreError(Box::new(store))
            }
            other => UserStoreError(Box::new(other)),
        }
    }
}

/// The profile of `GET /user/`.
fn profile_of(user: &ServerUser) -> Profile {
    Profile {
        email: user.email.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
    }
}

impl AccountStore for Users {
    async fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<ServerUser>, UserStoreError> {
        Ok(Users::authenticate(self, email, password).await?)
    }

    fn profile(&self, user: &ServerUser) -> Profile {
        profile_of(user)
    }

    async fn update_profile(
        &self,
        user_id: &str,
        update: ProfileUpdate,
    ) -> Result<Option<Profile>, UserStoreError> {
        let Some(id) = parse_user_id(user_id) else {
            return Ok(None);
        };
        let user = self
            .update_names(
                id,
                update.first_name.as_deref(),
                update.last_name.as_deref(),
            )
            .await?;
        Ok(user.as_ref().map(profile_of))
    }

    async fn change_password(
        &self,
        user_id: &str,
        old_password: &str,
        new_password: &str,
    ) -> Result<PasswordChange, UserStoreError> {
        Ok(Users::change_password(self, user_id, old_password, new_password).await?)
    }

    async fn record_login(&self, user_id: &str, now: OffsetDateTime) -> Result<(), UserStoreError> {
        if let Some(id) = parse_user_id(user_id) {
            self.record_last_login(id, now).await?;
        }
        Ok(())
    }
}
