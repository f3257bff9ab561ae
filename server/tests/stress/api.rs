//! The server's HTTP API as the stress clients use it: each call is sent, timed, its
//! answer classified against the contract ([`Reply`]) and recorded in the [`History`].
//!
//! The refresh token travels in the body (`REFRESH_TOKEN_AS_COOKIE=false`) or in the
//! `refresh_token` cookie, which is written and read by hand so that several clients can
//! present one token at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{COOKIE, HeaderMap, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::history::{
    Call, History, Issued, Jti, Record, Reply, SessionId, SessionRow, TokenRef, UserIx,
    parse_hex_id,
};

/// How long one request may take before it counts as lost (far above any normal answer).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Logins and password changes (argon2 work) in flight at once. The server runs one
/// argon2 computation per core and queues the rest; 64 clients logging in at once on a
/// loaded machine queued them past the server's 30 s request timeout, whose 503 leaves
/// it unknown whether the session was opened. The runs stress session races, not
/// password hashing, so the clients keep that queue short: a request waits for its turn
/// before it is sent (and before its recorded start).
const HASHING_IN_FLIGHT: usize = 2;

/// Where the refresh token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// In JSON bodies (`{"refresh": ...}`), as with `REFRESH_TOKEN_AS_COOKIE=false`.
    Body,
    /// In the `refresh_token` cookie (the default).
    Cookie,
}

/// The tokens of a 200 from login, refresh or password change.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The refresh token.
    pub refresh: String,
    /// Its session and `jti`.
    pub token: TokenRef,
    /// The access token issued with it.
    pub access: String,
}

/// The last few refresh tokens received for each session, so that after the run the
/// newest token of every ended session can be presented once more.
#[derive(Debug, Default)]
pub struct TokenVault {
    recent: Mutex<HashMap<SessionId, VecDeque<(Jti, String)>>>,
}

/// Distinct tokens kept per session: the newest one of a chain is always among the last
/// two first received (a retry in the reuse interval repeats an already known one).
const TOKENS_KEPT: usize = 2;

impl TokenVault {
    fn keep(&self, credentials: &Credentials) {
        let mut recent = self.recent.lock().unwrap();
        let tokens = recent.entry(credentials.token.session).or_default();
        if tokens.iter().any(|(jti, _)| *jti == credentials.token.jti) {
            return;
        }
        if tokens.len() == TOKENS_KEPT {
            tokens.pop_front();
        }
        tokens.push_back((credentials.token.jti, credentials.refresh.clone()));
    }

    /// The kept tokens of every session, oldest first per session.
    pub fn tokens(&self) -> HashMap<SessionId, Vec<(Jti, String)>> {
        self.recent
            .lock()
            .unwrap()
            .iter()
            .map(|(session, tokens)| (*session, tokens.iter().cloned().collect()))
            .collect()
    }
}

/// A status, headers and body text.
struct Exchange {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Exchange {
    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// Whether this is `status` with exactly the JSON body `expected`.
    fn is(&self, status: StatusCode, expected: &Value) -> bool {
        self.status == status && self.json().as_ref() == Some(expected)
    }

    /// The description of an answer the contract does not allow here. Bodies of 2xx
    /// answers can hold tokens: they are left out.
    fn unexpected(&self, what: &str) -> Reply {
        let body = if self.status.is_success() {
            "(body not shown)"
        } else {
            self.body.as_str()
        };
        Reply::Unexpected(format!("{what}: {} {body}", self.status))
    }
}

/// The HTTP client of every stress client: one connection pool, one history.
#[derive(Debug, Clone)]
pub struct Api {
    client: Client,
    base: String,
    transport: Transport,
    history: Arc<History>,
    vault: Arc<TokenVault>,
    /// [`HASHING_IN_FLIGHT`] permits, one per login or password change being sent.
    hashing: Arc<Semaphore>,
}

impl Api {
    /// A client of the server at `base` (`http://127.0.0.1:PORT`).
    pub fn new(
        base: &str,
        transport: Transport,
        history: Arc<History>,
        vault: Arc<TokenVault>,
    ) -> Self {
        let client = Client::builder().timeout(REQUEST_TIMEOUT).build().unwrap();
        Self {
            client,
            base: base.to_owned(),
            transport,
            history,
            vault,
            hashing: Arc::new(Semaphore::new(HASHING_IN_FLIGHT)),
        }
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(format!("{}{path}", self.base))
    }

    /// `request` carrying `refresh` the configured way.
    fn with_refresh(&self, request: RequestBuilder, refresh: &str) -> RequestBuilder {
        match self.transport {
            Transport::Body => request.json(&json!({ "refresh": refresh })),
            Transport::Cookie => request.header(COOKIE, format!("refresh_token={refresh}")),
        }
    }

    /// Sends `request`, records it with the reply `classify` makes of the answer, and
    /// returns that reply with whatever `classify` extracted.
    async fn call<T>(
        &self,
        client: u32,
        call: Call,
        request: RequestBuilder,
        classify: impl FnOnce(&Exchange) -> (Reply, Option<T>),
    ) -> (Reply, Option<T>) {
        let start = self.history.now();
        let exchange = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                response.text().await.map(|body| Exchange {
                    status,
                    headers,
                    body,
                })
            }
            Err(error) => Err(error),
        };
        let end = self.history.now();
        let carries_access_token = !matches!(call, Call::Login { .. } | Call::Refresh { .. });
        let (reply, extracted) = match exchange {
            Ok(exchange) if carries_access_token && is_session_ended(&exchange) => {
                (Reply::SessionEnded, None)
            }
            Ok(exchange) => classify(&exchange),
            Err(error) => (Reply::Unexpected(format!("transport error: {error}")), None),
        };
        self.history.push(Record {
            client,
            start,
            end,
            call,
            reply: reply.clone(),
        });
        (reply, extracted)
    }

    /// The credentials of a 200 carrying tokens; `extra` names further fields the body
    /// must hold (with their values).
    fn credentials(&self, exchange: &Exchange, extra: &[(&str, &str)]) -> Option<Credentials> {
        if exchange.status != StatusCode::OK {
            return None;
        }
        let body = exchange.json()?;
        let object = body.as_object()?;
        let access = object.get("access")?.as_str()?.to_owned();
        for (field, value) in extra {
            if object.get(*field)?.as_str()? != *value {
                return None;
            }
        }
        let (refresh, fields) = match self.transport {
            Transport::Body => (object.get("refresh")?.as_str()?.to_owned(), 2),
            Transport::Cookie => (refresh_cookie(&exchange.headers)?, 1),
        };
        if object.len() != fields + extra.len() {
            return None;
        }
        let token = TokenRef::of(&refresh)?;
        Some(Credentials {
            refresh,
            token,
            access,
        })
    }

    /// [`Reply::Issued`] for credentials, remembered in the vault.
    fn issued(
        &self,
        credentials: Option<Credentials>,
        exchange: &Exchange,
        what: &str,
    ) -> (Reply, Option<Credentials>) {
        match credentials {
            Some(credentials) => match Issued::of(&credentials.refresh) {
                Some(issued) => {
                    self.vault.keep(&credentials);
                    (Reply::Issued(issued), Some(credentials))
                }
                None => (exchange.unexpected(what), None),
            },
            None => (exchange.unexpected(what), None),
        }
    }

    /// `POST /login/`: the credentials of the new session, if it was opened.
    pub async fn login(
        &self,
        client: u32,
        user: UserIx,
        email: &str,
        password: &str,
    ) -> Option<Credentials> {
        let request = self
            .post("/login/")
            .json(&json!({"email": email, "password": password}));
        let _turn = self.hashing.acquire().await.unwrap();
        self.call(client, Call::Login { user }, request, |exchange| {
            let credentials = self.credentials(exchange, &[]);
            self.issued(credentials, exchange, "login")
        })
        .await
        .1
    }

    /// `POST /refresh/` presenting `refresh`: [`Reply::Issued`] with the successor,
    /// [`Reply::Refused`], or [`Reply::Unexpected`].
    pub async fn refresh(
        &self,
        client: u32,
        refresh: &str,
        presented: TokenRef,
    ) -> (Reply, Option<Credentials>) {
        let request = self.with_refresh(self.post("/refresh/"), refresh);
        self.call(client, Call::Refresh { presented }, request, |exchange| {
            if is_refused(exchange) {
                return (Reply::Refused, None);
            }
            let credentials = self.credentials(exchange, &[]);
            self.issued(credentials, exchange, "refresh")
        })
        .await
    }

    /// `POST /logout/` with `access` presenting `refresh`: whether it answered 200
    /// "Successfully logged out.".
    pub async fn logout(
        &self,
        client: u32,
        user: UserIx,
        access: &str,
        refresh: &str,
        presented: TokenRef,
    ) -> bool {
        let request = self.with_refresh(self.post("/logout/").bearer_auth(access), refresh);
        let (reply, _) = self
            .call::<()>(
                client,
                Call::Logout { user, presented },
                request,
                |exchange| done(exchange, "Successfully logged out.", "logout"),
            )
            .await;
        reply == Reply::Done
    }

    /// `POST /logout-all/` with `access`: whether it answered 200.
    pub async fn logout_all(&self, client: u32, user: UserIx, access: &str) -> bool {
        let request = self.post("/logout-all/").bearer_auth(access);
        let (reply, _) = self
            .call::<()>(client, Call::LogoutAll { user }, request, |exchange| {
                done(
                    exchange,
                    "Successfully logged out from all devices.",
                    "logout-all",
                )
            })
            .await;
        reply == Reply::Done
    }

    /// `POST /password/change/` with `access`: the credentials of the new session when
    /// the password was changed.
    pub async fn change_password(
        &self,
        client: u32,
        user: UserIx,
        access: &str,
        old: &str,
        new: &str,
    ) -> Option<Credentials> {
        let request = self
            .post("/password/change/")
            .bearer_auth(access)
            .json(&json!({"old_password": old, "new_password1": new, "new_password2": new}));
        let _turn = self.hashing.acquire().await.unwrap();
        self.call(client, Call::PasswordChange { user }, request, |exchange| {
            let credentials =
                self.credentials(exchange, &[("detail", "New password has been saved.")]);
            self.issued(credentials, exchange, "password change")
        })
        .await
        .1
    }

    /// `GET /sessions/` with `access`: the ids of the caller's sessions.
    pub async fn list_sessions(
        &self,
        client: u32,
        user: UserIx,
        access: &str,
        final_state: bool,
    ) -> Option<Vec<SessionId>> {
        let request = self
            .client
            .get(format!("{}/sessions/", self.base))
            .bearer_auth(access);
        let call = Call::ListSessions { user, final_state };
        self.call(client, call, request, |exchange| {
            match listed_sessions(exchange) {
                Some(sessions) => {
                    let rows = sessions
                        .iter()
                        .map(|&session| SessionRow {
                            session,
                            user,
                            jti: None,
                        })
                        .collect();
                    (Reply::Listed(rows), Some(sessions))
                }
                None => (exchange.unexpected("list sessions"), None),
            }
        })
        .await
        .1
    }

    /// `DELETE /sessions/{session}/` with `access`.
    pub async fn delete_session(
        &self,
        client: u32,
        user: UserIx,
        access: &str,
        session: SessionId,
    ) -> Reply {
        let request = self
            .client
            .delete(format!("{}/sessions/{session:032x}/", self.base))
            .bearer_auth(access);
        let call = Call::DeleteSession { user, session };
        self.call::<()>(client, call, request, |exchange| {
            if exchange.status == StatusCode::NO_CONTENT && exchange.body.is_empty() {
                (Reply::Done, None)
            } else if exchange.is(StatusCode::NOT_FOUND, &json!({"detail": "Not found."})) {
                (Reply::Absent, None)
            } else {
                (exchange.unexpected("delete session"), None)
            }
        })
        .await
        .0
    }
}

/// Whether this is the refusal of an access token whose session was ended: 401
/// `token_not_valid` "Session is no longer active." with `WWW-Authenticate`.
fn is_session_ended(exchange: &Exchange) -> bool {
    let expected = json!({"detail": "Session is no longer active.", "code": "token_not_valid"});
    exchange.is(StatusCode::UNAUTHORIZED, &expected)
        && exchange
            .headers
            .get(WWW_AUTHENTICATE)
            .is_some_and(|value| value == r#"Bearer realm="api""#)
}

/// Whether this is the refusal of a refresh token: 401 `token_not_valid` "Token is
/// invalid or expired" with `WWW-Authenticate: Bearer realm="api"`.
fn is_refused(exchange: &Exchange) -> bool {
    let expected = json!({"detail": "Token is invalid or expired", "code": "token_not_valid"});
    exchange.is(StatusCode::UNAUTHORIZED, &expected)
        && exchange
            .headers
            .get(WWW_AUTHENTICATE)
            .is_some_and(|value| value == r#"Bearer realm="api""#)
}

/// [`Reply::Done`] for 200 `{"detail": detail}`.
fn done(exchange: &Exchange, detail: &str, what: &str) -> (Reply, Option<()>) {
    if exchange.is(StatusCode::OK, &json!({ "detail": detail })) {
        (Reply::Done, None)
    } else {
        (exchange.unexpected(what), None)
    }
}

/// The `session` of every object of a 200 `GET /sessions/` array.
fn listed_sessions(exchange: &Exchange) -> Option<Vec<SessionId>> {
    if exchange.status != StatusCode::OK {
        return None;
    }
    exchange
        .json()?
        .as_array()?
        .iter()
        .map(|entry| parse_hex_id(entry.get("session")?.as_str()?))
        .collect()
}

/// The value of the `refresh_token` cookie the answer sets, if it sets a non-empty one.
fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|cookie| {
            cookie
                .split(';')
                .next()?
                .trim()
                .strip_prefix("refresh_token=")
        })
        .find(|value| !value.is_empty())
        .map(str::to_owned)
}
