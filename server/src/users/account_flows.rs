//! The users table's side of the account flows: finding an account by address, and
//! storing a purpose token with the mail that carries it, in one transaction.

use jwt_allauth::events::{EventType, RevocationReason};
use jwt_allauth::store::{NewPurposeToken, SessionEnd};
use jwt_allauth::{StoreError, UserStoreError};
use jwt_allauth_axum::{AccountFlows, ComposedMail, NewAccount, Registered};
use jwt_allauth_sqlx::{PostgresStore, SqliteStore};

use super::table::Table;
use super::{NewUser, ServerUser, Users, UsersError, account_event};
use crate::db::Database;
use crate::mail::{Mailbox, Outbox, OutboxError, OutgoingMail};

/// A composed mail as the outbox queues it.
fn outgoing(mail: ComposedMail) -> Result<OutgoingMail, FlowError> {
    let to: Mailbox = mail.to.parse().map_err(|_| FlowError::Recipient)?;
    Ok(OutgoingMail::new(to, mail.subject, mail.text, mail.html))
}

/// Why a token and its mail were not stored.
#[derive(Debug, thiserror::Error)]
enum FlowError {
    #[error("no outbox is configured for the account flows")]
    NoOutbox,
    #[error("the account's address cannot receive mail")]
    Recipient,
    #[error("the purpose token cannot be stored")]
    Token(#[source] StoreError),
    #[error("the account event cannot be recorded")]
    Event(#[source] StoreError),
    #[error("the mail cannot be queued")]
    Outbox(#[from] OutboxError),
    #[error("the transaction failed")]
    Transaction(#[source] sqlx::Error),
    #[error(transparent)]
    Users(#[from] UsersError),
}

impl From<FlowError> for UserStoreError {
    /// An unreachable database is [`StoreError::Unavailable`] in the chain, which the
    /// routers answer with 503.
    fn from(error: FlowError) -> Self {
        let unavailable = match &error {
            FlowError::Token(StoreError::Unavailable(_))
            | FlowError::Event(StoreError::Unavailable(_))
            | FlowError::Outbox(OutboxError::Unavailable(_)) => true,
            FlowError::Transaction(source) => jwt_allauth_sqlx::is_unavailable(source),
            FlowError::Users(users) => users.is_unavailable(),
            _ => false,
        };
        if unavailable {
            UserStoreError(Box::new(StoreError::Unavailable(Box::new(error))))
        } else {
            UserStoreError(Box::new(error))
        }
    }
}

impl AccountFlows for Users {
    async fn find_by_email(&self, email: &str) -> Result<Option<ServerUser>, UserStoreError> {
        Ok(Users::find_by_email(self, email).await?)
    }

    async fn store_token_and_mail(
        &self,
        _user: &ServerUser,
        token: &NewPurposeToken,
        mail: ComposedMail,
    ) -> Result<(), UserStoreError> {
        let outbox = self.outbox.as_ref().ok_or(FlowError::NoOutbox)?;
        let outgoing = outgoing(mail)?;
        let now = token.created;
        match &self.db {
            Database::Sqlite(pool) => {
                let mut tx = pool.begin().await.map_err(FlowError::Transaction)?;
                SqliteStore::replace_purpose_token_on(&mut tx, token)
                    .await
                    .map_err(FlowError::Token)?;
                Outbox::enqueue(&mut *tx, &outgoing, now)
                    .await
                    .map_err(FlowError::from)?;
                tx.commit().await.map_err(FlowError::Transaction)?;
            }
            Database::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(FlowError::Transaction)?;
                PostgresStore::replace_purpose_token_on(&mut tx, token)
                    .await
                    .map_err(FlowError::Token)?;
                Outbox::enqueue(&mut *tx, &outgoing, now)
                    .await
                    .map_err(FlowError::from)?;
                tx.commit().await.map_err(FlowError::Transaction)?;
            }
        }
        outbox.wake();
        Ok(())
    }

    async fn reset_password(
        &self,
        user_id: &str,
        token_hash: &[u8; 32],
        new_password: &str,
        mail: ComposedMail,
        now: time::OffsetDateTime,
    ) -> Result<Option<ServerUser>, UserStoreError> {
        let Ok(id) = user_id.parse::<i64>() else {
            return Ok(None);
        };
        let outbox = self.outbox.as_ref().ok_or(FlowError::NoOutbox)?;
        let notice = outgoing(mail)?;
        // argon2 runs before the transaction, which then holds its locks only briefly.
        let password_hash = self
            .passwords
            .hash(new_password)
            .await
            .map_err(UsersError::from)
            .map_err(FlowError::from)?;
        macro_rules! reset_on {
            ($pool:expr, $store:ty, $db:ty) => {{
                let mut tx = <$store>::begin_write($pool)
                    .await
                    .map_err(FlowError::Token)?;
                if !<$store>::consume_purpose_token_on(
                    &mut tx,
                    user_id,
                    "password_reset",
                    token_hash,
                    now,
                )
                .await
                .map_err(FlowError::Token)?
                {
                    return Ok(None);
                }
                let Some(user) = Table::<$db>::reset_password_on(&mut tx, id, &password_hash)
                    .await
                    .map_err(FlowError::from)?
                else {
                    return Ok(None);
                };
                <$store>::write_event_on(
                    &mut tx,
                    &account_event(EventType::UserPasswordChanged, user.id, now),
                )
                .await
                .map_err(FlowError::Event)?;
                let end = SessionEnd::new(RevocationReason::PasswordReset, now);
                let ended = <$store>::revoke_user_credentials_on(&mut tx, user_id, end)
                    .await
                    .map_err(FlowError::Token)?;
                Outbox::enqueue(&mut *tx, &notice, now)
                    .await
                    .map_err(FlowError::from)?;
                tx.commit().await.map_err(FlowError::Transaction)?;
                // This transaction bypasses the metered store: counted here, once committed.
                crate::monitoring::sessions_ended(
                    RevocationReason::PasswordReset,
                    ended.len() as u64,
                );
                user
            }};
        }
        let user = match &self.db {
            Database::Sqlite(pool) => reset_on!(pool, SqliteStore, sqlx::Sqlite),
            Database::Postgres(pool) => reset_on!(pool, PostgresStore, sqlx::Postgres),
        };
        outbox.wake();
        Ok(Some(user))
    }

    async fn register(
        &self,
        account: NewAccount,
        replace_unverified: bool,
        now: time::OffsetDateTime,
    ) -> Result<Registered<ServerUser>, UserStoreError> {
        // One hash whether or not the address is free: a taken address costs the same.
        let password_hash = self
            .passwords
            .hash(&account.password)
            .await
            .map_err(UsersError::from)?;
        if let Some(existing) = Users::find_by_email(self, &account.email).await? {
            if replace_unverified && !existing.email_verified && existing.last_login.is_none() {
                // A sign-up again: `user.registered` once more, for the same id.
                let replaced: Option<ServerUser> = account_change!(&self.db, tx, D =>
                Table::<D>::replace_unverified_on(
                    &mut tx,
                    existing.id,
                    &password_hash,
                    &account.first_name,
                    &account.last_name,
                ),
                |user: &Option<ServerUser>| user.as_ref().map(|user| {
                    account_event(EventType::UserRegistered, user.id, now)
                }))
                .map_err(UserStoreError::from)?;
                if let Some(replaced) = replaced {
                    return Ok(Registered::Created(replaced));
                }
            }
            return Ok(Registered::Taken(existing));
        }
        let mut new = NewUser::new(account.email.as_str(), account.password.as_str());
        new.first_name = account.first_name;
        new.last_name = account.last_name;
        new.email_verified = account.email_verified;
        match self.create_with_hash(&new, password_hash, now).await {
            Ok(user) => Ok(Registered::Created(user)),
            // A concurrent sign-up took the address first.
            Err(UsersError::DuplicateEmail(_)) => {
                match Users::find_by_email(self, &account.email).await? {
                    Some(owner) => Ok(Registered::Taken(owner)),
                    None => Err(UsersError::DuplicateEmail(account.email).into()),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn queue_mail(
        &self,
        _user: &ServerUser,
        mail: ComposedMail,
    ) -> Result<(), UserStoreError> {
        let outbox = self.outbox.as_ref().ok_or(FlowError::NoOutbox)?;
        outbox
            .push(&outgoing(mail)?, time::OffsetDateTime::now_utc())
            .await
            .map_err(FlowError::from)?;
        Ok(())
    }

    async fn verify_email(
        &self,
        user_id: &str,
        token_hash: &[u8; 32],
        now: time::OffsetDateTime,
    ) -> Result<Option<ServerUser>, UserStoreError> {
        let Ok(id) = user_id.parse::<i64>() else {
            return Ok(None);
        };
        macro_rules! verify_on {
            ($pool:expr, $store:ty, $db:ty) => {{
                let mut tx = <$store>::begin_write($pool)
                    .await
                    .map_err(FlowError::Token)?;
                if !<$store>::consume_purpose_token_on(
                    &mut tx,
                    user_id,
                    "email_verification",
                    token_hash,
                    now,
                )
                .await
                .map_err(FlowError::Token)?
                {
                    return Ok(None);
                }
                let Some(user) = Table::<$db>::verify_email_on(&mut tx, id)
                    .await
                    .map_err(FlowError::from)?
                else {
                    return Ok(None);
                };
                <$store>::write_event_on(
                    &mut tx,
                    &account_event(EventType::UserEmailVerified, user.id, now),
                )
                .await
                .map_err(FlowError::Event)?;
                tx.commit().await.map_err(FlowError::Transaction)?;
                user
            }};
        }
        let user = match &self.db {
            Database::Sqlite(pool) => verify_on!(pool, SqliteStore, sqlx::Sqlite),
            Database::Postgres(pool) => verify_on!(pool, PostgresStore, sqlx::Postgres),
        };
        Ok(Some(user))
    }
}
