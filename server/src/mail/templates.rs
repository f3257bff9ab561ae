//! The mail templates: a text and an HTML template per [`MailKind`], built in or
//! overridden from `EMAIL_TEMPLATES_DIR`.
//!
//! The built-in templates are `server/templates/mail/NAME.txt` and `NAME.html`, embedded
//! in the binary. A file of the same name in the override directory replaces the
//! built-in one; the others stay built in. Templates use minijinja (Jinja2's syntax);
//! `.html` templates escape every value (`{{ email }}` cannot inject markup), `.txt`
//! templates do not. A value a template names but the context lacks is an error, and
//! [`Templates::load`] renders every template once with a sample context: a broken
//! override fails at start-up with the name of its file, not when the first mail goes.
//!
//! The context of every template is [`MailContext`]: `link` (none for the mails without
//! one), `email`, `first_name`, `site` (`PUBLIC_URL`), and for the new sign-in mail
//! `device`, `ip` and `time` (empty in the others). Subjects are fixed
//! ([`MailKind::subject`]).

use std::fmt;
use std::path::{Path, PathBuf};

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, context};

/// The mails the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// Confirm the address of a new account: `Welcome!`, with the verification link.
    Verification,
    /// Someone signed up with an address that has an account: `You already have an
    /// account`, with the link to the password reset page when one is configured.
    AccountExists,
    /// `Password reset`, with the reset link.
    PasswordReset,
    /// `Your password was changed`, no link.
    PasswordChanged,
    /// `New sign-in to your account`: a login from a new device, with its device, IP
    /// and time, and the "This wasn't me" link.
    NewSignIn,
}

impl MailKind {
    /// Every kind.
    pub const ALL: [MailKind; 5] = [
        MailKind::Verification,
        MailKind::AccountExists,
        MailKind::PasswordReset,
        MailKind::PasswordChanged,
        MailKind::NewSignIn,
    ];

    /// The templates' base name: `verification`, `account_exists`, `password_reset`,
    /// `password_changed`, `new_sign_in`.
    pub fn name(self) -> &'static str {
        match self {
            MailKind::Verification => "verification",
            MailKind::AccountExists => "account_exists",
            MailKind::PasswordReset => "password_reset",
            MailKind::PasswordChanged => "password_changed",
            MailKind::NewSignIn => "new_sign_in",
        }
    }

    /// The subject.
    pub fn subject(self) -> &'static str {
        match self {
            MailKind::Verification => "Welcome!",
            MailKind::AccountExists => "You already have an account",
            MailKind::PasswordReset => "Password reset",
            MailKind::PasswordChanged => "Your password was changed",
            MailKind::NewSignIn => "New sign-in to your account",
        }
    }

    /// The file name of the text template, `NAME.txt`.
    pub fn text_file(self) -> String {
        format!("{}.txt", self.name())
    }

    /// The file name of the HTML template, `NAME.html`.
    pub fn html_file(self) -> String {
        format!("{}.html", self.name())
    }

    fn built_in(self) -> (&'static str, &'static str) {
        match self {
            MailKind::Verification => (
                include_str!("../../templates/mail/verification.txt"),
                include_str!("../../templates/mail/verification.html"),
            ),
            MailKind::AccountExists => (
                include_str!("../../templates/mail/account_exists.txt"),
                include_str!("../../templates/mail/account_exists.html"),
            ),
            MailKind::PasswordReset => (
                include_str!("../../templates/mail/password_reset.txt"),
                include_str!("../../templates/mail/password_reset.html"),
            ),
            MailKind::PasswordChanged => (
                include_str!("../../templates/mail/password_changed.txt"),
                include_str!("../../templates/mail/password_changed.html"),
            ),
            MailKind::NewSignIn => (
                include_str!("../../templates/mail/new_sign_in.txt"),
                include_str!("../../templates/mail/new_sign_in.html"),
            ),
        }
    }
}

/// What a template may show. `Debug` never shows the link (it holds a token).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MailContext {
    /// The link of the mail, `None` for the mails without one.
    pub link: Option<String>,
    /// The recipient's address.
    pub email: String,
    /// The recipient's first name, possibly empty.
    pub first_name: String,
    /// The site, `PUBLIC_URL`.
    pub site: String,
    /// The new sign-in's device (`Firefox on Windows (Other)`); empty in other mails.
    pub device: String,
    /// The new sign-in's client IP; empty in other mails.
    pub ip: String,
    /// The new sign-in's time, UTC; empty in other mails.
    pub time: String,
}

impl fmt::Debug for MailContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailContext")
            .field("link", &self.link.as_ref().map(|_| "[redacted]"))
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("site", &self.site)
            .field("device", &self.device)
            .field("ip", &self.ip)
            .field("time", &self.time)
            .finish()
    }
}

/// A rendered mail. `Debug` shows the subject only.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

impl fmt::Debug for RenderedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedMail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why templates could not be loaded or rendered. The message names the file; it
/// never holds a value of the context (minijinja's debug information, which would, is
/// off).
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The override directory cannot be read.
    #[error("cannot read the mail templates directory {}", dir.display())]
    Directory {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An override file exists but cannot be read (or is not UTF-8).
    #[error("cannot read the mail template {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A template has a syntax error, or names a value the context lacks.
    #[error("the mail template {file} is invalid")]
    Invalid {
        /// The file: its path for an override, its name for a built-in template.
        file: String,
        /// minijinja's error (its line and what is wrong).
        #[source]
        source: minijinja::Error,
    },
}

/// The loaded templates. Cheap to share behind an `Arc`; rendering needs `&self` only.
pub struct Templates {
    env: Environment<'static>,
    /// The file each template came from, for error messages.
    origins: Vec<(String, String)>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates")
            .field("origins", &self.origins)
            .finish()
    }
}

impl Templates {
    /// The built-in templates, each replaced by the file of the same name in `dir` if
    /// there is one. Every template is rendered once with a sample context, so that a
    /// template that cannot render fails here, naming its file.
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        if let Some(dir) = dir {
            std::fs::read_dir(dir).map_err(|source| TemplateError::Directory {
                dir: dir.to_owned(),
                source,
            })?;
        }
        let mut env = Environment::new();
        // No values of the context in errors: they would hold links.
        env.set_debug(false);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_formatter(html_formatter);
        let mut origins = Vec::new();
        for kind in MailKind::ALL {
            let (text, html) = kind.built_in();
            for (name, built_in) in [(kind.text_file(), text), (kind.html_file(), html)] {
                let (source, origin) = match dir.map(|dir| dir.join(&name)) {
                    Some(path) if path.exists() => {
                        let source = std::fs::read_to_string(&path).map_err(|source| {
                            TemplateError::Read {
                                path: path.clone(),
                                source,
                            }
                        })?;
                        (source, path.display().to_string())
                    }
                    _ => (built_in.to_owned(), format!("{name} (built in)")),
                };
                env.add_template_owned(name.clone(), source)
                    .map_err(|source| TemplateError::Invalid {
                        file: origin.clone(),
                        source,
                    })?;
                origins.push((name, origin));
            }
        }
        let templates = Self { env, origins };
        let sample = MailContext {
            link: Some("https://example.com/link".to_owned()),
            email: "user@example.com".to_owned(),
            first_name: "Ada".to_owned(),
            site: "https://example.com".to_owned(),
            device: "Firefox on Windows (Other)".to_owned(),
            ip: "192.0.2.1".to_owned(),
            time: "2026-12-05 21:04:59 UTC".to_owned(),
        };
        for kind in MailKind::ALL {
            templates.render(kind, &sample)?;
            templates.render(
                kind,
                &MailContext {
                    link: None,
                    ..sample.clone()
                },
            )?;
        }
        Ok(templates)
    }

    /// The subject and both bodies of a `kind` mail for `context`.
    pub fn render(
        &self,
        kind: MailKind,
        context: &MailContext,
    ) -> Result<RenderedMail, TemplateError> {
        let values = context! {
            link => context.link,
            email => context.email,
            first_name => context.first_name,
            site => context.site,
            device => context.device,
            ip => context.ip,
            time => context.time,
        };
        let render = |name: String| {
            self.env
                .get_template(&name)
                .and_then(|template| template.render(&values))
                .map_err(|source| TemplateError::Invalid {
                    file: self.origin(&name),
                    source,
                })
        };
        Ok(RenderedMail {
            subject: kind.subject().to_owned(),
            text: render(kind.text_file())?,
            html: render(kind.html_file())?,
        })
    }

    fn origin(&self, name: &str) -> String {
        self.origins
            .iter()
            .find(|(template, _)| template == name)
            .map_or_else(|| name.to_owned(), |(_, origin)| origin.clone())
    }
}

/// minijinja's formatter, but HTML escaping leaves `/` as it is: minijinja writes it
/// `&#x2f;`, which would spell every link of a mail's HTML source
/// `https:&#x2f;&#x2f;...`. `/` needs no escaping in text or in a quoted attribute, and
/// the templates quote theirs; `&`, `<`, `>`, `"` and `'` are escaped as Jinja2 does.
fn html_formatter(
    out: &mut Output<'_>,
    state: &State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if state.auto_escape() != AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = value.to_string();
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    out.write_str(&escaped).map_err(minijinja::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(link: Option<&str>) -> MailContext {
        MailContext {
            link: link.map(str::to_owned),
            email: "ada@example.com".to_owned(),
            first_name: "Ada".to_owned(),
            site: "https://auth.example".to_owned(),
            ..MailContext::default()
        }
    }

    #[test]
    fn the_new_sign_in_mail_shows_device_ip_time_and_link() {
        let templates = Templates::load(None).expect("built-in templates");
        let link = "https://auth.example/sessions/not-me/NDI.s.t/";
        let values = MailContext {
            device: "Firefox on Windows (Other)".to_owned(),
            ip: "192.0.2.1".to_owned(),
            time: "2026-12-05 21:04:59 UTC".to_owned(),
            ..context(Some(link))
        };
        let mail = templates
            .render(MailKind::NewSignIn, &values)
            .expect("render");
        assert_eq!(mail.subject, "New sign-in to your account");
        for part in [&mail.text, &mail.html] {
            for shown in [
                link,
                "Firefox on Windows (Other)",
                "192.0.2.1",
                "21:04:59 UTC",
            ] {
                assert!(part.contains(shown), "{shown}: {part}");
            }
            assert!(part.contains("This wasn't me") || part.contains("This wasn&#39;t me"));
        }
        assert!(
            mail.html.contains(&format!("href=\"{link}\"")),
            "{}",
            mail.html
        );
    }

    #[test]
    fn built_in_templates_render_the_link() {
        let templates = Templates::load(None).expect("built-in templates");
        let link = "https://auth.example/verify/?key=abc.def";
        for kind in [MailKind::Verification, MailKind::PasswordReset] {
            let mail = templates
                .render(kind, &context(Some(link)))
                .expect("render");
            assert_eq!(mail.subject, kind.subject());
            assert!(mail.text.contains(link), "{kind:?}: {}", mail.text);
            assert!(
                mail.html.contains(&format!("href=\"{link}\"")),
                "{}",
                mail.html
            );
            assert!(mail.text.contains("Ada"));
            assert!(!format!("{mail:?}").contains(link));
        }
        assert_eq!(MailKind::Verification.subject(), "Welcome!");
        let changed = templates
            .render(MailKind::PasswordChanged, &context(None))
            .expect("render");
        assert_eq!(changed.subject, "Your password was changed");
        assert!(!format!("{:?}", context(Some(link))).contains(link));
    }

    #[test]
    fn account_exists_links_the_reset_page_only_when_given() {
        let templates = Templates::load(None).expect("built-in templates");
        let with = templates
            .render(
                MailKind::AccountExists,
                &context(Some("https://front.example/reset")),
            )
            .expect("render");
        assert_eq!(with.subject, "You already have an account");
        assert!(with.text.contains("https://front.example/reset"));
        assert!(with.html.contains("https://front.example/reset"));
        let without = templates
            .render(MailKind::AccountExists, &context(None))
            .expect("render");
        assert!(!without.text.contains("reset"), "{}", without.text);
        assert!(!without.html.contains("href"), "{}", without.html);
    }

    #[test]
    fn html_escapes_values_and_text_does_not() {
        let templates = Templates::load(None).expect("built-in templates");
        let mut values = context(Some("https://x/?a=1&b=2"));
        values.first_name = "<script>alert(1)</script>".to_owned();
        let mail = templates
            .render(MailKind::Verification, &values)
            .expect("render");
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail.html.contains("&lt;script&gt;"), "{}", mail.html);
        assert!(
            mail.html.contains("https://x/?a=1&amp;b=2"),
            "{}",
            mail.html
        );
        assert!(mail.text.contains("<script>"));
    }

    #[test]
    fn a_file_in_the_override_directory_wins() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("verification.txt"),
            "Custom {{ first_name }}: {{ link }}",
        )
        .expect("write");
        let templates = Templates::load(Some(dir.path())).expect("templates");
        let mail = templates
            .render(MailKind::Verification, &context(Some("https://l/")))
            .expect("render");
        assert_eq!(mail.text, "Custom Ada: https://l/");
        // The HTML part and the other mails stay built in.
        assert!(mail.html.contains("<!DOCTYPE html>"));
        let reset = templates
            .render(MailKind::PasswordReset, &context(Some("https://l/")))
            .expect("render");
        assert!(reset.text.contains("password reset"));
    }

    #[test]
    fn a_broken_override_fails_at_load_naming_its_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("password_reset.html");
        std::fs::write(&path, "{% if link %}unclosed").expect("write");
        let err = Templates::load(Some(dir.path())).expect_err("a syntax error");
        assert!(matches!(err, TemplateError::Invalid { .. }));
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );

        std::fs::write(&path, "{{ no_such_value }}").expect("write");
        let err = Templates::load(Some(dir.path())).expect_err("an undefined value");
        assert!(err.to_string().contains("password_reset.html"), "{err}");

        let missing = dir.path().join("missing");
        let err = Templates::load(Some(&missing)).expect_err("no directory");
        assert!(matches!(err, TemplateError::Directory { .. }));
    }
}
