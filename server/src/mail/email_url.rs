//! `EMAIL_URL`: where mail goes, parsed and checked before anything connects.
//!
//! Two forms:
//!
//! - `smtp://[user:pass@]host[:port][?tls=MODE]`: an SMTP server. `MODE` is
//!   `required` (STARTTLS or fail), `implicit` (TLS from the first byte, SMTPS), `none`
//!   (plain text only, for a trusted local relay); without `tls`, STARTTLS is used when
//!   the server offers it ([`TlsMode::Opportunistic`]). The port defaults to 465 for
//!   `implicit`, 587 for `required` and 25 otherwise. The user and the password are
//!   percent-decoded.
//! - `file:///dir`: one `.eml` file per message in the directory `/dir` (an absolute
//!   path, no host).
//!
//! As `DATABASE_URL` (see `crate::db::DatabaseUrl`), an [`EmailUrl`] shows itself
//! (`Display`, `Debug`) with `***` for the password, and no [`EmailUrlError`] message
//! ever quotes the URL: at most its scheme, and the names of parameters that are never
//! secrets.

use std::fmt;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;
use url::Url;

/// What the messages of [`EmailUrlError`] show instead of a part of the URL.
const EXPECTED: &str = "smtp://[user:pass@]host[:port][?tls=required|implicit|none] or file:///dir";

/// How the SMTP connection is encrypted (`?tls=` of the URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No `tls` parameter: STARTTLS when the server offers it, plain text otherwise.
    /// Defaults to this.
    Opportunistic,
    /// `tls=required`: STARTTLS, and no mail is sent when the server does not offer it.
    Required,
    /// `tls=implicit`: TLS from the first byte (SMTPS, usually port 465).
    Implicit,
    /// `tls=none`: plain text, never TLS. For a relay on the same host or network only.
    None,
}

impl TlsMode {
    /// The port used when the URL names none: 465 for [`TlsMode::Implicit`], 587 for
    /// [`TlsMode::Required`], 25 otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::Implicit => 465,
            TlsMode::Required => 587,
            TlsMode::Opportunistic | TlsMode::None => 25,
        }
    }

    /// The value of `?tls=` that selects this mode (`opportunistic` has none).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Opportunistic => "opportunistic",
            TlsMode::Required => "required",
            TlsMode::Implicit => "implicit",
            TlsMode::None => "none",
        }
    }
}

/// A password that never shows: its `Debug` is `***`, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password itself. Never show it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The user and password of an SMTP URL, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    /// The user name.
    pub user: String,
    /// The password (possibly empty).
    pub password: Password,
}

/// A checked `smtp://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// The host name or address (brackets removed from an IPv6 address).
    pub host: String,
    /// The port, or the mode's [`TlsMode::default_port`].
    pub port: u16,
    /// How the connection is encrypted.
    pub tls: TlsMode,
    /// The user and password, when the URL has a user.
    pub credentials: Option<SmtpCredentials>,
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("smtp://")?;
        if let Some(credentials) = &self.credentials {
            write!(f, "{}:***@", credentials.user)?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        if self.tls != TlsMode::Opportunistic {
            write!(f, "?tls={}", self.tls.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SmtpUrl").field(&self.to_string()).finish()
    }
}

/// A checked `EMAIL_URL`. `Display` and `Debug` show it with `***` for the password.
#[derive(Clone, PartialEq, Eq)]
pub enum EmailUrl {
    /// An SMTP server.
    Smtp(SmtpUrl),
    /// One `.eml` file per message in this directory.
    File(PathBuf),
}

/// Why an `EMAIL_URL` is refused. No message contains any part of the URL but its
/// scheme, or the name of a parameter that is never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailUrlError {
    /// The text does not start with a scheme.
    #[error("it has no scheme: expected {EXPECTED}")]
    NoScheme,
    /// A scheme other than `smtp` and `file` (the shown URL names it).
    #[error("the scheme `{0}` is not supported: expected {EXPECTED}")]
    UnsupportedScheme(String),
    /// The URL parser refused it (often a password with an unencoded character).
    #[error("it is not a valid URL (percent-encode `@`, `/`, `?`, `#` and `%` in the password)")]
    Malformed(#[source] url::ParseError),
    /// `@` after the host, or a `#`: an unencoded character of the password.
    #[error(
        "it has `@` after its host, or `#` (percent-encode `@`, `/`, `?`, `#` and `%` in the \
         password)"
    )]
    Unencoded,
    /// An `smtp://` URL without a host.
    #[error("an SMTP URL names a host: expected {EXPECTED}")]
    NoHost,
    /// An `smtp://` URL with a path.
    #[error("an SMTP URL has no path: expected {EXPECTED}")]
    SmtpPath,
    /// A percent-encoded user or password that is not UTF-8.
    #[error("its user or password is not UTF-8 once percent-decoded")]
    NotUtf8,
    /// A query parameter other than `tls` (its name is not shown: it could be the rest
    /// of a password with an unencoded `&`).
    #[error("it has a query parameter other than `tls`")]
    UnknownParameter,
    /// `tls=` with another value (the value is not shown).
    #[error("the value of `tls` is not one of required, implicit, none")]
    InvalidTlsMode,
    /// A `file:` URL with a host, a user, a query, or a relative or empty path.
    #[error("a file URL names a directory by its absolute path, file:///dir")]
    FilePath,
}

impl EmailUrl {
    /// Checks `text` (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, EmailUrlError> {
        let scheme = scheme(text).ok_or(EmailUrlError::NoScheme)?;
        match scheme.to_ascii_lowercase().as_str() {
            "smtp" => parse_smtp(text).map(EmailUrl::Smtp),
            "file" => parse_file(text).map(EmailUrl::File),
            _ => Err(EmailUrlError::UnsupportedScheme(scheme.to_owned())),
        }
    }
}

impl fmt::Display for EmailUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailUrl::Smtp(smtp) => smtp.fmt(f),
            EmailUrl::File(dir) => write!(f, "file://{}", dir.display()),
        }
    }
}

impl fmt::Debug for EmailUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EmailUrl").field(&self.to_string()).finish()
    }
}

/// `url` as it may be shown in messages and logs: without password if it passes
/// [`EmailUrl::parse`], else its scheme alone, or `[redacted]` without a scheme.
pub fn redact_email_url(url: &str) -> String {
    match EmailUrl::parse(url) {
        Ok(url) => url.to_string(),
        Err(_) => match scheme(url) {
            Some(scheme) if url[scheme.len() + 1..].starts_with("//") => {
                format!("{scheme}://[redacted]")
            }
            Some(scheme) => format!("{scheme}:[redacted]"),
            None => "[redacted]".to_owned(),
        },
    }
}

/// The scheme of `url` (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`), at
/// most 16 characters, else `None`.
fn scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && scheme.len() <= 16;
    valid.then_some(scheme)
}

fn parse_smtp(text: &str) -> Result<SmtpUrl, EmailUrlError> {
    let after = text["smtp:".len()..]
        .strip_prefix("//")
        .ok_or(EmailUrlError::NoHost)?;
    // The parser takes the user info up to the first `/`, `?` or `#`: an `@` after it
    // (or any `#`) means a password character was not encoded.
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    if text.contains('#') || after[authority_end..].contains('@') {
        return Err(EmailUrlError::Unencoded);
    }
    let url = Url::parse(text).map_err(EmailUrlError::Malformed)?;
    let host = match url.host() {
        Some(url::Host::Domain(domain)) if !domain.is_empty() => domain.to_owned(),
        Some(url::Host::Ipv4(address)) => address.to_string(),
        Some(url::Host::Ipv6(address)) => address.to_string(),
        _ => return Err(EmailUrlError::NoHost),
    };
    if !matches!(url.path(), "" | "/") {
        return Err(EmailUrlError::SmtpPath);
    }
    let mut tls = TlsMode::Opportunistic;
    for (key, value) in url.query_pairs() {
        if key != "tls" {
            return Err(EmailUrlError::UnknownParameter);
        }
        tls = match value.to_ascii_lowercase().as_str() {
            "required" => TlsMode::Required,
            "implicit" => TlsMode::Implicit,
            "none" => TlsMode::None,
            _ => return Err(EmailUrlError::InvalidTlsMode),
        };
    }
    let credentials = if url.username().is_empty() {
        None
    } else {
        let decode = |part: &str| {
            percent_decode_str(part)
                .decode_utf8()
                .map(|decoded| decoded.into_owned())
                .map_err(|_| EmailUrlError::NotUtf8)
        };
        Some(SmtpCredentials {
            user: decode(url.username())?,
            password: Password(decode(url.password().unwrap_or_default())?),
        })
    };
    Ok(SmtpUrl {
        host,
        port: url.port().unwrap_or(tls.default_port()),
        tls,
        credentials,
    })
}

fn parse_file(text: &str) -> Result<PathBuf, EmailUrlError> {
    let url = Url::parse(text).map_err(|_| EmailUrlError::FilePath)?;
    let has_host = url.host_str().is_some_and(|host| !host.is_empty());
    if has_host
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || !text["file:".len()..].starts_with("///")
    {
        return Err(EmailUrlError::FilePath);
    }
    let path = url.to_file_path().map_err(|()| EmailUrlError::FilePath)?;
    if path.parent().is_none() {
        // `file:///`: the root directory is surely a mistake.
        return Err(EmailUrlError::FilePath);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(text: &str) -> SmtpUrl {
        match EmailUrl::parse(text) {
            Ok(EmailUrl::Smtp(smtp)) => smtp,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn smtp_urls_and_their_tls_modes() {
        let url = smtp("smtp://mail.example:2525");
        assert_eq!(url.host, "mail.example");
        assert_eq!(url.port, 2525);
        assert_eq!(url.tls, TlsMode::Opportunistic);
        assert_eq!(url.credentials, None);

        assert_eq!(smtp("smtp://h?tls=required").tls, TlsMode::Required);
        assert_eq!(smtp("smtp://h?tls=Implicit").tls, TlsMode::Implicit);
        assert_eq!(smtp("smtp://h:25?tls=none").tls, TlsMode::None);
        assert_eq!(smtp("smtp://h/").port, 25);
        assert_eq!(smtp("smtp://h?tls=required").port, 587);
        assert_eq!(smtp("smtp://h?tls=implicit").port, 465);
        assert_eq!(smtp("smtp://127.0.0.1:1025?tls=none").host, "127.0.0.1");
        assert_eq!(smtp("smtp://[::1]:1025").host, "::1");
        assert_eq!(smtp("SMTP://h").host, "h");
    }

    #[test]
    fn credentials_are_decoded_and_never_shown() {
        let url = smtp("smtp://app%40example.com:p%40ss%2Fw%3Frd@mail.example:587?tls=required");
        let credentials = url.credentials.clone().expect("credentials");
        assert_eq!(credentials.user, "app@example.com");
        assert_eq!(credentials.password.expose(), "p@ss/w?rd");
        let shown = url.to_string();
        assert_eq!(
            shown,
            "smtp://app@example.com:***@mail.example:587?tls=required"
        );
        let debug = format!("{:?}", EmailUrl::Smtp(url));
        assert!(!debug.contains("p@ss"), "{debug}");
        assert!(!format!("{credentials:?}").contains("p@ss"));
        assert_eq!(
            redact_email_url("smtp://u:Hunter2Secret@h:25"),
            "smtp://u:***@h:25"
        );
        assert_eq!(
            smtp("smtp://user@h").credentials.map(|c| c.user),
            Some("user".into())
        );
    }

    #[test]
    fn file_urls() {
        assert_eq!(
            EmailUrl::parse("file:///var/mail/out").ok(),
            Some(EmailUrl::File(PathBuf::from("/var/mail/out")))
        );
        assert_eq!(
            EmailUrl::parse("file:///var/mail/out")
                .expect("a file URL")
                .to_string(),
            "file:///var/mail/out"
        );
        for text in [
            "file://host/dir",
            "file:relative",
            "file:///",
            "file:///dir?x=1",
            "file://u:p@h/dir",
        ] {
            assert!(
                matches!(EmailUrl::parse(text), Err(EmailUrlError::FilePath)),
                "{text}: {:?}",
                EmailUrl::parse(text)
            );
        }
    }

    /// However malformed the URL, nothing of the secret is shown, and the error says
    /// why without quoting the URL.
    #[test]
    fn errors_never_show_the_password() {
        for (text, shown) in [
            ("smtp://u:Hunter2/Secret@h:25", "smtp://[redacted]"),
            ("smtp://u:Hunter2?Secret@h:25", "smtp://[redacted]"),
            ("smtp://u:Hunter2#Secret@h:25", "smtp://[redacted]"),
            ("smtp://u:1234/Hunter2Secret@h:25", "smtp://[redacted]"),
            ("smtp://u:p@h:25?tls=Hunter2Secret", "smtp://[redacted]"),
            (
                "smtp://u:p@h:25?tls=none&Hunter2Secret",
                "smtp://[redacted]",
            ),
            ("smtp://u:Hunter2Secret@h:99999", "smtp://[redacted]"),
            ("smtp://u:Hunter2%FFSecret@h", "smtp://[redacted]"),
            ("smtp:u:Hunter2Secret@h", "smtp:[redacted]"),
            ("smtps://u:Hunter2Secret@h", "smtps://[redacted]"),
            ("u:Hunter2/Secret@h/x", "u:[redacted]"),
            ("Hunter2 Secret", "[redacted]"),
            ("file://u:Hunter2Secret@h/dir", "file://[redacted]"),
        ] {
            assert_eq!(redact_email_url(text), shown, "{text}");
            let err = EmailUrl::parse(text).expect_err(text);
            let mut texts = vec![err.to_string(), format!("{err:?}")];
            let mut source = std::error::Error::source(&err);
            while let Some(inner) = source {
                texts.push(inner.to_string());
                source = inner.source();
            }
            for message in texts {
                assert!(!message.contains("Secret"), "{text}: {message}");
                assert!(!message.contains('\n'), "one line: {message}");
            }
        }
    }

    #[test]
    fn errors_say_why() {
        let message = |text: &str| EmailUrl::parse(text).expect_err(text).to_string();
        assert!(message("smtp://h?tls=maybe").contains("`tls`"));
        assert!(message("smtp://h?port=1").contains("other than `tls`"));
        assert!(message("smtp:///x").contains("names a host"));
        assert!(message("smtp://h/path").contains("no path"));
        assert!(message("imap://h").contains("`imap`"));
        assert!(message("nothing").contains("no scheme"));
    }
}
