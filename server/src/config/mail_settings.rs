//! [`MailSettings`]: where the server's mail goes and what it looks like.

use std::path::PathBuf;

use jwt_allauth::settings::Value;
use jwt_allauth::settings::value::{self, Reason, expected, string};

use crate::mail::{EmailUrl, Mailbox, default_from};

jwt_allauth::settings_group! {
    /// The mail settings of the server.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct MailSettings {
        /// `EMAIL_URL`: `smtp://[user:pass@]host:port` (STARTTLS when offered;
        /// `?tls=required`, `?tls=implicit`, `?tls=none`) or `file:///dir` (one `.eml`
        /// per message). Defaults to none: files under `mail/` beside the SQLite
        /// database (in the working directory with PostgreSQL). Its password never
        /// shows in `Debug`, logs or errors.
        EMAIL_URL email_url: Option<EmailUrl> = None => email_url;
        /// `EMAIL_FROM`: the sender, `Name <address>` or a bare address. Defaults to
        /// `jwt-allauth <noreply@localhost>`.
        EMAIL_FROM email_from: Mailbox = default_from() => mailbox;
        /// `EMAIL_TEMPLATES_DIR`: a directory whose files override the built-in mail
        /// templates of the same name. Defaults to none.
        EMAIL_TEMPLATES_DIR email_templates_dir: Option<PathBuf> = None => value::optional_path;
        /// `NEW_DEVICE_EMAIL`: whether a login from a device the account has not used
        /// within 90 days gets a "New sign-in to your account" mail. Defaults to on when
        /// `EMAIL_URL` is set, off otherwise (the empty string means the default).
        NEW_DEVICE_EMAIL new_device_email: Option<bool> = None => optional_boolean;
    }
}

impl MailSettings {
    /// Whether new sign-ins are mailed: `NEW_DEVICE_EMAIL`, else whether `EMAIL_URL` is
    /// set.
    pub fn new_device_email_enabled(&self) -> bool {
        self.new_device_email.unwrap_or(self.email_url.is_some())
    }
}

/// A boolean, or the empty string for none.
fn optional_boolean(value: &Value) -> Result<Option<bool>, Reason> {
    match value.as_str() {
        Some(text) if text.trim().is_empty() => Ok(None),
        _ => value::boolean(value).map(Some),
    }
}

/// An `EMAIL_URL`; empty means none. The reason never quotes the URL, which may hold a
/// password.
fn email_url(value: &Value) -> Result<Option<EmailUrl>, Reason> {
    match value.as_str() {
        Some("") => Ok(None),
        Some(text) => EmailUrl::parse(text).map(Some).map_err(|e| e.to_string()),
        None => Err("expected a string".to_owned()),
    }
}

/// A mailbox: `Name <user@example.com>` or `user@example.com`.
fn mailbox(value: &Value) -> Result<Mailbox, Reason> {
    string(value)?.trim().parse().map_err(|_| {
        expected(
            "expected an address like jwt-allauth <noreply@example.com>",
            value,
        )
    })
}

#[cfg(test)]
mod tests {
    use jwt_allauth::settings::SettingsGroup;
    use serde_json::json;

    use super::*;

    #[test]
    fn every_setting_by_name() {
        let mut s = MailSettings::default();
        assert_eq!(s.email_url, None);
        assert_eq!(s.email_from.to_string(), "jwt-allauth <noreply@localhost>");
        s.set(
            "EMAIL_URL",
            &json!("smtp://user:Hunter2@mail.example.com:587?tls=required"),
        )
        .expect("smtp");
        assert!(matches!(s.email_url, Some(EmailUrl::Smtp(_))));
        s.set("EMAIL_URL", &json!("file:///tmp/mail"))
            .expect("file");
        assert_eq!(s.email_url, Some(EmailUrl::File("/tmp/mail".into())));
        s.set("EMAIL_FROM", &json!("Accounts <accounts@example.com>"))
            .expect("from");
        assert_eq!(s.email_from.to_string(), "Accounts <accounts@example.com>");
        s.set("EMAIL_TEMPLATES_DIR", &json!("/etc/jwt-allauth/mail"))
            .expect("dir");
        assert_eq!(s.email_templates_dir, Some("/etc/jwt-allauth/mail".into()));
    }

    #[test]
    fn new_device_email_follows_email_url_unless_set() {
        let mut s = MailSettings::default();
        assert!(!s.new_device_email_enabled());
        s.set("EMAIL_URL", &json!("smtp://127.0.0.1:2525"))
            .expect("smtp");
        assert!(s.new_device_email_enabled());
        s.set("NEW_DEVICE_EMAIL", &json!("off")).expect("off");
        assert!(!s.new_device_email_enabled());
        s.set("NEW_DEVICE_EMAIL", &json!("")).expect("default");
        assert!(s.new_device_email_enabled());
        s.set("EMAIL_URL", &json!("")).expect("none");
        s.set("NEW_DEVICE_EMAIL", &json!(true)).expect("on");
        assert!(s.new_device_email_enabled());
        let err = s
            .set("NEW_DEVICE_EMAIL", &json!("maybe"))
            .expect_err("not a boolean");
        assert!(
            err.to_string()
                .starts_with("invalid value for NEW_DEVICE_EMAIL: "),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_setting_and_never_the_password() {
        let mut s = MailSettings::default();
        let err = s
            .set("EMAIL_URL", &json!("smtps://user:Hunter2@mail.example.com"))
            .expect_err("unknown scheme");
        let text = err.to_string();
        assert!(text.starts_with("invalid value for EMAIL_URL: "), "{text}");
        assert!(!text.contains("Hunter2"), "{text}");
        let debug = format!("{:?}", {
            let mut ok = MailSettings::default();
            ok.set("EMAIL_URL", &json!("smtp://user:Hunter2@h:25"))
                .expect("smtp");
            ok
        });
        assert!(!debug.contains("Hunter2"), "{debug}");
        let err = s
            .set("EMAIL_FROM", &json!("not an address"))
            .expect_err("not a mailbox");
        assert!(
            err.to_string()
                .starts_with("invalid value for EMAIL_FROM: "),
            "{err}"
        );
    }
}
