//! What the account flows (password reset, and sign-up and e-mail verification to come)
//! need from the application beyond [`AccountStore`]: finding an account by address, and
//! storing a purpose token together with the mail that carries it.

use std::fmt;
use std::future::Future;

use jwt_allauth::UserStoreError;
use jwt_allauth::store::NewPurposeToken;

use crate::account::AccountStore;
use crate::mailer::ComposedMail;

/// A mail of the account flows, for the application's [`Mailer`](crate::Mailer) to
/// render. A link holds a single-use token: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountMail {
    /// `Welcome!`: confirm the address at `link`.
    Verification {
        /// `{PUBLIC_URL}/registration/verification/<key>/`, or `EMAIL_VERIFICATION_URL`.
        link: String,
    },
    /// `You already have an account`: someone signed up with this address.
    AccountExists {
        /// `PASSWORD_RESET_REQUEST_URL`, the page to ask for a reset, if configured.
        reset_page: Option<String>,
    },
    /// `Password reset`: set a new password at `link`.
    PasswordReset {
        /// `{PUBLIC_URL}/password/reset/confirm/<uidb64>/<token>/`.
        link: String,
    },
    /// `Your password was changed`: the notice after a reset.
    PasswordChanged,
    /// `New sign-in to your account`: a login from a device the account has not used
    /// lately (see [`known_devices`](crate::known_devices)).
    NewSignIn {
        /// The "This wasn't me" link, `{PUBLIC_URL}/sessions/not-me/<key>/`: it ends that
        /// session.
        link: String,
        /// The device, as [`DeviceFingerprint::describe`](crate::known_devices::DeviceFingerprint::describe)
        /// writes it (`Firefox on Windows (Other)`).
        device: String,
        /// The client's IP address, or `unknown`.
        ip: String,
        /// The login's time, UTC (`2026-12-05 21:04:59 UTC`).
        time: String,
    },
}

impl AccountMail {
    /// The mail's subject, as accounts.md fixes it.
    pub fn subject(&self) -> &'static str {
        match self {
            AccountMail::Verification { .. } => "Welcome!",
            AccountMail::AccountExists { .. } => "You already have an account",
            AccountMail::PasswordReset { .. } => "Password reset",
            AccountMail::PasswordChanged => "Your password was changed",
            AccountMail::NewSignIn { .. } => "New sign-in to your account",
        }
    }

    /// The link the mail carries, if any.
    pub fn link(&self) -> Option<&str> {
        match self {
            AccountMail::Verification { link }
            | AccountMail::PasswordReset { link }
            | AccountMail::NewSignIn { link, .. } => Some(link),
            AccountMail::AccountExists { reset_page } => reset_page.as_deref(),
            AccountMail::PasswordChanged => None,
        }
    }
}

impl fmt::Debug for AccountMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountMail::Verification { .. } => f
                .debug_struct("Verification")
                .field("link", &"[redacted]")
                .finish(),
            AccountMail::AccountExists { reset_page } => f
                .debug_struct("AccountExists")
                .field("reset_page", reset_page)
                .finish(),
            AccountMail::PasswordReset { .. } => f
                .debug_struct("PasswordReset")
                .field("link", &"[redacted]")
                .finish(),
            AccountMail::PasswordChanged => f.write_str("PasswordChanged"),
            AccountMail::NewSignIn {
                device, ip, time, ..
            } => f
                .debug_struct("NewSignIn")
                .field("link", &"[redacted]")
                .field("device", device)
                .field("ip", ip)
                .field("time", time)
                .finish(),
        }
    }
}

/// A sign-up: the account to create. `Debug` does not show the password.
#[derive(Clone)]
pub struct NewAccount {
    /// The address, trimmed, as written.
    pub email: String,
    /// The password, in clear: hash it.
    pub password: String,
    /// First name, trimmed, as written (may be empty).
    pub first_name: String,
    /// Last name, trimmed, as written (may be empty).
    pub last_name: String,
    /// Whether the address counts as verified from the start (`EMAIL_VERIFICATION=none`).
    pub email_verified: bool,
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("email_verified", &self.email_verified)
            .finish_non_exhaustive()
    }
}

/// What [`AccountFlows::register`] did.
#[derive(Debug, Clone)]
pub enum Registered<U> {
    /// A new account (or an earlier, never verified and never used one, replaced).
    Created(U),
    /// The address belongs to this account; nothing was written.
    Taken(U),
}

/// The application's side of the account flows.
///
/// Mail never goes out on the request path: the flows compose a mail with the
/// application's [`Mailer`](crate::Mailer), and [`store_token_and_mail`] writes the
/// purpose token and that mail in one transaction (both or neither), for a worker to
/// deliver later, so that an SMTP failure or a slow server never changes an
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
        mail: ComposedMail,
    ) -> impl Future<Output = Result<(), UserStoreError>> + Send;

    /// Creates the account of a sign-up, hashing its password **whether or not the
    /// address is free** (so a taken address costs the same). When an account with the
    /// address's e-mail key exists: with `replace_unverified`, an account whose address
    /// was never verified and that never logged in is replaced in place (new password
    /// and names; the caller's new verification token then kills the old link);
    /// otherwise it is [`Registered::Taken`] and nothing is written.
    fn register(
        &self,
        account: NewAccount,
        replace_unverified: bool,
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<Registered<Self::User>, UserStoreError>> + Send;

    /// Queues `mail` to `user`'s address (a mail without a token).
    fn queue_mail(
        &self,
        user: &Self::User,
        mail: ComposedMail,
    ) -> impl Future<Output = Result<(), UserStoreError>> + Send;

    /// An e-mail verification, in one transaction: consumes the token whose SHA-256 is
    /// `token_hash` (purpose `email_verification`, user `user_id`) and marks the address
    /// verified. The user, or `None`, with nothing changed, when the token is not live
    /// or the user is gone or inactive.
    fn verify_email(
        &self,
        user_id: &str,
        token_hash: &[u8; 32],
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Self::User>, UserStoreError>> + Send;

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
        mail: ComposedMail,
        now: time::OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Self::User>, UserStoreError>> + Send;
}
