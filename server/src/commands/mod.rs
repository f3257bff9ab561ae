//! The commands of the command line.

mod events;
mod import;
mod keys;
mod purge;
pub mod serve;
mod sessions;
mod user;

use std::io::{self, Write};

use jwt_allauth::{Algorithm, KeyRing, SessionManager, Settings};
use time::OffsetDateTime;

use crate::Manager;
use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::{self, Overrides};
use crate::db::Database;
use crate::error::CommandError;
use crate::passwords::Passwords;
use crate::users::{ServerUser, Users, normalize_email};

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> Result<(), CommandError> {
    match cli.command {
        Command::Serve(args) => serve::run(&cli.global, &args).await,
        Command::Migrate => {
            let admin = Admin::open(&cli.global).await?;
            admin.db.close().await;
            Ok(())
        }
        Command::User(command) => user::run(&cli.global, command).await,
        Command::Sessions(command) => sessions::run(&cli.global, command).await,
        Command::Purge(args) => purge::run(&cli.global, &args).await,
        Command::Events(command) => events::run(&cli.global, command).await,
        Command::Keys(command) => keys::run(&cli.global, command).await,
        Command::Import(command) => import::run(&cli.global, command).await,
    }
}

/// What the one-shot commands work on: the settings and the migrated database.
struct Admin {
    db: Database,
    users: Users,
    manager: Manager,
}

impl Admin {
    /// Loads the settings, connects and applies pending migrations.
    async fn open(global: &GlobalArgs) -> Result<Self, CommandError> {
        let config = config::load_config(
            global.config.as_deref(),
            &Overrides {
                database_url: global.database_url.as_deref(),
                bind: None,
            },
        )?;
        let db = Database::connect(config::database_url(&config)).await?;
        db.migrate().await?;
        let users = Users::new(db.clone(), Passwords::new());
        let manager = admin_manager(config.tokens, &db, &users)?;
        Ok(Self { db, users, manager })
    }

    /// The user with this e-mail address, or [`CommandError::NoUser`]. An address the
    /// HTTP routes would refuse is [`InvalidEmail`](crate::users::UsersError::InvalidEmail),
    /// not an unknown user.
    async fn user(&self, email: &str) -> Result<ServerUser, CommandError> {
        let (email, _) = normalize_email(email)?;
        self.users
            .find_by_email(&email)
            .await?
            .ok_or(CommandError::NoUser(email))
    }

    async fn close(self) {
        self.db.close().await;
    }
}

/// A session manager for administration. The one-shot commands list, revoke and purge
/// sessions but never sign or verify a token, so they do not need (and never create)
/// the server's signing key: the manager gets a throwaway random key.
fn admin_manager(
    settings: Settings,
    db: &Database,
    users: &Users,
) -> Result<Manager, CommandError> {
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let keys = KeyRing::hmac(Algorithm::HS256, &secret).map_err(CommandError::Keys)?;
    Ok(SessionManager::new(
        settings,
        keys,
        db.session_store(),
        users.clone(),
    ))
}

/// The current time.
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Prints a line on stdout; a closed pipe (`| head`) is not an error.
fn out(line: &str) -> Result<(), CommandError> {
    let mut stdout = io::stdout().lock();
    match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(CommandError::Output(err)),
        _ => Ok(()),
    }
}
