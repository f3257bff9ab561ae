//! What the account flows (password reset, and sign-up and e-mail verification to come)
//! need from the application beyond [`AccountStore`]: finding an account by address, and
//! storing a purpose token together with the mail that carries it.

use std::fmt;
use std::future::Future;

use jwt_allauth::UserStoreError;
use jwt_allauth::store::NewPurposeToken;

use crate::account::AccountStore;

/// A mail of the account flows, for the application to render with its templates and
/// deliver. A link holds a single-use token: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountMail {
    /// `Password reset`: set a new password at `link`.
    PasswordReset {
        /// `{PUBLIC_URL}/password/reset/confirm/<uidb64>/<token>/`.
        link: String,
    },
    /// `Your password was changed`: the notice after a reset.
    PasswordChanged,
}

impl AccountMail {
    /// The mail's subject, as accounts.md fixes it.
    pub fn subject(&self) -> &'static str {
        match self {
            AccountMail::PasswordReset { .. } => "Password reset",
            AccountMail::PasswordChanged => "Your password was changed",
        }
    }

    /// The link the mail carries, if any.
    pub fn link(&self) -> Option<&str> {
        match self {
            AccountMail::PasswordReset { link } => Some(link),
            AccountMail::PasswordChanged => None,
        }
    }
}

impl fmt::Debug for AccountMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountMail::PasswordReset { .. } => f
                .debug_struct("PasswordReset")
                .field("link", &"[redacted]")
                .finish(),
            AccountMail::PasswordChanged => f.write_str("PasswordChanged"),
        }
    }
}

/// The application's side of the account flows.
///
/// Mail never goes out on the request path: [`store_token_and_mail`] writes the purpose
/// token and the mail that carries it in one transaction (both or neither), for a
/// worker to deliver later, so that an SMTP failure or a slow server never changes an
/// HTTP answer. The server implements it over its users table, the session store's
/// purpose tokens and a mail outbox in the same database.
///
/// [`store_token_and_mail`]: AccountFlows::store_token_and_mail
pub trait AccountFlows: AccountStore {
    /// The account whose address has the e-mail key of `email`
    /// ([`jwt_allauth::email::email_key`]), active or not.
    fn find_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<Self::User>, UserStoreError>> + Send;

    /// Stores `token` (replacing the user's older token of its purpose) and queues
    /// `mail` to `user`'s address, in one transaction.
    fn store_token_and_mail(
        &self,
        user: &Self::User,
        token: &NewPurposeToken,
        mail: AccountMail,
    ) -> impl Future<Output = Result<(), UserStoreError>> + Send;

    /// A password reset, in one transaction: consumes the reset token whose SHA-256 is
    /// `token_hash` (purpose `password_reset`, user `user_id`), sets `new_password`,
    /// marks the address verified (the reset proved the mailbox), deletes every session
    /// and purpose token of the user, and queues `mail`. The user, or `None`, with
    /// nothing changed, when the token is not live (used, replaced or expired) or the
    /// user is gone or inactive. Hash the password before the transaction begins.
    fn reset_password(
        &self,
        user_id: &str,
        token_hash: &[u8; 32],
        new_password: &str,
        mail: AccountMail,
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Self::User>, UserStoreError>> + Send;
}
