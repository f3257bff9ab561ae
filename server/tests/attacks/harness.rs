//! The server under attack (the real binary on a free port), its users, and the checks
//! every attack ends with: the documented status and JSON body, and no session changed.

use std::fmt::Display;
use std::time::{Duration, Instant};

use jwt_allauth_server::db::Database;
use reqwest::header::{
    CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue, SET_COOKIE, WWW_AUTHENTICATE,
};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::common::{Server, TestDb, success};
use crate::raw_http::{self, RawOutcome, RawResponse};

/// The HMAC secret of the catalogue's HS256 servers (what a forger who stole it would
/// sign with, and what "a buggy issuer sharing the secret" signs with).
pub const SECRET: &str = "the attack catalogue's HS256 secret, well over 32 bytes";

/// The user whose sessions the attacks target.
pub const VICTIM: &str = "victim@example.com";
/// Another user, logged in too: nothing may touch their sessions either.
pub const BYSTANDER: &str = "bystander@example.com";
/// Everyone's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// Settings of every catalogue server: login throttling off, so that a family sending
/// many failed logins gets the answer it tests and not 429.
const BASE_ENV: [(&str, &str); 2] = [
    ("JWT_ALLAUTH_LOGIN_FAILURES_PER_IP", "0"),
    ("JWT_ALLAUTH_LOGIN_FAILURES_PER_EMAIL", "0"),
];

/// The directory of the test keys of the core crate.
pub fn key_file(name: &str) -> String {
    format!(
        "{}/../crates/jwt-allauth/tests/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A served `jwt-allauth` and a connection to its database.
pub struct Target {
    /// The served binary (declared before `db`: the process dies before its database).
    pub server: Server,
    /// An HTTP client with no cookie jar (cookies are written by hand).
    pub client: Client,
    /// The database, for reads the API does not offer.
    pub database: Database,
    /// The test database (dropped last).
    pub db: TestDb,
}

/// The access and refresh tokens of one login.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token.
    pub access: String,
    /// The refresh token (from the cookie).
    pub refresh: String,
}

impl Target {
    /// A fresh SQLite database served with HS256 under [`SECRET`] and `env`.
    pub async fn sqlite(env: &[(&str, &str)]) -> Self {
        Self::hs256(TestDb::sqlite(), env).await
    }

    /// `db` served with HS256 under [`SECRET`] and `env`.
    pub async fn hs256(db: TestDb, env: &[(&str, &str)]) -> Self {
        let mut all = vec![("JWT_ALLAUTH_SECRET_KEY", SECRET)];
        all.extend_from_slice(env);
        Self::start(db, &all).await
    }

    /// `db` served with exactly `env` (plus the catalogue's base settings).
    pub async fn start(db: TestDb, env: &[(&str, &str)]) -> Self {
        let mut all = BASE_ENV.to_vec();
        all.extend_from_slice(env);
        let server = Server::start_with_env(&db, &[], &all).await;
        let database = Database::connect(&db.url).await.expect("connect");
        Self {
            server,
            client: Client::new(),
            database,
            db,
        }
    }

    /// `jwt-allauth user create --email EMAIL --password PASSWORD`.
    pub fn create_user(&self, email: &str) {
        success(
            &self
                .db
                .run(&["user", "create", "--email", email, "--password", PASSWORD]),
        );
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// `host:port`.
    pub fn authority(&self) -> &str {
        raw_http::authority(&self.server.base)
    }

    /// Sends a request and reads the answer.
    pub async fn send(&self, request: RequestBuilder) -> Answer {
        let started = Instant::now();
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            headers,
            body,
            elapsed: started.elapsed(),
        }
    }

    /// `POST /login/` with a JSON body.
    pub async fn login_request(&self, body: &Value) -> Answer {
        self.send(self.client.post(self.url("/login/")).json(body))
            .await
    }

    /// Logs `email` in with [`PASSWORD`]: the new session's tokens.
    pub async fn login(&self, email: &str) -> Tokens {
        let answer = self
            .login_request(&json!({"email": email, "password": PASSWORD}))
            .await;
        answer.tokens("login")
    }

    /// `GET path` with `Authorization: Bearer token`.
    pub async fn get_bearer(&self, path: &str, token: &str) -> Answer {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    /// `POST /refresh/` with `Cookie: refresh_token=value`.
    pub async fn refresh_cookie(&self, value: &str) -> Answer {
        self.refresh_with_cookie_header(&format!("refresh_token={value}"))
            .await
    }

    /// `POST /refresh/` with the given `Cookie` header.
    pub async fn refresh_with_cookie_header(&self, cookie: &str) -> Answer {
        self.send(
            self.client
                .post(self.url("/refresh/"))
                .header(COOKIE, cookie),
        )
        .await
    }

    /// Rotates `tokens` and returns the new ones (a 200 is required).
    pub async fn rotate(&self, tokens: &Tokens) -> Tokens {
        self.refresh_cookie(&tokens.refresh)
            .await
            .tokens("rotation of a legitimate refresh token")
    }

    /// Every session row: (session, user id, current jti), sorted by session.
    pub async fn session_rows(&self) -> Vec<(String, String, String)> {
        const QUERY: &str =
            "SELECT session, user_id, jti FROM jwt_allauth_sessions ORDER BY session";
        match &self.database {
            Database::Sqlite(pool) => sqlx::query_as(QUERY).fetch_all(pool).await,
            Database::Postgres(pool) => sqlx::query_as(QUERY).fetch_all(pool).await,
        }
        .expect("read the sessions table")
    }

    /// The id of the user `email` (as the `user_id` claim writes it).
    pub async fn user_id(&self, email: &str) -> String {
        let id: i64 = match &self.database {
            Database::Sqlite(pool) => {
                sqlx::query_scalar("SELECT id FROM jwt_allauth_users WHERE email_lower = ?")
                    .bind(email)
                    .fetch_one(pool)
                    .await
            }
            Database::Postgres(pool) => {
                sqlx::query_scalar("SELECT id FROM jwt_allauth_users WHERE email_lower = $1")
                    .bind(email)
                    .fetch_one(pool)
                    .await
            }
        }
        .expect("the user exists");
        id.to_string()
    }

    /// Deletes the user row of `email` directly, as an application deleting an account
    /// without going through the library would: their session rows stay.
    pub async fn delete_user_row(&self, email: &str) {
        let deleted = match &self.database {
            Database::Sqlite(pool) => {
                sqlx::query("DELETE FROM jwt_allauth_users WHERE email_lower = ?")
                    .bind(email)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
            }
            Database::Postgres(pool) => {
                sqlx::query("DELETE FROM jwt_allauth_users WHERE email_lower = $1")
                    .bind(email)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
            }
        }
        .expect("delete the user row");
        assert_eq!(deleted, 1, "one user row deleted");
    }

    /// Sends raw bytes on a new connection.
    pub async fn raw(&self, bytes: &[u8]) -> RawOutcome {
        raw_http::exchange(self.authority(), bytes).await
    }

    /// Sends `METHOD PATH` with the raw header `lines` and `body` on a new connection;
    /// the answer, or a panic when the connection closed without one.
    pub async fn raw_request(
        &self,
        method: &str,
        path: &str,
        lines: &[&[u8]],
        body: &[u8],
    ) -> Answer {
        let bytes = raw_http::request(method, path, self.authority(), lines, body);
        let response = self.raw(&bytes).await.response(&format!("{method} {path}"));
        Answer::from_raw(&response)
    }

    /// Asserts that the server is still up and answering.
    pub async fn assert_alive(&self, after: &str) {
        let answer = self.send(self.client.get(self.url("/health/"))).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "/health/ after {after}: {answer:?}"
        );
    }

    /// The peak resident memory of the server process so far, in KiB (`VmHWM`).
    pub fn peak_memory_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.server.child.id()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc status")
    }
}

/// An answer of the server.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The JSON body (`null` when empty; the text as a JSON string when not JSON).
    pub body: Value,
    /// How long the exchange took.
    pub elapsed: Duration,
}

impl Answer {
    /// A response read from a raw socket, as an answer (its body parsed like
    /// [`Target::send`] does).
    pub fn from_raw(response: &RawResponse) -> Self {
        let mut headers = HeaderMap::new();
        for (name, value) in &response.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        let body = if response.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&response.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&response.body).into_owned())
            })
        };
        Self {
            status: StatusCode::from_u16(response.status).expect("a status code"),
            headers,
            body,
            elapsed: Duration::ZERO,
        }
    }

    /// The tokens of a 200 login or rotation; panics naming `what` otherwise.
    #[track_caller]
    pub fn tokens(&self, what: &str) -> Tokens {
        assert_eq!(self.status, StatusCode::OK, "{what}: {self:?}");
        let access = self.body["access"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no access token in {}", self.body))
            .to_owned();
        let refresh = self
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|cookie| {
                cookie
                    .split(';')
                    .next()
                    .and_then(|pair| pair.trim().strip_prefix("refresh_token="))
                    .filter(|value| !value.is_empty())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("{what}: no refresh cookie"));
        Tokens { access, refresh }
    }
}

/// A documented answer: status and exact JSON body.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Value,
}

impl Expected {
    /// `status` with `body`.
    pub fn new(status: StatusCode, body: Value) -> Self {
        Self { status, body }
    }

    /// 200 with any body (a control: the request must succeed).
    pub fn ok() -> Self {
        Self::new(StatusCode::OK, Value::Null)
    }
}

/// 401 on a Bearer route for a token that does not verify: `Token is invalid`,
/// `Token is expired` or `Token has wrong type`.
pub fn access_rejected(message: &str) -> Expected {
    Expected::new(
        StatusCode::UNAUTHORIZED,
        json!({
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid",
            "messages": [{
                "token_class": "AccessToken",
                "token_type": "access",
                "message": message,
            }],
        }),
    )
}

/// 401 `{"detail": detail, "code": "token_not_valid"}` (how `/refresh/` refuses a
/// token, and how a Bearer route refuses a deleted user or a closed session).
pub fn token_not_valid(detail: &str) -> Expected {
    Expected::new(
        StatusCode::UNAUTHORIZED,
        json!({"detail": detail, "code": "token_not_valid"}),
    )
}

/// 401 `bad_authorization_header`.
pub fn bad_authorization_header() -> Expected {
    Expected::new(
        StatusCode::UNAUTHORIZED,
        json!({
            "detail": "Authorization header must contain two space-delimited values",
            "code": "bad_authorization_header",
        }),
    )
}

/// 401 without credentials.
pub fn no_credentials() -> Expected {
    Expected::new(
        StatusCode::UNAUTHORIZED,
        json!({"detail": "Authentication credentials were not provided."}),
    )
}

/// 401 `incorrect_credentials`.
pub fn incorrect_credentials() -> Expected {
    Expected::new(
        StatusCode::UNAUTHORIZED,
        json!({"detail": "Incorrect credentials", "code": "incorrect_credentials"}),
    )
}

/// 400 `{"refresh":["This field is required."]}`: `/refresh/` found no cookie.
pub fn refresh_required() -> Expected {
    Expected::new(
        StatusCode::BAD_REQUEST,
        json!({"refresh": ["This field is required."]}),
    )
}

/// 400 `{"detail": detail}`.
pub fn bad_request(detail: &str) -> Expected {
    Expected::new(StatusCode::BAD_REQUEST, json!({"detail": detail}))
}

/// 431 `{"detail":"Request header fields too large.","code":"headers_too_large"}`.
pub fn headers_too_large() -> Expected {
    Expected::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        json!({
            "detail": "Request header fields too large.",
            "code": "headers_too_large",
        }),
    )
}

/// Checks that `access` is refused at `/whoami/` and `refresh` at `/refresh/`, both as
/// `Token is invalid`.
pub async fn both_refused(
    target: &Target,
    verdicts: &mut Verdicts,
    variant: &str,
    access: &str,
    refresh: &str,
) {
    let answer = target.get_bearer("/whoami/", access).await;
    verdicts.check(
        format!("{variant} [access at /whoami/]"),
        &answer,
        &access_rejected("Token is invalid"),
    );
    let answer = target.refresh_cookie(refresh).await;
    verdicts.check(
        format!("{variant} [refresh at /refresh/]"),
        &answer,
        &token_not_valid("Token is invalid"),
    );
}

/// The failed variants of one attack family, reported together at the end.
pub struct Verdicts {
    family: &'static str,
    checked: usize,
    failures: Vec<String>,
}

impl Verdicts {
    /// An empty report for `family`.
    pub fn new(family: &'static str) -> Self {
        Self {
            family,
            checked: 0,
            failures: Vec::new(),
        }
    }

    /// Records whether `answer` to `variant` is `expected`: same status; for an error,
    /// the exact JSON body, `Content-Type: application/json`, and on a 401
    /// `WWW-Authenticate: Bearer realm="api"`. `Expected::ok()` only checks the status.
    pub fn check(&mut self, variant: impl Display, answer: &Answer, expected: &Expected) {
        self.checked += 1;
        let mut problems = Vec::new();
        if answer.status != expected.status {
            problems.push(format!(
                "status {} instead of {}",
                answer.status, expected.status
            ));
        }
        if !expected.status.is_success() {
            if answer.body != expected.body {
                problems.push(format!("body {} instead of {}", answer.body, expected.body));
            }
            let content_type = answer
                .headers
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok());
            if content_type != Some("application/json") {
                problems.push(format!("Content-Type {content_type:?}"));
            }
        }
        if expected.status == StatusCode::UNAUTHORIZED {
            let challenge = answer
                .headers
                .get(WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok());
            if challenge != Some("Bearer realm=\"api\"") {
                problems.push(format!("WWW-Authenticate {challenge:?}"));
            }
        }
        if !problems.is_empty() {
            self.fail(variant, problems.join("; "));
        }
    }

    /// Records a failure of `variant`.
    pub fn fail(&mut self, variant: impl Display, problem: impl Display) {
        self.failures.push(format!("{variant}: {problem}"));
    }

    /// Counts a variant checked by other means.
    pub fn count(&mut self) {
        self.checked += 1;
    }

    /// Panics listing every failed variant, if any.
    #[track_caller]
    pub fn finish(self) {
        assert!(self.checked > 0, "{}: no variant was checked", self.family);
        assert!(
            self.failures.is_empty(),
            "{}: {} of {} variants failed:\n  {}",
            self.family,
            self.failures.len(),
            self.checked,
            self.failures.join("\n  ")
        );
    }
}

/// Two logged-in users and the session table as it was before an attack.
pub struct Scene {
    /// The victim's tokens.
    pub victim: Tokens,
    /// The bystander's tokens.
    pub bystander: Tokens,
    /// The victim's user id.
    pub victim_id: String,
    /// The bystander's user id.
    pub bystander_id: String,
    before: Vec<(String, String, String)>,
}

impl Scene {
    /// Creates the victim and the bystander and logs each in once.
    pub async fn set_up(target: &Target) -> Self {
        target.create_user(VICTIM);
        target.create_user(BYSTANDER);
        let victim = target.login(VICTIM).await;
        let bystander = target.login(BYSTANDER).await;
        Self {
            victim,
            bystander,
            victim_id: target.user_id(VICTIM).await,
            bystander_id: target.user_id(BYSTANDER).await,
            before: target.session_rows().await,
        }
    }

    /// Asserts that no session was created, rotated or deleted since [`Scene::set_up`],
    /// and that the victim's refresh token still rotates and the new access token works.
    pub async fn assert_untouched(&self, target: &Target, family: &str) {
        let after = target.session_rows().await;
        assert_eq!(
            after, self.before,
            "{family}: the session table changed (session, user_id, jti)"
        );
        let next = target.rotate(&self.victim).await;
        let whoami = target.get_bearer("/whoami/", &next.access).await;
        assert_eq!(whoami.status, StatusCode::OK, "{family}: {whoami:?}");
    }
}
