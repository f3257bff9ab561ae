//! The history of a stress run: every request with its start and end on one monotonic
//! clock, what it presented and what came back, in the compact form the checker reads.
//!
//! Session ids and `jti`s (32 hex digits in the tokens) are kept as numbers, and a
//! refresh token received as a SHA-256 digest of its bytes, so that a long run's history
//! stays small.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A session id (the `session` claim) as a number.
pub type SessionId = u128;
/// A token id (the `jti` claim) as a number.
pub type Jti = u128;
/// A user, by its index in the run's list of users.
pub type UserIx = u32;

/// What identifies a refresh token: its session and its `jti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenRef {
    /// The `session` claim.
    pub session: SessionId,
    /// The `jti` claim.
    pub jti: Jti,
}

impl TokenRef {
    /// The claims of a refresh token, read from its payload without verifying it (the
    /// server verifies; the history only needs to know which token it is). `None` for
    /// anything that is not a JWT with hex `session` and `jti` claims.
    pub fn of(token: &str) -> Option<Self> {
        #[derive(Deserialize)]
        struct Payload {
            session: String,
            jti: String,
        }
        let payload = token.split('.').nth(1)?;
        let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let payload: Payload = serde_json::from_slice(&json).ok()?;
        Some(Self {
            session: parse_hex_id(&payload.session)?,
            jti: parse_hex_id(&payload.jti)?,
        })
    }
}

/// A 32-hex-digit id as a number.
pub fn parse_hex_id(text: &str) -> Option<u128> {
    if text.len() != 32 {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

/// A refresh token received in a 200: which one, and a digest of its exact bytes (so
/// that two answers can be compared byte for byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued {
    /// Its session and `jti`.
    pub token: TokenRef,
    /// SHA-256 of the token text.
    pub digest: [u8; 32],
}

impl Issued {
    /// The record of the refresh token `token`; `None` if it cannot be read.
    pub fn of(token: &str) -> Option<Self> {
        Some(Self {
            token: TokenRef::of(token)?,
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }
}

/// How an administrator ended sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminVia {
    /// In-process, through the library's session store on the same database.
    Library,
    /// By running `jwt-allauth sessions revoke ...`.
    Cli,
}

/// What a request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `POST /login/` as `user`.
    Login {
        /// Who logs in.
        user: UserIx,
    },
    /// `POST /refresh/` presenting a refresh token.
    Refresh {
        /// The token presented.
        presented: TokenRef,
    },
    /// `POST /logout/` by `user` presenting a refresh token of one of their sessions.
    Logout {
        /// The caller.
        user: UserIx,
        /// The refresh token presented (its session is the one to close).
        presented: TokenRef,
    },
    /// `POST /logout-all/` by `user`.
    LogoutAll {
        /// The caller.
        user: UserIx,
    },
    /// `POST /password/change/` by `user`: ends all their sessions, opens a new one.
    PasswordChange {
        /// The caller.
        user: UserIx,
    },
    /// `GET /sessions/` by `user`.
    ListSessions {
        /// The caller.
        user: UserIx,
        /// Taken after the workload, when nothing changes any more.
        final_state: bool,
    },
    /// `DELETE /sessions/{session}/` by `user`, for one of their sessions.
    DeleteSession {
        /// The caller.
        user: UserIx,
        /// The session to end.
        session: SessionId,
    },
    /// An administrator ends one session.
    AdminRevoke {
        /// The session.
        session: SessionId,
        /// How.
        via: AdminVia,
    },
    /// An administrator ends every session of a user.
    AdminRevokeAll {
        /// The user.
        user: UserIx,
        /// How.
        via: AdminVia,
    },
    /// `SELECT session, user_id, jti FROM jwt_allauth_sessions`.
    DbSnapshot {
        /// Taken after the workload, when nothing changes any more.
        final_state: bool,
    },
}

impl Call {
    /// A short name of the kind of call, for the summary.
    pub fn kind(&self) -> &'static str {
        match self {
            Call::Login { .. } => "login",
            Call::Refresh { .. } => "refresh",
            Call::Logout { .. } => "logout",
            Call::LogoutAll { .. } => "logout-all",
            Call::PasswordChange { .. } => "password-change",
            Call::ListSessions { .. } => "list-sessions",
            Call::DeleteSession { .. } => "delete-session",
            Call::AdminRevoke {
                via: AdminVia::Library,
                ..
            } => "admin-revoke (library)",
            Call::AdminRevoke {
                via: AdminVia::Cli, ..
            } => "admin-revoke (cli)",
            Call::AdminRevokeAll {
                via: AdminVia::Library,
                ..
            } => "admin-revoke-all (library)",
            Call::AdminRevokeAll {
                via: AdminVia::Cli, ..
            } => "admin-revoke-all (cli)",
            Call::DbSnapshot { .. } => "db-snapshot",
        }
    }
}

/// A session seen in a listing (`GET /sessions/`) or in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRow {
    /// The session id.
    pub session: SessionId,
    /// Its owner: the caller for a listing; from `user_id` for the database
    /// ([`UNKNOWN_USER`] when no user of the run has that id).
    pub user: UserIx,
    /// The current `jti` (database only).
    pub jti: Option<Jti>,
}

/// The owner of a database row whose `user_id` is none of the run's users.
pub const UNKNOWN_USER: UserIx = UserIx::MAX;

/// What came back, classified. Every answer the contract documents for the workload
/// is one of the first five; anything else is [`Reply::Unexpected`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 200 with a refresh token (login, refresh, password change).
    Issued(Issued),
    /// Done as asked: logout, logout-all, `DELETE /sessions/{id}/` (204), an
    /// administrator's revocation that found its session(s).
    Done,
    /// The session was not there: `DELETE /sessions/{id}/` 404 `{"detail":"Not
    /// found."}`, or an administrator's revocation of a session that was gone.
    Absent,
    /// A refresh refused with 401 `{"detail":"Token is invalid or expired","code":
    /// "token_not_valid"}`.
    Refused,
    /// A listing or a database snapshot.
    Listed(Vec<SessionRow>),
    /// An access token refused because its session had been ended (by a logout-all, a
    /// password change or an administrator running concurrently): 401
    /// `{"detail":"Session is no longer active.","code":"token_not_valid"}`, the
    /// revocation feed of events.md. Nothing was done.
    SessionEnded,
    /// Anything else: a 5xx, an undocumented status or body, a transport error, a
    /// failed command. The text says what.
    Unexpected(String),
}

impl Reply {
    /// A short name of the kind of reply, for the summary.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Issued(_) => "issued",
            Reply::Done => "done",
            Reply::Absent => "absent",
            Reply::Refused => "refused",
            Reply::Listed(_) => "listed",
            Reply::SessionEnded => "session ended",
            Reply::Unexpected(_) => "UNEXPECTED",
        }
    }
}

/// One request: who sent it, when (relative to the run's origin), what it asked and
/// what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The workload client (or [`HARNESS`]).
    pub client: u32,
    /// Just before the request was sent.
    pub start: Duration,
    /// Just after the whole answer was read.
    pub end: Duration,
    /// The request.
    pub call: Call,
    /// The answer.
    pub reply: Reply,
}

/// The client number of requests made by the test harness itself (set-up, final checks).
pub const HARNESS: u32 = u32::MAX;

/// The run's history, appended to by every client. Times come from one [`Instant`], so
/// "A ended before B started" as seen by the clients is a real happens-before.
#[derive(Debug)]
pub struct History {
    origin: Instant,
    records: Mutex<Vec<Record>>,
}

impl History {
    /// An empty history whose clock starts now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            records: Mutex::new(Vec::new()),
        }
    }

    /// The time since the origin.
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Appends a record.
    pub fn push(&self, record: Record) {
        self.records.lock().unwrap().push(record);
    }

    /// The records, in the order they were appended.
    pub fn into_records(self) -> Vec<Record> {
        self.records.into_inner().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_session_and_jti_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(
            br#"{"token_type":"refresh","jti":"000000000000000000000000000000ff","session":"0123456789abcdef0123456789abcdef"}"#,
        );
        let token = format!("e30.{payload}.c2ln");
        let token = TokenRef::of(&token).unwrap();
        assert_eq!(token.jti, 0xff);
        assert_eq!(token.session, 0x0123456789abcdef0123456789abcdef);
        assert_eq!(TokenRef::of("not a token"), None);
        assert_eq!(parse_hex_id("abc"), None);
    }
}
