//! Mail: the building blocks the account routes send their mails with.

mod email_url;
mod outbox;
mod outbox_sql;
mod templates;
mod transport;

pub use lettre::message::Mailbox;

pub use self::email_url::{
    EmailUrl, EmailUrlError, Password, SmtpCredentials, SmtpUrl, TlsMode, redact_email_url,
};
pub use self::outbox::{ClaimedMail, Outbox, OutboxConnection, OutboxError, QueuedMail};
pub use self::templates::{MailContext, MailKind, RenderedMail, TemplateError, Templates};
pub use self::transport::{
    DEFAULT_EMAIL_FROM, MailTransport, OutgoingMail, SMTP_TIMEOUT, SendError, TransportError,
    default_from,
};
