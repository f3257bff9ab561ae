//! Mail: the building blocks the account routes send their mails with.
//!
//! Mail never goes out on the request path (accounts.md, "Mail delivery"). The pieces
//! fit together like this:
//!
//! 1. At start-up, the settings give typed values: [`EmailUrl::parse`] checks
//!    `EMAIL_URL`, `EMAIL_FROM` parses as a [`Mailbox`] (default [`default_from`]),
//!    [`Templates::load`] takes `EMAIL_TEMPLATES_DIR` (a broken template is a start-up
//!    error naming its file). [`MailTransport::from_url`] builds the transport, and
//!    [`MailWorker::spawn`] starts the delivery worker on an [`Outbox`] over the
//!    migrated database; it logs where mail goes (never a link, token or body).
//! 2. A request renders its mail with [`Templates::render`] ([`MailKind`] and a
//!    [`MailContext`] whose `site` is `PUBLIC_URL`), builds an [`OutgoingMail`], and
//!    writes it with [`Outbox::enqueue`] on the transaction that writes its purpose
//!    token; after the commit it calls [`Outbox::wake`]. Neither an SMTP failure nor a
//!    slow server can change the HTTP answer.
//! 3. The worker claims due mails (a lease on the row, safe with several server
//!    processes on one PostgreSQL database), sends them as `multipart/alternative`, and
//!    deletes each as soon as the server accepted it; transient failures are retried
//!    with backoff ([`RetryPolicy`]), permanent ones (5xx) given up at once. A crash or
//!    restart loses nothing: the rows stay until sent.
//!
//! ```no_run
//! # async fn example(db: jwt_allauth_server::db::Database) -> Result<(), Box<dyn std::error::Error>> {
//! use jwt_allauth_server::mail::*;
//!
//! let url = EmailUrl::parse("smtp://127.0.0.1:1025?tls=none")?;
//! let transport = MailTransport::from_url(&url, default_from())?;
//! let templates = Templates::load(None)?;
//! let outbox = Outbox::new(db);
//! let worker = MailWorker::spawn(outbox.clone(), transport, WorkerConfig::default());
//!
//! let context = MailContext {
//!     link: Some("https://auth.example/verify/?key=...".into()),
//!     email: "ada@example.com".into(),
//!     first_name: "Ada".into(),
//!     site: "https://auth.example".into(),
//!     ..MailContext::default()
//! };
//! let rendered = templates.render(MailKind::Verification, &context)?;
//! let mail = OutgoingMail::new("ada@example.com".parse()?, rendered.subject, rendered.text, rendered.html);
//! outbox.push(&mail, time::OffsetDateTime::now_utc()).await?; // or Outbox::enqueue on a transaction
//! worker.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod account_mailer;
mod delivery_counter;
mod email_url;
mod outbox;
mod outbox_sql;
mod templates;
mod transport;
mod worker;

pub use lettre::message::Mailbox;

pub use self::account_mailer::{AccountMailError, AccountMailer};
pub use self::delivery_counter::{MailState, count_mail};
pub use self::email_url::{
    EmailUrl, EmailUrlError, Password, SmtpCredentials, SmtpUrl, TlsMode, redact_email_url,
};
pub use self::outbox::{ClaimedMail, Outbox, OutboxConnection, OutboxError, QueuedMail};
pub use self::templates::{MailContext, MailKind, RenderedMail, TemplateError, Templates};
pub use self::transport::{
    DEFAULT_EMAIL_FROM, MailTransport, OutgoingMail, SMTP_TIMEOUT, SendError, TransportError,
    default_from,
};
pub use self::worker::{DeliveryReport, MailWorker, RetryPolicy, WorkerConfig, deliver_due};
