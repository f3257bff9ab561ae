//! End to end over real HTTP, each scenario on SQLite and (when
//! `JWT_ALLAUTH_TEST_POSTGRES_URL` is set) on PostgreSQL: the README walk-through as a
//! user does it with curl, sixteen clients refreshing one cookie at once (strict and with
//! a reuse interval), the absolute session lifetime, and a password change.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{Server, TestDb, success};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{COOKIE, SET_COOKIE, USER_AGENT, WWW_AUTHENTICATE};
use reqwest::{Client, Response, StatusCode, Url};
use serde_json::{Value, json};
use tokio::sync::Barrier;

const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// The README's `$UA`.
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
/// A second device: a phone.
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";
const REFRESH_LIFETIME: u64 = 14 * 24 * 3600;

/// One scenario on SQLite (always) and PostgreSQL (when configured): a module `$name`
/// with the tests `sqlite` and `postgres`.
macro_rules! on_both_databases {
    ($(#[$attr:meta])* $name:ident) => {
        mod $name {
            $(#[$attr])*
            async fn sqlite() {
                super::$name(&super::TestDb::sqlite()).await;
            }

            $(#[$attr])*
            async fn postgres() {
                let test = concat!(stringify!($name), "::postgres");
                if let Some(db) = super::TestDb::postgres(test).await {
                    super::$name(&db).await;
                }
            }
        }
    };
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `jwt-allauth user create --email E --password P` on the test database.
fn create_user(db: &TestDb, email: &str, password: &str) {
    success(&db.run(&["user", "create", "--email", email, "--password", password]));
}

/// `jwt-allauth sessions list --email E`: the session ids, one per line.
fn cli_sessions(db: &TestDb, email: &str) -> Vec<String> {
    success(&db.run(&["sessions", "list", "--email", email]))
        .lines()
        .map(|line| line.split('\t').next().unwrap().to_owned())
        .collect()
}

/// `JWT_ALLAUTH_COOKIE_SECURE=false jwt-allauth serve` (plain HTTP: the cookie must come
/// back from a real cookie jar), with more settings from `env`.
async fn serve(db: &TestDb, env: &[(&str, &str)]) -> Server {
    let mut all = vec![("JWT_ALLAUTH_COOKIE_SECURE", "false")];
    all.extend_from_slice(env);
    Server::start_with_env(db, &[], &all).await
}

/// A curl user on one device: `-A UA` and a cookie jar file (`-b jar -c jar`).
struct Curl {
    client: Client,
    jar: Arc<Jar>,
    user_agent: &'static str,
    base: Url,
}

impl Curl {
    fn new(server: &Server, user_agent: &'static str) -> Self {
        Self::with_jar(server, user_agent, Arc::new(Jar::default()))
    }

    fn with_jar(server: &Server, user_agent: &'static str, jar: Arc<Jar>) -> Self {
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Self {
            client,
            jar,
            user_agent,
            base: Url::parse(&server.base).unwrap(),
        }
    }

    /// `cp jar old-jar`: the same device with a copy of the jar as it is now.
    fn copy_jar(&self) -> Self {
        let copy = Arc::new(Jar::default());
        if let Some(value) = self.refresh_cookie() {
            copy.add_cookie_str(&format!("refresh_token={value}; Path=/"), &self.base);
        }
        Self {
            client: Client::builder()
                .cookie_provider(copy.clone())
                .build()
                .unwrap(),
            jar: copy,
            user_agent: self.user_agent,
            base: self.base.clone(),
        }
    }

    /// The `refresh_token` value the jar would send, if any.
    fn refresh_cookie(&self) -> Option<String> {
        let header = self.jar.cookies(&self.base.join("/refresh/").unwrap())?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|pair| pair.strip_prefix("refresh_token="))
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }

    /// `curl -c jar -A "$UA" /login/ -H 'Content-Type: application/json' -d '{...}'`.
    async fn login(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/login/"))
            .header(USER_AGENT, self.user_agent)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns `$ACCESS` (`| jq -r .access`), asserting the 200.
    async fn login_ok(&self, email: &str, password: &str) -> String {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK);
        refresh_set_cookie(&response);
        access_of(response).await
    }

    /// `curl -b jar -c jar -A "$UA" -X POST /refresh/`.
    async fn refresh(&self) -> Response {
        self.client
            .post(self.url("/refresh/"))
            .header(USER_AGENT, self.user_agent)
            .send()
            .await
            .unwrap()
    }

    /// `curl /PATH -H "Authorization: Bearer $ACCESS"`.
    async fn get(&self, path: &str, access: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    /// `curl -X DELETE /sessions/ID/ -H "Authorization: Bearer $ACCESS"`.
    async fn delete_session(&self, session: &str, access: &str) -> Response {
        self.client
            .delete(self.url(&format!("/sessions/{session}/")))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    /// `curl -b jar -c jar -X POST /PATH -H "Authorization: Bearer $ACCESS"` (logout,
    /// logout-all).
    async fn post_bearer(&self, path: &str, access: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    /// `POST /password/change/` with the Bearer (and the jar).
    async fn change_password(&self, access: &str, old: &str, new: &str) -> Response {
        self.client
            .post(self.url("/password/change/"))
            .bearer_auth(access)
            .header(USER_AGENT, self.user_agent)
            .json(&json!({"old_password": old, "new_password1": new, "new_password2": new}))
            .send()
            .await
            .unwrap()
    }

    /// The claims of `access` (`GET /whoami/`).
    async fn claims(&self, access: &str) -> Value {
        let response = self.get("/whoami/", access).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

/// The one `Set-Cookie: refresh_token=...` of `response`, raw.
#[track_caller]
fn refresh_set_cookie(response: &Response) -> String {
    let cookies: Vec<&str> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .filter(|value| value.starts_with("refresh_token="))
        .collect();
    assert_eq!(cookies.len(), 1, "one refresh cookie: {cookies:?}");
    cookies[0].to_owned()
}

/// The value of a raw `refresh_token=VALUE; ...` header.
fn cookie_value(raw: &str) -> &str {
    raw.split(';')
        .next()
        .unwrap()
        .strip_prefix("refresh_token=")
        .unwrap()
}

/// The attributes of a raw `Set-Cookie` value, lower-cased names (`"max-age" -> "0"`,
/// `"httponly" -> ""`).
fn cookie_attributes(raw: &str) -> Vec<(String, String)> {
    raw.split(';')
        .skip(1)
        .map(|attribute| {
            let attribute = attribute.trim();
            let (name, value) = attribute.split_once('=').unwrap_or((attribute, ""));
            (name.to_ascii_lowercase(), value.to_owned())
        })
        .collect()
}

fn attribute<'a>(attributes: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}

fn max_age(raw: &str) -> u64 {
    attribute(&cookie_attributes(raw), "max-age")
        .expect("a Max-Age")
        .parse()
        .unwrap()
}

/// The `access` of a token response, after checking that the body holds nothing else.
async fn access_of(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 1, "only the access token: {body}");
    body["access"].as_str().unwrap().to_owned()
}

/// A 401 `{"detail":"Token is invalid or expired","code":"token_not_valid"}`.
#[track_caller]
fn assert_refresh_rejected(status: StatusCode, www_authenticate: Option<&str>, body: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(www_authenticate, Some("Bearer realm=\"api\""));
    assert_eq!(
        body,
        &json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
    );
}

async fn expect_refresh_rejected(response: Response) {
    let status = response.status();
    let www = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|value| value.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    assert_refresh_rejected(status, www.as_deref(), &body);
}

/// `POST /refresh/` with `Cookie: refresh_token=VALUE` on a fresh client.
async fn refresh_with(server: &Server, value: &str) -> Response {
    Client::new()
        .post(server.url("/refresh/"))
        .header(COOKIE, format!("refresh_token={value}"))
        .send()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// 1. The README walk-through
// ---------------------------------------------------------------------------------------

on_both_databases!(
    #[tokio::test]
    readme_walk_through
);

async fn readme_walk_through(db: &TestDb) {
    // $ jwt-allauth user create --email alice@example.com --password '...'
    create_user(db, EMAIL, PASSWORD);
    // $ JWT_ALLAUTH_COOKIE_SECURE=false jwt-allauth serve &
    let server = serve(db, &[]).await;
    let laptop = Curl::new(&server, FIREFOX_LINUX);

    // Log in: the access token in the body, the refresh token as an HTTP-only cookie.
    let login = laptop.login(EMAIL, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let raw = refresh_set_cookie(&login);
    let attributes = cookie_attributes(&raw);
    assert_eq!(attribute(&attributes, "httponly"), Some(""), "{raw}");
    assert_eq!(attribute(&attributes, "samesite"), Some("Lax"), "{raw}");
    assert_eq!(attribute(&attributes, "path"), Some("/"), "{raw}");
    assert_eq!(
        attribute(&attributes, "max-age"),
        Some(REFRESH_LIFETIME.to_string().as_str()),
        "{raw}"
    );
    assert!(attribute(&attributes, "expires").is_some(), "{raw}");
    assert_eq!(
        attribute(&attributes, "secure"),
        None,
        "COOKIE_SECURE=false: {raw}"
    );
    assert_eq!(
        login.headers().get("cache-control").unwrap(),
        "no-store",
        "token responses are not cached"
    );
    let first_cookie = cookie_value(&raw).to_owned();
    assert_eq!(
        laptop.refresh_cookie().as_deref(),
        Some(first_cookie.as_str())
    );
    let access = access_of(login).await;

    // A protected route.
    let me = laptop.get("/user/", &access).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.json::<Value>().await.unwrap(),
        json!({"email": EMAIL, "first_name": "", "last_name": ""})
    );

    // Refresh: a new access token and a new refresh cookie (keep the old one).
    let old_jar = laptop.copy_jar();
    let refreshed = laptop.refresh().await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let second_cookie = cookie_value(&refresh_set_cookie(&refreshed)).to_owned();
    assert_ne!(second_cookie, first_cookie);
    let refreshed_access = access_of(refreshed).await;
    assert_ne!(refreshed_access, access);
    assert_eq!(
        laptop.refresh_cookie().as_deref(),
        Some(second_cookie.as_str())
    );
    assert_eq!(laptop.get("/user/", &refreshed_access).await.status(), 200);

    // Replay the old refresh token: the whole session is revoked...
    expect_refresh_rejected(old_jar.refresh().await).await;
    // ...so the new cookie dies too.
    expect_refresh_rejected(laptop.refresh().await).await;
    assert!(cli_sessions(db, EMAIL).is_empty());

    // Log in again and list the sessions.
    let access = laptop.login_ok(EMAIL, PASSWORD).await;
    let session = laptop.claims(&access).await["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = laptop.get("/sessions/", &access).await;
    assert_eq!(listed.status(), StatusCode::OK);
    let sessions: Value = listed.json().await.unwrap();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let this = &sessions[0];
    let keys: HashSet<&str> = this
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: HashSet<&str> = [
        "session",
        "created",
        "last_used",
        "expires_at",
        "ip",
        "browser",
        "browser_version",
        "os",
        "os_version",
        "device",
        "device_brand",
        "device_model",
        "is_mobile",
        "is_tablet",
        "is_pc",
        "is_bot",
        "current",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected, "{this}");
    assert_eq!(this["session"], session.as_str());
    assert_eq!(this["current"], true);
    assert_eq!(this["browser"], "Firefox");
    assert_eq!(this["browser_version"], "121.0");
    assert_eq!(this["os"], "Linux");
    assert_eq!(this["ip"], "127.0.0.1");
    assert_eq!(this["is_pc"], true);
    assert_eq!(this["is_mobile"], false);
    assert_eq!(this["is_tablet"], false);
    assert_eq!(this["is_bot"], false);
    for key in ["created", "last_used", "expires_at"] {
        let text = this[key].as_str().unwrap();
        assert!(text.ends_with('Z') && text.contains('T'), "{key}: {text}");
    }

    // A second device logs in, most likely within the same second: newest first all the
    // same (ties in `created` go by insertion order), and not the current one.
    let phone = Curl::new(&server, CHROME_ANDROID);
    let phone_access = phone.login_ok(EMAIL, PASSWORD).await;
    let other = phone.claims(&phone_access).await["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions: Value = laptop
        .get("/sessions/", &access)
        .await
        .json()
        .await
        .unwrap();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions[0]["session"], other.as_str());
    assert_eq!(sessions[0]["current"], false);
    assert_eq!(sessions[0]["browser"], "Chrome Mobile");
    assert_eq!(sessions[0]["os"], "Android");
    assert_eq!(sessions[0]["is_mobile"], true);
    assert_eq!(sessions[0]["is_pc"], false);
    assert_eq!(sessions[1]["session"], session.as_str());
    assert_eq!(sessions[1]["current"], true);

    // End the other device's session by id: 204, its cookie is dead, and a second
    // delete is a 404.
    let deleted = laptop.delete_session(&other, &access).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.bytes().await.unwrap().is_empty());
    expect_refresh_rejected(phone.refresh().await).await;
    let again = laptop.delete_session(&other, &access).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(cli_sessions(db, EMAIL), std::slice::from_ref(&session));
    // Another user's session is not the caller's to end: 404, and it survives.
    create_user(db, "bob@example.com", PASSWORD);
    let bob = Curl::new(&server, FIREFOX_LINUX);
    let bob_access = bob.login_ok("bob@example.com", PASSWORD).await;
    let bob_session = bob.claims(&bob_access).await["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign = laptop.delete_session(&bob_session, &access).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(cli_sessions(db, "bob@example.com"), [bob_session]);
    assert_eq!(bob.refresh().await.status(), StatusCode::OK);

    // Log out: the session is deleted and the cookie cleared.
    let before_logout = laptop.copy_jar();
    let logout = laptop.post_bearer("/logout/", &access).await;
    assert_eq!(logout.status(), StatusCode::OK);
    let cleared = refresh_set_cookie(&logout);
    assert_eq!(cookie_value(&cleared), "");
    assert_eq!(max_age(&cleared), 0, "{cleared}");
    assert_eq!(
        logout.json::<Value>().await.unwrap(),
        json!({"detail": "Successfully logged out."})
    );
    // The jar dropped the cookie (curl -c jar would too): nothing to send.
    assert_eq!(laptop.refresh_cookie(), None);
    let nothing = laptop.refresh().await;
    assert_eq!(nothing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        nothing.json::<Value>().await.unwrap(),
        json!({"refresh": ["This field is required."]})
    );
    // The cookie as it was before the logout is dead.
    expect_refresh_rejected(before_logout.refresh().await).await;
    assert!(cli_sessions(db, EMAIL).is_empty());

    // Log out everywhere: two devices, one call.
    let access = laptop.login_ok(EMAIL, PASSWORD).await;
    phone.login_ok(EMAIL, PASSWORD).await;
    assert_eq!(cli_sessions(db, EMAIL).len(), 2);
    let phone_jar = phone.copy_jar();
    let laptop_jar = laptop.copy_jar();
    let all = laptop.post_bearer("/logout-all/", &access).await;
    assert_eq!(all.status(), StatusCode::OK);
    let cleared = refresh_set_cookie(&all);
    assert_eq!(cookie_value(&cleared), "");
    assert_eq!(max_age(&cleared), 0, "{cleared}");
    assert_eq!(
        all.json::<Value>().await.unwrap(),
        json!({"detail": "Successfully logged out from all devices."})
    );
    assert_eq!(laptop.refresh_cookie(), None);
    expect_refresh_rejected(laptop_jar.refresh().await).await;
    expect_refresh_rejected(phone_jar.refresh().await).await;
    expect_refresh_rejected(phone.refresh().await).await;
    assert!(cli_sessions(db, EMAIL).is_empty());
}

// ---------------------------------------------------------------------------------------
// 2. Sixteen clients refreshing the same cookie at once
// ---------------------------------------------------------------------------------------

const CLIENTS: usize = 16;

/// One answer of a concurrent refresh.
struct Outcome {
    status: StatusCode,
    www_authenticate: Option<String>,
    cookie: Option<String>,
    body: Value,
}

/// `CLIENTS` clients, each on its own (already open) connection, send
/// `POST /refresh/` with `Cookie: refresh_token=VALUE` at the same moment.
async fn refresh_all_at_once(server: &Server, value: &str) -> Vec<Outcome> {
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let barrier = barrier.clone();
        let health = server.url("/health/");
        let refresh = server.url("/refresh/");
        let cookie = format!("refresh_token={value}");
        tasks.spawn(async move {
            // A client of its own, with its connection opened before the barrier.
            let client = Client::builder().pool_max_idle_per_host(1).build().unwrap();
            let warm = client.get(&health).send().await.unwrap();
            assert_eq!(warm.status(), StatusCode::OK);
            warm.bytes().await.unwrap();
            barrier.wait().await;
            let response = client
                .post(&refresh)
                .header(COOKIE, cookie)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let www_authenticate = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .map(|value| value.to_str().unwrap().to_owned());
            let cookie = response
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .map(|value| value.to_str().unwrap())
                .find(|value| value.starts_with("refresh_token="))
                .map(|raw| cookie_value(raw).to_owned());
            let body = response.json::<Value>().await.unwrap();
            Outcome {
                status,
                www_authenticate,
                cookie,
                body,
            }
        });
    }
    tasks.join_all().await
}

on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    concurrent_refresh_strict
);

async fn concurrent_refresh_strict(db: &TestDb) {
    create_user(db, EMAIL, PASSWORD);
    let server = serve(db, &[]).await;
    // Another device of the same user, which the replays must leave alone.
    let phone = Curl::new(&server, CHROME_ANDROID);
    let phone_access = phone.login_ok(EMAIL, PASSWORD).await;
    let phone_session = phone.claims(&phone_access).await["session"]
        .as_str()
        .unwrap()
        .to_owned();

    let laptop = Curl::new(&server, FIREFOX_LINUX);
    let access = laptop.login_ok(EMAIL, PASSWORD).await;
    let session = laptop.claims(&access).await["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let original = laptop.refresh_cookie().unwrap();

    let outcomes = refresh_all_at_once(&server, &original).await;
    let winners: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one rotation: {:?}",
        outcomes.iter().map(|o| o.status).collect::<Vec<_>>()
    );
    for loser in outcomes.iter().filter(|o| o.status != 200) {
        assert_refresh_rejected(loser.status, loser.www_authenticate.as_deref(), &loser.body);
        assert_eq!(loser.cookie, None, "no cookie on a failed refresh");
    }
    let successor = winners[0].cookie.clone().expect("the winner's new cookie");
    assert_ne!(successor, original);

    // The replays revoked the session: no second live chain.
    expect_refresh_rejected(refresh_with(&server, &successor).await).await;
    expect_refresh_rejected(refresh_with(&server, &original).await).await;
    assert_eq!(cli_sessions(db, EMAIL), [phone_session]);
    assert!(!cli_sessions(db, EMAIL).contains(&session));
    // The other device still rotates.
    assert_eq!(phone.refresh().await.status(), StatusCode::OK);
}

on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    concurrent_refresh_with_reuse_interval
);

async fn concurrent_refresh_with_reuse_interval(db: &TestDb) {
    create_user(db, EMAIL, PASSWORD);
    let server = serve(db, &[("JWT_ALLAUTH_REUSE_INTERVAL", "10")]).await;
    let laptop = Curl::new(&server, FIREFOX_LINUX);
    laptop.login_ok(EMAIL, PASSWORD).await;
    let original = laptop.refresh_cookie().unwrap();

    let outcomes = refresh_all_at_once(&server, &original).await;
    for outcome in &outcomes {
        assert_eq!(outcome.status, StatusCode::OK, "{}", outcome.body);
        assert!(outcome.body["access"].is_string(), "{}", outcome.body);
    }
    let cookies: HashSet<&str> = outcomes
        .iter()
        .map(|o| o.cookie.as_deref().expect("a cookie on every 200"))
        .collect();
    assert_eq!(
        cookies.len(),
        1,
        "one successor, byte for byte: {cookies:?}"
    );
    let successor = cookies.into_iter().next().unwrap().to_owned();
    assert_ne!(successor, original);
    assert_eq!(cli_sessions(db, EMAIL).len(), 1);

    // The successor rotates once, normally: a new token, and the chain goes on.
    let next = refresh_with(&server, &successor).await;
    assert_eq!(next.status(), StatusCode::OK);
    let third = cookie_value(&refresh_set_cookie(&next)).to_owned();
    assert_ne!(third, successor);
    assert_ne!(third, original);
    // The original is now two steps back: a replay, which ends the session.
    expect_refresh_rejected(refresh_with(&server, &original).await).await;
    expect_refresh_rejected(refresh_with(&server, &third).await).await;
    assert!(cli_sessions(db, EMAIL).is_empty());
}

// ---------------------------------------------------------------------------------------
// 3. Absolute session lifetime
// ---------------------------------------------------------------------------------------

on_both_databases!(
    #[tokio::test]
    absolute_session_lifetime
);

async fn absolute_session_lifetime(db: &TestDb) {
    create_user(db, EMAIL, PASSWORD);
    let server = serve(db, &[("JWT_ALLAUTH_SESSION_LIFETIME", "60")]).await;
    let laptop = Curl::new(&server, FIREFOX_LINUX);

    let login = laptop.login(EMAIL, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let raw = refresh_set_cookie(&login);
    let cookie_max_age = max_age(&raw);
    assert!(
        (1..=60).contains(&cookie_max_age),
        "Max-Age capped at the session deadline: {raw}"
    );
    let access = access_of(login).await;
    let claims = laptop.claims(&access).await;
    let (exp, iat, session_iat) = (
        claims["exp"].as_i64().unwrap(),
        claims["iat"].as_i64().unwrap(),
        claims["session_iat"].as_i64().unwrap(),
    );
    assert!(exp - iat <= 60 && exp > iat, "{claims}");
    assert!(exp <= session_iat + 60, "{claims}");

    // A rotation stays inside the same deadline.
    let refreshed = laptop.refresh().await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let raw = refresh_set_cookie(&refreshed);
    assert!(max_age(&raw) <= 60, "{raw}");
    let access = access_of(refreshed).await;
    let claims = laptop.claims(&access).await;
    assert_eq!(claims["session_iat"].as_i64().unwrap(), session_iat);
    assert!(
        claims["exp"].as_i64().unwrap() <= session_iat + 60,
        "{claims}"
    );
    assert!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 60,
        "{claims}"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Password change
// ---------------------------------------------------------------------------------------

on_both_databases!(
    #[tokio::test]
    password_change_revokes_other_devices
);

async fn password_change_revokes_other_devices(db: &TestDb) {
    const NEW_PASSWORD: &str = "a brand new horse battery staple";
    create_user(db, EMAIL, PASSWORD);
    let server = serve(db, &[]).await;
    let laptop = Curl::new(&server, FIREFOX_LINUX);
    let phone = Curl::new(&server, CHROME_ANDROID);
    let access = laptop.login_ok(EMAIL, PASSWORD).await;
    let old_session = laptop.claims(&access).await["session"]
        .as_str()
        .unwrap()
        .to_owned();
    phone.login_ok(EMAIL, PASSWORD).await;
    let laptop_before = laptop.copy_jar();
    assert_eq!(cli_sessions(db, EMAIL).len(), 2);

    let changed = laptop
        .change_password(&access, PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let new_cookie = cookie_value(&refresh_set_cookie(&changed)).to_owned();
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["detail"], "New password has been saved.");
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    let new_access = body["access"].as_str().unwrap().to_owned();
    let new_session = laptop.claims(&new_access).await["session"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_session, old_session);
    assert_eq!(
        laptop.refresh_cookie().as_deref(),
        Some(new_cookie.as_str())
    );

    // The other device's session is gone, and so is the laptop's previous one.
    expect_refresh_rejected(phone.refresh().await).await;
    expect_refresh_rejected(laptop_before.refresh().await).await;
    assert_eq!(cli_sessions(db, EMAIL), [new_session]);

    // The new cookie works.
    let refreshed = laptop.refresh().await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let access = access_of(refreshed).await;
    assert_eq!(laptop.get("/user/", &access).await.status(), StatusCode::OK);

    // Only the new password logs in.
    let old = phone.login(EMAIL, PASSWORD).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        old.json::<Value>().await.unwrap(),
        json!({"detail": "Incorrect credentials", "code": "incorrect_credentials"})
    );
    phone.login_ok(EMAIL, NEW_PASSWORD).await;
}
