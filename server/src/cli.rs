//! The command line of `jwt-allauth` (clap).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// JWT authentication server with device-level sessions.
///
/// Settings come from the TOML file given with --config, then JWT_ALLAUTH_* environment
/// variables (plain DATABASE_URL too), then the flags. Every command applies pending
/// database migrations first.
#[derive(Debug, Parser)]
#[command(name = "jwt-allauth", version, about, long_about)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after the command's name. Its `Debug`
/// output shows the database URL without its password.
#[derive(Clone, Args)]
pub struct GlobalArgs {
    /// Database: sqlite://FILE, sqlite::memory: or postgres://USER@HOST/DB [default:
    /// sqlite://jwt-allauth.sqlite3]
    #[arg(long, value_name = "URL", global = true)]
    pub database_url: Option<String>,
    /// TOML configuration file.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

impl std::fmt::Debug for GlobalArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalArgs")
            .field(
                "database_url",
                &self.database_url.as_deref().map(crate::db::redact_url),
            )
            .field("config", &self.config)
            .finish()
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, then serve HTTP until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Apply migrations and exit.
    Migrate,
    /// Add or change users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect and end sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Delete expired sessions and purpose tokens and print the counts.
    Purge(PurgeArgs),
    /// Read the event log (the audit log of sessions and accounts).
    #[command(subcommand)]
    Events(EventsCommand),
    /// Manage the signing keys stored in the database (standby -> active -> previous ->
    /// retired).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Bring users and live sessions over from another system.
    #[command(subcommand)]
    Import(ImportCommand),
}

impl Command {
    /// The log level used when `RUST_LOG` is not set: `info` for `serve`, `warn` for
    /// the one-shot commands (whose output is on stdout), except sqlx's warnings (a
    /// statement slowed by a locked database), so that a failure is one `error:` line.
    pub fn default_log_filter(&self) -> &'static str {
        match self {
            Command::Serve(_) => "info",
            _ => "warn,sqlx=error",
        }
    }
}

/// `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8000, or the BIND setting]
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
}

/// `user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Create(CreateUserArgs),
    /// Set a user's role (the `role` claim from the next login or refresh on).
    SetRole(SetRoleArgs),
    /// Deactivate a user and end all of their sessions and pending purpose tokens.
    Deactivate(EmailArgs),
    /// Activate a user.
    Activate(EmailArgs),
    /// Mark a user's e-mail address verified (as the mailed link would).
    Verify(EmailArgs),
    /// Replace a user's profile (a JSON object).
    SetProfile(SetProfileArgs),
    /// Delete a user, and all of their sessions and pending purpose tokens.
    Delete(EmailArgs),
}

/// `--email E`.
#[derive(Debug, Clone, Args)]
pub struct EmailArgs {
    /// The user's e-mail address (compared regardless of case).
    #[arg(long, value_name = "E")]
    pub email: String,
}

/// `user create`.
#[derive(Clone, Args)]
pub struct CreateUserArgs {
    /// E-mail address, unique regardless of case.
    #[arg(long, value_name = "E")]
    pub email: String,
    /// Password (stored as an argon2id hash).
    #[arg(long, value_name = "P")]
    pub password: String,
    /// Given name.
    #[arg(long, value_name = "NAME", default_value = "")]
    pub first_name: String,
    /// Family name.
    #[arg(long, value_name = "NAME", default_value = "")]
    pub last_name: String,
    /// Explicit role; without it the role is 1000 for staff, 900 for a superuser, else 0.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub role: Option<i64>,
    /// Staff member (role 1000 unless --role is given).
    #[arg(long)]
    pub staff: bool,
    /// Superuser (role 900 unless --staff or --role is given).
    #[arg(long)]
    pub superuser: bool,
    /// Create the account inactive (it cannot log in).
    #[arg(long)]
    pub inactive: bool,
    /// The e-mail address is not confirmed yet (`email_verified` false).
    #[arg(long)]
    pub unverified: bool,
    /// Profile, a JSON object [default: {}]
    #[arg(long, value_name = "JSON")]
    pub profile: Option<String>,
}

impl std::fmt::Debug for CreateUserArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUserArgs")
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("role", &self.role)
            .field("staff", &self.staff)
            .field("superuser", &self.superuser)
            .field("inactive", &self.inactive)
            .field("unverified", &self.unverified)
            .field("profile", &self.profile)
            .finish()
    }
}

/// `user set-role`.
#[derive(Debug, Clone, Args)]
pub struct SetRoleArgs {
    /// The user's e-mail address.
    #[arg(long, value_name = "E")]
    pub email: String,
    /// The new role.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub role: i64,
}

/// `user set-profile`.
#[derive(Debug, Clone, Args)]
pub struct SetProfileArgs {
    /// The user's e-mail address.
    #[arg(long, value_name = "E")]
    pub email: String,
    /// The new profile, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub profile: String,
}

/// `sessions ...`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List a user's sessions, newest first: one tab-separated line per session
    /// (session, created, last used, expires, ip, browser, os, device), or one JSON
    /// object per line with --json.
    List(ListSessionsArgs),
    /// End one session, whoever owns it.
    Revoke(RevokeSessionArgs),
    /// End all sessions of a user.
    RevokeAll(EmailArgs),
}

/// `sessions list`.
#[derive(Debug, Clone, Args)]
pub struct ListSessionsArgs {
    /// The user's e-mail address.
    #[arg(long, value_name = "E")]
    pub email: String,
    /// One JSON object per line (the fields of `GET /sessions/`).
    #[arg(long)]
    pub json: bool,
}

/// `sessions revoke`.
#[derive(Debug, Clone, Args)]
pub struct RevokeSessionArgs {
    /// The session id (32 hex digits).
    #[arg(long, value_name = "ID")]
    pub session: String,
}

/// `events`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print events in sequence order, one JSON object per line: `id`, `seq`, `type`,
    /// `time`, `user_id`, `session`, `reason`, `device`.
    List(ListEventsArgs),
}

/// `events list`.
#[derive(Debug, Clone, Args)]
pub struct ListEventsArgs {
    /// Only the events of this user.
    #[arg(long, value_name = "E")]
    pub email: Option<String>,
    /// Only events at or after this time: RFC 3339 (`2026-12-05T10:00:00Z`), or a
    /// duration before now (`1h`, `30m`, `2d`).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Keep printing new events as they are written, until interrupted.
    #[arg(long)]
    pub follow: bool,
}

/// `purge`.
#[derive(Debug, Clone, Args)]
pub struct PurgeArgs {
    /// Only count what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
}

/// `import ...`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import users and live sessions from a django-jwt-allauth 1.5 database.
    ///
    /// Reads (read-only) the user table, allauth's account_emailaddress, the session
    /// whitelist jwt_allauth_refreshtokenwhitelistmodel and pending password reset links
    /// (jwt_allauth_generictokenmodel), and writes into this server's database
    /// (--database-url): users with their ids, addresses, names, flags, roles and Django
    /// password hashes (re-hashed to argon2id at each user's first login), verified flags,
    /// and sessions with their current jti and device data, so that nobody is logged out.
    ///
    /// Each user is written with its sessions in one transaction; a row that cannot be
    /// imported is skipped and reported, never half-written. A user imported before is
    /// left as it is: a second run changes nothing.
    ///
    /// Before: set REFRESH_TOKEN_LIFETIME to Django's JWT_ALLAUTH_REFRESH_TOKEN_LIFETIME
    /// (a session expires that long after its last rotation in Django). After: serve
    /// with SECRET_KEY set to Django's signing secret (JWT_ALLAUTH_SECRET_KEY, or
    /// SECRET_KEY when that is unset), so that the tokens in browsers keep working.
    ///
    /// The summary goes to stdout; a progress bar to stderr when it is a terminal. See
    /// README.md, "Migrating from django-jwt-allauth".
    #[command(verbatim_doc_comment)]
    Django(DjangoImportArgs),
}

/// `import django`.
#[derive(Clone, Args)]
pub struct DjangoImportArgs {
    /// The Django database: sqlite://FILE or postgres://USER@HOST/DB (opened read-only).
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// Check everything and print the summary without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// The Django user table (AUTH_USER_MODEL's table).
    #[arg(long, value_name = "TABLE", default_value = crate::import::django::DEFAULT_USER_TABLE)]
    pub user_table: String,
    /// Users read and written per batch.
    #[arg(long, value_name = "N", default_value_t = crate::import::django::DEFAULT_BATCH_SIZE,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
}

impl std::fmt::Debug for DjangoImportArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DjangoImportArgs")
            .field("from", &crate::db::redact_url(&self.from))
            .field("dry_run", &self.dry_run)
            .field("user_table", &self.user_table)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

/// `keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the keys, oldest first: one tab-separated line per key (kid, algorithm,
    /// state, created, next transition).
    List,
    /// Generate a standby key: published by running servers within KEY_RELOAD_INTERVAL,
    /// not signing yet. Needs KEY_ENCRYPTION_KEY. Prints its kid as the last line.
    Generate(GenerateKeyArgs),
    /// Make a standby key the signing key; the active key becomes previous (it keeps
    /// verifying the tokens it signed). Warns when the key has been published for less
    /// than the JWKS max-age.
    Activate(KidArgs),
    /// Retire a key: no longer published nor verifying, its private key erased. Refused
    /// while it may verify a live token (active, or previous for less than the token
    /// lifetime) unless --force.
    Retire(RetireKeyArgs),
}

/// `keys generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateKeyArgs {
    /// The algorithm: EdDSA (Ed25519), ES256 (P-256) or RS256 (RSA 2048).
    #[arg(long, value_name = "ALG", value_parser = parse_public_key_algorithm)]
    pub algorithm: jwt_allauth::Algorithm,
}

/// A key's `kid`.
#[derive(Debug, Clone, Args)]
pub struct KidArgs {
    /// The key's kid (see `keys list`). A kid is a base64url thumbprint and may begin
    /// with `-`: it is taken as the kid, not as a flag.
    #[arg(value_name = "KID", allow_hyphen_values = true)]
    pub kid: String,
}

/// `keys retire`.
#[derive(Debug, Clone, Args)]
pub struct RetireKeyArgs {
    /// The key's kid (see `keys list`); it may begin with `-`.
    #[arg(value_name = "KID", allow_hyphen_values = true)]
    pub kid: String,
    /// Retire it even if it may still verify live tokens (they then stop verifying).
    #[arg(long)]
    pub force: bool,
}

/// EdDSA, ES256 or RS256 (any case).
fn parse_public_key_algorithm(text: &str) -> Result<jwt_allauth::Algorithm, String> {
    match text.parse::<jwt_allauth::Algorithm>() {
        Ok(algorithm) if algorithm.is_asymmetric() => Ok(algorithm),
        _ => Err("expected EdDSA, ES256 or RS256".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_anywhere() {
        let cli = Cli::try_parse_from([
            "jwt-allauth",
            "user",
            "set-role",
            "--email",
            "a@b.c",
            "--role",
            "-5",
            "--database-url",
            "sqlite::memory:",
        ])
        .expect("parse");
        assert_eq!(cli.global.database_url.as_deref(), Some("sqlite::memory:"));
        assert!(matches!(
            cli.command,
            Command::User(UserCommand::SetRole(SetRoleArgs { role: -5, .. }))
        ));
        let cli = Cli::try_parse_from(["jwt-allauth", "--config", "x.toml", "purge", "--dry-run"])
            .expect("parse");
        assert_eq!(cli.global.config, Some(PathBuf::from("x.toml")));
    }

    /// A kid is a base64url thumbprint: one in 64 begins with `-`.
    #[test]
    fn a_kid_may_begin_with_a_hyphen() {
        let cli =
            Cli::try_parse_from(["jwt-allauth", "keys", "activate", "-C0kid"]).expect("parse");
        assert!(
            matches!(&cli.command, Command::Keys(KeysCommand::Activate(args)) if args.kid == "-C0kid")
        );
        for args in [
            ["jwt-allauth", "keys", "retire", "-C0kid", "--force"],
            ["jwt-allauth", "keys", "retire", "--force", "-C0kid"],
        ] {
            let cli = Cli::try_parse_from(args).expect("parse");
            assert!(matches!(
                &cli.command,
                Command::Keys(KeysCommand::Retire(RetireKeyArgs { kid, force: true })) if kid == "-C0kid"
            ));
        }
    }

    #[test]
    fn debug_hides_the_database_password() {
        for url in [
            "postgres://app:SecretPw@db/auth",
            "postgres://app:Hunter2/SecretPw@db/auth",
        ] {
            let cli = Cli::try_parse_from(["jwt-allauth", "migrate", "--database-url", url])
                .expect("parse");
            let debug = format!("{cli:?}");
            assert!(!debug.contains("SecretPw"), "{debug}");
            assert!(debug.contains("postgres:"), "{debug}");
        }
    }
}
