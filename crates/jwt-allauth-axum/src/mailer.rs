//! [`Mailer`]: how the application writes the account flows' mails.

use std::fmt;

use jwt_allauth::BoxError;

use crate::account::Profile;
use crate::account_flows::AccountMail;

/// A mail ready to be queued: its recipient and its rendered parts. `Debug` shows the
/// recipient and the subject only (the bodies may hold a link).
#[derive(Clone, PartialEq, Eq)]
pub struct ComposedMail {
    /// The recipient's address.
    pub to: String,
    /// The subject ([`AccountMail::subject`] unless the templates say otherwise).
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

impl fmt::Debug for ComposedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComposedMail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// The application's mail writer: renders an [`AccountMail`] for the account whose
/// profile is `to` (the server renders its minijinja templates). The flows compose a
/// mail with it, then hand it to [`AccountFlows`](crate::AccountFlows), which queues it
/// in the transaction that stores its token; delivery is the application's worker's.
///
/// ```
/// use jwt_allauth::BoxError;
/// use jwt_allauth_axum::{AccountMail, ComposedMail, Mailer, Profile};
///
/// struct PlainMailer;
///
/// impl Mailer for PlainMailer {
///     fn compose(&self, mail: &AccountMail, to: &Profile) -> Result<ComposedMail, BoxError> {
///         let text = match mail.link() {
///             Some(link) => format!("Hello {},\n\n{link}\n", to.first_name),
///             None => format!("Hello {},\n", to.first_name),
///         };
///         Ok(ComposedMail {
///             to: to.email.clone(),
///             subject: mail.subject().to_owned(),
///             html: format!("<p>{}</p>", text.trim()),
///             text,
///         })
///     }
/// }
///
/// let profile = Profile { email: "ada@example.com".into(), first_name: "Ada".into(), last_name: String::new() };
/// let mail = PlainMailer.compose(&AccountMail::PasswordChanged, &profile)?;
/// assert_eq!(mail.subject, "Your password was changed");
/// # Ok::<(), BoxError>(())
/// ```
pub trait Mailer: Send + Sync {
    /// `mail` for the account whose profile is `to`.
    fn compose(&self, mail: &AccountMail, to: &Profile) -> Result<ComposedMail, BoxError>;
}
