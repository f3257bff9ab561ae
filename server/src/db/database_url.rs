//! Database URLs: the backend a URL names, the checks a URL passes before the database
//! driver sees it, and the form in which a URL is shown.
//!
//! A URL's credentials must never reach a message, a log line or a `Debug` output,
//! however malformed the URL. Two things make that hard: a password with an unencoded
//! `/`, `?`, `#` or `@` moves the rest of the password into the host, the path or the
//! query, where a naive redaction shows it; and sqlx's URL parsers echo what they reject
//! (an unknown PostgreSQL parameter is logged with its value at `warn`, a bad SQLite
//! parameter is an error naming it). So:
//!
//! - [`DatabaseUrl::parse`] refuses a URL with anything sqlx would echo or misread: a
//!   PostgreSQL URL that does not parse, has `@` after its host or a `#` (an unencoded
//!   character of the password), or a query parameter or a value sqlx does not know; a
//!   SQLite URL with a query parameter or value sqlx does not know. Its errors
//!   ([`UrlError`]) never contain any part of the URL.
//! - A URL is shown ([`DatabaseUrl`]'s `Display` and `Debug`, [`redact_url`]) with the
//!   password and the `password` parameter replaced by `***` when it passed the checks,
//!   and as its scheme alone (`postgres://[redacted]`) when it did not.

use std::fmt;

use url::Url;

/// The text that replaces what a shown URL leaves out.
const REDACTED: &str = "[redacted]";

/// The URLs the server accepts, as error messages list them.
const EXPECTED: &str = "sqlite://FILE, sqlite::memory: or postgres://USER@HOST/DB";

/// What every error about an unencoded character suggests.
const PERCENT_ENCODE: &str = "percent-encode `/` `?` `#` `@` `%` in the user name and \
                              password as %2F %3F %23 %40 %25";

/// The query parameters sqlx's PostgreSQL driver reads (`options[NAME]` too).
const POSTGRES_PARAMETERS: [&str; 18] = [
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// How the supported PostgreSQL parameters are listed in messages.
const POSTGRES_SUPPORTED: &str = "sslmode, sslrootcert, sslcert, sslkey, \
                                  statement-cache-capacity, host, hostaddr, port, dbname, \
                                  user, password, application_name, options";

/// libpq's connection parameters that sqlx does not read: named in the error, since
/// such a name is never a secret (sqlx would log the value and ignore it).
const LIBPQ_ONLY_PARAMETERS: [&str; 30] = [
    "passfile",
    "require_auth",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "requiressl",
    "sslnegotiation",
    "sslcompression",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
];

/// The values of `sslmode` sqlx accepts (ignoring case).
const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// How the supported SQLite parameters are listed in messages.
const SQLITE_SUPPORTED: &str = "mode, cache, immutable, vfs";

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:...`
    Sqlite,
    /// `postgres://...` or `postgresql://...`
    Postgres,
}

impl Backend {
    /// The backend of `url`, by its scheme.
    pub fn from_url(url: &str) -> Result<Self, UrlError> {
        let scheme = scheme(url).ok_or(UrlError::NoScheme)?;
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(UrlError::UnsupportedScheme(scheme.to_owned())),
        }
    }
}

/// Why a database URL is refused before connecting. No message contains any part of
/// the URL but its scheme, or the name of a parameter that is never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The text does not start with a scheme (`postgres:`).
    #[error("it has no scheme: expected {EXPECTED}")]
    NoScheme,
    /// A scheme other than `sqlite`, `postgres` and `postgresql` (the shown URL names it).
    #[error("expected {EXPECTED}")]
    UnsupportedScheme(String),
    /// A PostgreSQL URL without `//` after its scheme.
    #[error("a PostgreSQL URL starts with postgres:// or postgresql://")]
    NoAuthority,
    /// The URL parser refused it (often a password with an unencoded character).
    #[error("it is not a valid URL ({PERCENT_ENCODE})")]
    Malformed(#[source] url::ParseError),
    /// `@` after the host, or a `#`: an unencoded character of the password.
    #[error("it has `@` after its host, or `#` ({PERCENT_ENCODE})")]
    Unencoded,
    /// A libpq parameter that sqlx does not support.
    #[error(
        "the parameter `{0}` is not supported by the PostgreSQL driver (supported: \
         {POSTGRES_SUPPORTED})"
    )]
    UnsupportedParameter(&'static str),
    /// A query parameter the driver does not know (its name is not shown: it could be
    /// the rest of a password with an unencoded `&`).
    #[error("it has a query parameter the driver does not know (supported: {supported})")]
    UnknownParameter {
        /// The parameters the backend supports.
        supported: &'static str,
    },
    /// A parameter whose value the driver does not accept (the value is not shown).
    #[error("the value of `{parameter}` is not one of {expected}")]
    InvalidValue {
        /// The parameter.
        parameter: &'static str,
        /// The values accepted.
        expected: &'static str,
    },
    /// The PostgreSQL driver refused the options (a port, an address or a percent
    /// escape it cannot decode); its messages name no value.
    #[error("the PostgreSQL driver refused it")]
    Options(#[source] sqlx::Error),
}

/// A database URL that passed the checks of the module documentation. `Display` and
/// `Debug` show it without its password; [`DatabaseUrl::expose`] gives the URL itself.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    text: String,
    parsed: Option<Url>,
}

impl DatabaseUrl {
    /// Checks `text` (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let parsed = match Backend::from_url(text)? {
            Backend::Sqlite => {
                check_sqlite(text)?;
                None
            }
            Backend::Postgres => Some(check_postgres(text)?),
        };
        Ok(Self {
            text: text.to_owned(),
            parsed,
        })
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        if self.parsed.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// The parsed URL of a PostgreSQL database, `None` for SQLite.
    pub fn postgres(&self) -> Option<&Url> {
        self.parsed.as_ref()
    }

    /// The URL with its credentials. Never show it.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.parsed {
            Some(parsed) => f.write_str(shown_postgres(parsed).as_str()),
            None => f.write_str(&shown_sqlite(&self.text)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.to_string())
            .finish()
    }
}

/// `url` as it may be shown in messages and logs: without password if it passes
/// [`DatabaseUrl::parse`], else its scheme alone, or `[redacted]` without a scheme.
pub fn redact_url(url: &str) -> String {
    match DatabaseUrl::parse(url) {
        Ok(url) => url.to_string(),
        Err(_) => match scheme(url) {
            Some(scheme) if url[scheme.len() + 1..].starts_with("//") => {
                format!("{scheme}://{REDACTED}")
            }
            Some(scheme) => format!("{scheme}:{REDACTED}"),
            None => REDACTED.to_owned(),
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

/// Checks a PostgreSQL URL and returns it parsed.
fn check_postgres(text: &str) -> Result<Url, UrlError> {
    let scheme = scheme(text).unwrap_or_default();
    let Some(after) = text[scheme.len() + 1..].strip_prefix("//") else {
        return Err(UrlError::NoAuthority);
    };
    let url = Url::parse(text).map_err(UrlError::Malformed)?;
    // The parser takes the user info up to the first `/`, `?` or `#`: an `@` after it
    // (or any `#`) means a password character was not encoded.
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    if text.contains('#') || after[authority_end..].contains('@') {
        return Err(UrlError::Unencoded);
    }
    for (key, value) in url.query_pairs() {
        let known = POSTGRES_PARAMETERS.contains(&&*key)
            || (key.starts_with("options[") && key.ends_with(']'));
        if !known {
            return Err(
                match LIBPQ_ONLY_PARAMETERS.iter().find(|name| **name == key) {
                    Some(name) => UrlError::UnsupportedParameter(name),
                    None => UrlError::UnknownParameter {
                        supported: POSTGRES_SUPPORTED,
                    },
                },
            );
        }
        if matches!(&*key, "sslmode" | "ssl-mode")
            && !SSL_MODES.contains(&value.to_ascii_lowercase().as_str())
        {
            return Err(UrlError::InvalidValue {
                parameter: "sslmode",
                expected: "disable, allow, prefer, require, verify-ca, verify-full",
            });
        }
    }
    Ok(url)
}

/// Checks the query parameters of a SQLite URL (the driver names a bad one).
fn check_sqlite(text: &str) -> Result<(), UrlError> {
    let Some((_, query)) = text.split_once('?') else {
        return Ok(());
    };
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let expected = match &*key {
            "mode" => (
                ["ro", "rw", "rwc", "memory"].contains(&&*value),
                "ro, rw, rwc, memory",
            ),
            "cache" => (["private", "shared"].contains(&&*value), "private, shared"),
            "immutable" => (
                ["true", "false", "1", "0"].contains(&&*value),
                "true, false, 1, 0",
            ),
            "vfs" => (true, ""),
            _ => {
                return Err(UrlError::UnknownParameter {
                    supported: SQLITE_SUPPORTED,
                });
            }
        };
        if let (false, expected) = expected {
            let parameter = match &*key {
                "mode" => "mode",
                "cache" => "cache",
                _ => "immutable",
            };
            return Err(UrlError::InvalidValue {
                parameter,
                expected,
            });
        }
    }
    Ok(())
}

/// A checked PostgreSQL URL with `***` for the password and the `password` parameter.
fn shown_postgres(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        // Only fails for URLs without a host, which have no password.
        let _ = shown.set_password(Some("***"));
    }
    if url.query_pairs().any(|(key, _)| key == "password") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == "password" {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

/// A checked SQLite URL without its query; only the scheme if it has an `@` (a file
/// name rarely has one, a misplaced PostgreSQL URL always does).
fn shown_sqlite(text: &str) -> String {
    let rest = &text["sqlite:".len()..];
    if rest.contains('@') {
        return format!("sqlite:{REDACTED}");
    }
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    format!("sqlite:{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_by_scheme() {
        assert_eq!(
            Backend::from_url("sqlite://x.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("sqlite::memory:").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgres://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("PostgreSQL://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(matches!(
            Backend::from_url("mysql://h/db"),
            Err(UrlError::UnsupportedScheme(scheme)) if scheme == "mysql"
        ));
        assert!(matches!(
            Backend::from_url("jwt-allauth.sqlite3"),
            Err(UrlError::NoScheme)
        ));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example:5432/auth?sslmode=require&password=x"),
            "postgres://app:***@db.example:5432/auth?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:1/none"),
            "postgres://postgres@127.0.0.1:1/none"
        );
        assert_eq!(redact_url("postgres://u:p@h"), "postgres://u:***@h");
        assert_eq!(
            redact_url("postgres://u:p%40ss@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact_url("postgres:///db?host=/var/run/postgresql"),
            "postgres:///db?host=/var/run/postgresql"
        );
        assert_eq!(
            redact_url("sqlite://dir/jwt.sqlite3"),
            "sqlite://dir/jwt.sqlite3"
        );
        assert_eq!(
            redact_url("sqlite:///tmp/a.db?mode=rwc"),
            "sqlite:///tmp/a.db"
        );
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
    }

    /// However malformed the URL, nothing of the secret is shown, and the error says
    /// why without quoting the URL.
    #[test]
    fn malformed_urls_show_only_their_scheme() {
        for (url, shown) in [
            (
                "postgres://u:Hunter2/Secret@h:5432/x",
                "postgres://[redacted]",
            ),
            (
                "postgres://u:Hunter2?Secret@h:5432/x",
                "postgres://[redacted]",
            ),
            (
                "postgres://u:Hunter2#Secret@h:5432/x",
                "postgres://[redacted]",
            ),
            (
                "postgres://u:1234/Hunter2Secret@h:5432/x",
                "postgres://[redacted]",
            ),
            (
                "postgres://u:1234?Hunter2Secret@h:5432/x",
                "postgres://[redacted]",
            ),
            (
                "postgres://u@h/x?password=Hunter2&Secret",
                "postgres://[redacted]",
            ),
            (
                "postgres://u@h/x?sslpassword=Hunter2Secret",
                "postgres://[redacted]",
            ),
            (
                "postgres://u@h/x?sslmode=Hunter2Secret",
                "postgres://[redacted]",
            ),
            ("postgresql:u:Hunter2Secret@h/x", "postgresql:[redacted]"),
            ("mysql://u:Hunter2/Secret@h/x", "mysql://[redacted]"),
            ("u:Hunter2/Secret@h/x", "u:[redacted]"),
            ("Hunter2 Secret", "[redacted]"),
            ("sqlite://u:Hunter2?Secret@h/x", "sqlite://[redacted]"),
            ("sqlite://x.db?mode=Hunter2Secret", "sqlite://[redacted]"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            let err = DatabaseUrl::parse(url).expect_err(url);
            let mut texts = vec![err.to_string(), format!("{err:?}")];
            let mut source = std::error::Error::source(&err);
            while let Some(inner) = source {
                texts.push(inner.to_string());
                source = inner.source();
            }
            for text in texts {
                assert!(!text.contains("Secret"), "{url}: {text}");
            }
        }
        // A sqlite file name with `@` is accepted, but not shown.
        let url = DatabaseUrl::parse("sqlite://u:Hunter2/Secret@h/x").expect("a file name");
        assert_eq!(url.to_string(), "sqlite:[redacted]");
        assert_eq!(format!("{url:?}"), "DatabaseUrl(\"sqlite:[redacted]\")");
    }

    #[test]
    fn only_names_that_are_never_secrets_are_named() {
        let message = |url: &str| DatabaseUrl::parse(url).expect_err(url).to_string();
        assert!(message("postgres://h/db?sslpassword=x").contains("`sslpassword`"));
        assert!(message("postgres://h/db?connect_timeout=5").contains("`connect_timeout`"));
        let unknown = message("postgres://h/db?password=a&b");
        assert!(unknown.contains("does not know"), "{unknown}");
        assert!(message("postgres://h/db?sslmode=nope").contains("`sslmode`"));
        assert!(message("sqlite://x.db?nolock=1").contains("does not know"));
        assert!(message("sqlite://x.db?cache=x").contains("`cache`"));
        // What the driver reads is accepted.
        for url in [
            "postgres://u:p@h:5432/db?sslmode=Require&application_name=app&options[search_path]=s",
            "postgres://h/db?ssl-mode=disable&statement-cache-capacity=10&options=-c%20a%3Db",
            "sqlite://x.db?mode=rwc&cache=shared&immutable=0&vfs=unix",
            "sqlite::memory:",
        ] {
            assert!(DatabaseUrl::parse(url).is_ok(), "{url}");
        }
    }
}
