//! The administrator's side of a stress run: ending sessions in-process through the
//! library's session store on the same database, or with the `jwt-allauth sessions
//! revoke` / `revoke-all` commands, and reading the sessions table directly. Every action
//! is recorded in the [`History`] like an HTTP call.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use jwt_allauth::DynStore;
use jwt_allauth::events::RevocationReason;
use jwt_allauth::store::{SessionEnd, SessionStore};
use jwt_allauth_server::db::Database;

use super::history::{
    AdminVia, Call, History, Record, Reply, SessionId, SessionRow, UNKNOWN_USER, UserIx,
    parse_hex_id,
};
use crate::common::{TestDb, command_in};

/// What the administrator needs: the database, the store on it, how to run the binary,
/// and the users' ids.
#[derive(Debug)]
pub struct Admin {
    db: Database,
    store: DynStore,
    dir: PathBuf,
    url: String,
    /// `user_id` claim of each user, by index.
    user_ids: Vec<String>,
    /// The reverse of `user_ids`.
    user_index: HashMap<String, UserIx>,
    history: Arc<History>,
}

impl Admin {
    /// The administrator of `test_db` (already migrated), whose users have the ids
    /// `user_ids` in index order.
    pub async fn new(test_db: &TestDb, user_ids: Vec<String>, history: Arc<History>) -> Self {
        let db = test_db.connect().await;
        let user_index = user_ids
            .iter()
            .enumerate()
            .map(|(index, id)| (id.clone(), UserIx::try_from(index).unwrap()))
            .collect();
        Self {
            store: db.session_store(),
            db,
            dir: test_db.dir.path().to_owned(),
            url: test_db.url.clone(),
            user_ids,
            user_index,
            history,
        }
    }

    /// Runs `action`, timed and recorded as `call`.
    async fn record<F: Future<Output = Reply>>(&self, client: u32, call: Call, action: F) -> Reply {
        let start = self.history.now();
        let reply = action.await;
        let end = self.history.now();
        self.history.push(Record {
            client,
            start,
            end,
            call,
            reply: reply.clone(),
        });
        reply
    }

    /// Ends `session` through the library (`SessionStore::revoke_session`).
    pub async fn revoke_session(&self, client: u32, session: SessionId) -> Reply {
        let call = Call::AdminRevoke {
            session,
            via: AdminVia::Library,
        };
        self.record(client, call, async {
            match self
                .store
                .revoke_session(&format!("{session:032x}"), admin_end())
                .await
            {
                Ok(true) => Reply::Done,
                Ok(false) => Reply::Absent,
                Err(error) => Reply::Unexpected(format!("revoke_session: {error}")),
            }
        })
        .await
    }

    /// Ends every session of `user` through the library
    /// (`SessionStore::revoke_user_sessions`).
    pub async fn revoke_all(&self, client: u32, user: UserIx) -> Reply {
        let call = Call::AdminRevokeAll {
            user,
            via: AdminVia::Library,
        };
        let user_id = &self.user_ids[user as usize];
        self.record(client, call, async {
            match self.store.revoke_user_sessions(user_id, admin_end()).await {
                Ok(_) => Reply::Done,
                Err(error) => Reply::Unexpected(format!("revoke_user_sessions: {error}")),
            }
        })
        .await
    }

    /// `jwt-allauth sessions revoke --session ID`: exit 0, or the one-line error "no
    /// session with id ..." when it was gone.
    pub async fn cli_revoke_session(&self, client: u32, session: SessionId) -> Reply {
        let call = Call::AdminRevoke {
            session,
            via: AdminVia::Cli,
        };
        let id = format!("{session:032x}");
        self.record(client, call, async {
            match self
                .run_cli(&["sessions", "revoke", "--session", &id])
                .await
            {
                Ok(()) => Reply::Done,
                Err(stderr) if stderr.starts_with("error: no session with id") => Reply::Absent,
                Err(stderr) => Reply::Unexpected(format!("sessions revoke: {stderr}")),
            }
        })
        .await
    }

    /// `jwt-allauth sessions revoke-all --email E`.
    pub async fn cli_revoke_all(&self, client: u32, user: UserIx, email: &str) -> Reply {
        let call = Call::AdminRevokeAll {
            user,
            via: AdminVia::Cli,
        };
        self.record(client, call, async {
            match self
                .run_cli(&["sessions", "revoke-all", "--email", email])
                .await
            {
                Ok(()) => Reply::Done,
                Err(stderr) => Reply::Unexpected(format!("sessions revoke-all: {stderr}")),
            }
        })
        .await
    }

    /// Runs the binary with `args` on the run's database, off the async threads; its
    /// stderr when it fails.
    async fn run_cli(&self, args: &[&str]) -> Result<(), String> {
        let mut args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        args.extend(["--database-url".to_owned(), self.url.clone()]);
        let dir = self.dir.clone();
        let output = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            command_in(&dir, &args).output()
        })
        .await
        .unwrap();
        match output {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
            Err(error) => Err(format!("cannot run jwt-allauth: {error}")),
        }
    }

    /// Every row of the sessions table, in one statement.
    pub async fn snapshot(&self, client: u32, final_state: bool) -> Reply {
        let Database::Postgres(pool) = &self.db else {
            panic!("the stress test runs on PostgreSQL");
        };
        self.record(client, Call::DbSnapshot { final_state }, async {
            let rows: Result<Vec<(String, String, String)>, _> =
                sqlx::query_as("SELECT session, user_id, jti FROM jwt_allauth_sessions")
                    .fetch_all(pool)
                    .await;
            let rows = match rows {
                Ok(rows) => rows,
                Err(error) => return Reply::Unexpected(format!("snapshot: {error}")),
            };
            let mut listed = Vec::with_capacity(rows.len());
            for (session, user_id, jti) in rows {
                let (Some(session), Some(jti)) = (parse_hex_id(&session), parse_hex_id(&jti))
                else {
                    return Reply::Unexpected(format!("snapshot: a row with session {session}"));
                };
                let user = self
                    .user_index
                    .get(&user_id)
                    .copied()
                    .unwrap_or(UNKNOWN_USER);
                listed.push(SessionRow {
                    session,
                    user,
                    jti: Some(jti),
                });
            }
            Reply::Listed(listed)
        })
        .await
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// An administrator's revocation, now.
fn admin_end() -> SessionEnd {
    SessionEnd::new(RevocationReason::Admin, time::OffsetDateTime::now_utc())
}
