//! Sending one message: [`MailTransport`], over SMTP or into a directory of `.eml`
//! files, as [`EmailUrl`] says.
//!
//! A message is an [`OutgoingMail`], sent as `multipart/alternative` (the text part,
//! then the HTML part) from the configured sender. A failure is a [`SendError`] that
//! tells a permanent refusal (an SMTP 5xx answer, an address that cannot be written)
//! from a transient one worth retrying (the server is down, 4xx, a timeout).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::email_url::{EmailUrl, SmtpUrl, TlsMode};

/// The sender used when `EMAIL_FROM` is not set.
pub const DEFAULT_EMAIL_FROM: &str = "jwt-allauth <noreply@localhost>";

/// How long one SMTP command may wait for the server: 30 s.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// [`DEFAULT_EMAIL_FROM`] as a mailbox.
pub fn default_from() -> Mailbox {
    // A constant address, checked by a test to parse as written.
    Mailbox::new(
        Some("jwt-allauth".to_owned()),
        lettre::Address::new_dangerous("noreply", "localhost"),
    )
}

/// A message to send. `Debug` shows the recipient and the subject, never the bodies
/// (they hold links with tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The recipient.
    pub to: Mailbox,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
    /// The `Message-ID` header, `<left@right>`; `None`: a fresh one per sending.
    pub message_id: Option<String>,
}

impl OutgoingMail {
    /// A message to `to` with a fresh `Message-ID` at each sending.
    pub fn new(
        to: Mailbox,
        subject: impl Into<String>,
        text: impl Into<String>,
        html: impl Into<String>,
    ) -> Self {
        Self {
            to,
            subject: subject.into(),
            text: text.into(),
            html: html.into(),
            message_id: None,
        }
    }
}

impl fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("to", &self.to.email.to_string())
            .field("subject", &self.subject)
            .field("text", &format_args!("[{} bytes]", self.text.len()))
            .field("html", &format_args!("[{} bytes]", self.html.len()))
            .field("message_id", &self.message_id)
            .finish()
    }
}

/// Why a transport could not be built from its URL.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The TLS parameters for the host could not be built (a host name rustls refuses).
    #[error("cannot set up TLS for the SMTP host {host}")]
    Tls {
        /// The host.
        host: String,
        /// lettre's error.
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message could not be built (for example a header value lettre refuses):
    /// permanent.
    #[error("the message cannot be built")]
    Build(#[source] lettre::error::Error),
    /// The SMTP exchange failed: permanent for a 5xx answer, transient otherwise.
    #[error("SMTP delivery failed")]
    Smtp(#[source] lettre::transport::smtp::Error),
    /// The `.eml` file could not be written: transient (the directory may appear or
    /// become writable).
    #[error("cannot write the message file")]
    File(#[source] lettre::transport::file::Error),
    /// The directory of the `.eml` files cannot be created: transient.
    #[error("cannot create the directory of the message files")]
    Directory(#[source] std::io::Error),
    /// No answer within the time given to one sending: transient.
    #[error("sending timed out")]
    Timeout,
}

impl SendError {
    /// Whether retrying cannot help: an SMTP 5xx answer, or a message that cannot be
    /// built.
    pub fn is_permanent(&self) -> bool {
        match self {
            SendError::Build(_) => true,
            SendError::Smtp(err) => err.is_permanent(),
            SendError::File(_) | SendError::Directory(_) | SendError::Timeout => false,
        }
    }

    /// The error and its sources on one line, as stored in the outbox and logged. It
    /// holds no body, link or password: lettre's messages name the server's answer code
    /// and text, or the I/O error.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(inner) = source {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            source = inner.source();
        }
        text.replace(['\r', '\n'], " ")
    }
}

enum Inner {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

/// Sends messages over SMTP or into a directory, from one sender. Cheap to clone
/// (no connection is kept between messages).
#[derive(Clone)]
pub struct MailTransport {
    inner: std::sync::Arc<Inner>,
    from: Mailbox,
    destination: String,
}

impl fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailTransport")
            .field("destination", &self.destination)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl MailTransport {
    /// The transport `url` describes, sending from `from`. Nothing connects yet; the
    /// directory of a `file:` URL is created at the first message if missing.
    pub fn from_url(url: &EmailUrl, from: Mailbox) -> Result<Self, TransportError> {
        let (inner, destination) = match url {
            EmailUrl::Smtp(smtp) => (Inner::Smtp(smtp_transport(smtp)?), smtp.to_string()),
            EmailUrl::File(dir) => (
                Inner::File(AsyncFileTransport::new(dir), dir.clone()),
                format!("files in {}", dir.display()),
            ),
        };
        Ok(Self {
            inner: std::sync::Arc::new(inner),
            from,
            destination,
        })
    }

    /// Where mail goes, as it may be logged: the SMTP URL without its password, or the
    /// directory.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The sender.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// A `Message-ID` for the unique `key` (letters, digits, `.`, `-`), in the sender's
    /// domain: `<key@domain>`.
    pub fn message_id(&self, key: &str) -> String {
        format!("<{key}@{}>", self.from.email.domain())
    }

    /// Builds the `multipart/alternative` message.
    pub fn build(&self, mail: &OutgoingMail) -> Result<Message, SendError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(mail.to.clone())
            .subject(mail.subject.clone());
        if let Some(id) = &mail.message_id {
            builder = builder.header(header::MessageId::from(id.clone()));
        } else {
            builder = builder.message_id(None);
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(SendError::Build)
    }

    /// Sends `mail`, waiting at most `2 ×` [`SMTP_TIMEOUT`] in all.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError> {
        let message = self.build(mail)?;
        let sending = async {
            match &*self.inner {
                Inner::Smtp(transport) => transport
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(SendError::Smtp),
                Inner::File(transport, dir) => {
                    // lettre does not create the directory.
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(SendError::Directory)?;
                    transport
                        .send(message)
                        .await
                        .map(drop)
                        .map_err(SendError::File)
                }
            }
        };
        tokio::time::timeout(2 * SMTP_TIMEOUT, sending)
            .await
            .map_err(|_| SendError::Timeout)?
    }
}

/// The lettre TLS setting for `mode` on `host`.
pub(crate) fn tls_for(mode: TlsMode, host: &str) -> Result<Tls, lettre::transport::smtp::Error> {
    Ok(match mode {
        TlsMode::None => Tls::None,
        TlsMode::Opportunistic => Tls::Opportunistic(TlsParameters::new(host.to_owned())?),
        TlsMode::Required => Tls::Required(TlsParameters::new(host.to_owned())?),
        TlsMode::Implicit => Tls::Wrapper(TlsParameters::new(host.to_owned())?),
    })
}

fn smtp_transport(url: &SmtpUrl) -> Result<AsyncSmtpTransport<Tokio1Executor>, TransportError> {
    let tls = tls_for(url.tls, &url.host).map_err(|source| TransportError::Tls {
        host: url.host.clone(),
        source,
    })?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
        .port(url.port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if let Some(credentials) = &url.credentials {
        builder = builder.credentials(Credentials::new(
            credentials.user.clone(),
            credentials.password.expose().to_owned(),
        ));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(text: &str) -> Mailbox {
        text.parse().expect("a mailbox")
    }

    #[test]
    fn tls_modes_map_to_lettre() {
        assert!(matches!(tls_for(TlsMode::None, "h"), Ok(Tls::None)));
        assert!(matches!(
            tls_for(TlsMode::Opportunistic, "mail.example"),
            Ok(Tls::Opportunistic(p)) if p.domain() == "mail.example"
        ));
        assert!(matches!(
            tls_for(TlsMode::Required, "mail.example"),
            Ok(Tls::Required(_))
        ));
        assert!(matches!(
            tls_for(TlsMode::Implicit, "mail.example"),
            Ok(Tls::Wrapper(_))
        ));
    }

    #[test]
    fn the_default_sender() {
        assert_eq!(default_from(), mailbox(DEFAULT_EMAIL_FROM));
        assert_eq!(default_from().to_string(), DEFAULT_EMAIL_FROM);
    }

    #[test]
    fn messages_are_multipart_alternative_text_then_html() {
        let url = EmailUrl::parse("smtp://u:Hunter2Secret@h:25").expect("url");
        let transport = MailTransport::from_url(&url, default_from()).expect("transport");
        assert_eq!(transport.destination(), "smtp://u:***@h:25");
        assert!(!format!("{transport:?}").contains("Hunter2"));
        let mut mail = OutgoingMail::new(
            mailbox("Ada <ada@example.com>"),
            "Welcome!",
            "text https://x/secret-token",
            "<p>html</p>",
        );
        assert!(!format!("{mail:?}").contains("secret-token"));
        mail.message_id = Some(transport.message_id("abc123"));
        let message =
            String::from_utf8(transport.build(&mail).expect("built").formatted()).expect("UTF-8");
        assert!(
            message.contains("Message-ID: <abc123@localhost>"),
            "{message}"
        );
        assert!(message.contains("From: jwt-allauth <noreply@localhost>"));
        assert!(message.contains("To: Ada <ada@example.com>"));
        assert!(message.contains("Subject: Welcome!"));
        assert!(message.contains("Content-Type: multipart/alternative"));
        let text = message.find("Content-Type: text/plain").expect("text part");
        let html = message.find("Content-Type: text/html").expect("html part");
        assert!(text < html, "text first");
    }

    #[tokio::test]
    async fn the_file_transport_writes_one_eml() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("out");
        let url = EmailUrl::File(out.clone());
        let transport = MailTransport::from_url(&url, default_from()).expect("transport");
        let mail = OutgoingMail::new(mailbox("ada@example.com"), "Hi", "text", "<p>h</p>");
        transport.send(&mail).await.expect("written");
        let files: Vec<_> = std::fs::read_dir(&out)
            .expect("the directory was created")
            .map(|entry| entry.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    }
}
