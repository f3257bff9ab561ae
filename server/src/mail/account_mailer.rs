//! [`AccountMailer`]: the account flows' mails, rendered with the templates.

use std::sync::Arc;

use jwt_allauth::BoxError;
use jwt_allauth_axum::{AccountMail, ComposedMail, Mailer, Profile};

use super::{MailContext, MailKind, Mailbox, OutgoingMail, TemplateError, Templates};

/// Renders the mails of the account flows ([`AccountMail`]) for a recipient, with the
/// server's [`Templates`] and its `PUBLIC_URL`: the server's [`Mailer`].
#[derive(Debug, Clone)]
pub struct AccountMailer {
    templates: Arc<Templates>,
    site: String,
}

/// Why an account mail could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum AccountMailError {
    /// The recipient's address is not one a mail can be sent to.
    #[error("the account's address cannot receive mail")]
    Recipient,
    /// A template failed.
    #[error(transparent)]
    Template(#[from] TemplateError),
}

impl AccountMailer {
    /// Renders with `templates`; `site` is `PUBLIC_URL`.
    pub fn new(templates: Arc<Templates>, site: impl Into<String>) -> Self {
        Self {
            templates,
            site: site.into(),
        }
    }

    /// `mail` to the account whose profile is `to`.
    pub fn render(
        &self,
        mail: &AccountMail,
        to: &Profile,
    ) -> Result<OutgoingMail, AccountMailError> {
        let kind = match mail {
            AccountMail::Verification { .. } => MailKind::Verification,
            AccountMail::AccountExists { .. } => MailKind::AccountExists,
            AccountMail::PasswordReset { .. } => MailKind::PasswordReset,
            AccountMail::PasswordChanged => MailKind::PasswordChanged,
            AccountMail::NewSignIn { .. } => MailKind::NewSignIn,
            _ => return Err(AccountMailError::Recipient),
        };
        let recipient: Mailbox = to.email.parse().map_err(|_| AccountMailError::Recipient)?;
        let mut context = MailContext {
            link: mail.link().map(str::to_owned),
            email: to.email.clone(),
            first_name: to.first_name.clone(),
            site: self.site.clone(),
            ..MailContext::default()
        };
        if let AccountMail::NewSignIn {
            device, ip, time, ..
        } = mail
        {
            context.device = device.clone();
            context.ip = ip.clone();
            context.time = time.clone();
        }
        let rendered = self.templates.render(kind, &context)?;
        Ok(OutgoingMail::new(
            recipient,
            rendered.subject,
            rendered.text,
            rendered.html,
        ))
    }
}

impl Mailer for AccountMailer {
    fn compose(&self, mail: &AccountMail, to: &Profile) -> Result<ComposedMail, BoxError> {
        let rendered = self.render(mail, to)?;
        Ok(ComposedMail {
            to: to.email.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        })
    }
}
