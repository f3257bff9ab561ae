//! The HTTP side of the fault tests: a client of a server that returns the refresh token
//! in the body (`REFRESH_TOKEN_AS_COOKIE=false`), answers with their latency, and the
//! claims of a token.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestDb, success};

/// The user every fault test logs in as.
pub const EMAIL: &str = "fault@example.com";
/// Their password.
pub const PASSWORD: &str = "correct horse battery staple";

/// The signing secret of every served instance, so that a restarted server (or one run
/// by another user, who cannot read a generated key file) accepts the earlier tokens.
pub const SECRET_KEY: &str = "9d1f0c4be2a7d6853f1e0a9c8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d";

/// The longest a request needing the database may take while the database fails:
/// [`CONNECT_TIMEOUT`](jwt_allauth_server::db::CONNECT_TIMEOUT) (PostgreSQL) or the
/// SQLite busy timeout, both 5 s, plus a margin for a loaded machine.
pub const UNAVAILABLE_WITHIN: Duration = Duration::from_secs(10);

/// Settings of every served instance: the refresh token in the body, plain HTTP, the
/// fixed secret.
pub fn server_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false"),
        ("JWT_ALLAUTH_COOKIE_SECURE", "false"),
        ("JWT_ALLAUTH_SECRET_KEY", SECRET_KEY),
    ]
}

/// `jwt-allauth user create --email EMAIL --password PASSWORD` on `db`.
pub fn create_user(db: &TestDb) {
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
}

/// The documented body of a 503.
pub fn unavailable_body() -> Value {
    json!({"detail": "Database unavailable.", "code": "service_unavailable"})
}

/// One answer of the server.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body: JSON, or the text as a JSON string.
    pub body: Value,
    /// From sending the request to reading the whole body.
    pub elapsed: Duration,
}

impl Answer {
    /// Asserts a 200 and returns the body.
    #[track_caller]
    pub fn ok(&self, what: &str) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{what}: {self:?}");
        &self.body
    }

    /// Asserts a 200 with tokens and returns them.
    #[track_caller]
    pub fn tokens(&self, what: &str) -> Tokens {
        let body = self.ok(what);
        Tokens {
            access: body["access"].as_str().unwrap().to_owned(),
            refresh: body["refresh"].as_str().unwrap().to_owned(),
        }
    }

    /// Whether this is the documented 503.
    pub fn is_unavailable(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE && self.body == unavailable_body()
    }

    /// Asserts the documented 503, answered within [`UNAVAILABLE_WITHIN`].
    #[track_caller]
    pub fn assert_unavailable(&self, what: &str) {
        assert!(
            self.is_unavailable(),
            "{what}: expected the documented 503, got {self:?}"
        );
        assert!(
            self.elapsed <= UNAVAILABLE_WITHIN,
            "{what}: the 503 took {:?}",
            self.elapsed
        );
    }
}

/// An access token and a refresh token.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: String,
}

/// A client of one served instance.
#[derive(Debug, Clone)]
pub struct Api {
    client: Client,
    base: String,
}

impl Api {
    /// A client of the server at `base` (`http://127.0.0.1:PORT`). A request that gets no
    /// answer within 30 s fails (a hang, not a slow answer).
    pub fn new(base: &str) -> Self {
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            client,
            base: base.to_owned(),
        }
    }

    /// `POST /login/` as [`EMAIL`].
    pub async fn login(&self) -> reqwest::Result<Answer> {
        let body = json!({"email": EMAIL, "password": PASSWORD});
        self.send(self.client.post(self.url("/login/")).json(&body))
            .await
    }

    /// `POST /refresh/` with `refresh` in the body.
    pub async fn refresh(&self, refresh: &str) -> reqwest::Result<Answer> {
        let body = json!({ "refresh": refresh });
        self.send(self.client.post(self.url("/refresh/")).json(&body))
            .await
    }

    /// `GET path`, with `Authorization: Bearer ACCESS` when `access` is given.
    pub async fn get(&self, path: &str, access: Option<&str>) -> reqwest::Result<Answer> {
        let mut request = self.client.get(self.url(path));
        if let Some(access) = access {
            request = request.bearer_auth(access);
        }
        self.send(request).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Result<Answer> {
        let start = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer {
            status,
            body,
            elapsed: start.elapsed(),
        })
    }
}

/// The claims of a token (its payload, not verified).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The `jti` claim of a token.
pub fn jti(token: &str) -> String {
    claims(token)["jti"].as_str().unwrap().to_owned()
}

/// The `session` claim of a token.
pub fn session(token: &str) -> String {
    claims(token)["session"].as_str().unwrap().to_owned()
}
