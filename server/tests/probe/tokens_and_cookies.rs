//! Issue 10, findings 8, 9 and 10: cookie settings browsers drop, tokens other verifiers
//! refuse, and tokens the server mints but then refuses.

use std::process::Output;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_allauth_server::db::Database;
use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Map, Value, json};

use crate::common::{Server, TestDb, failure, free_port, success};

#[path = "../attacks/forge.rs"]
#[allow(dead_code)]
mod forge;

const SECRET: &str = "the probe's HS256 secret, well over thirty-two bytes";
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";
const INTERNAL: &str = "Internal server error.";

/// A served binary with a user and a connection to its database.
struct Probe {
    server: Server,
    client: Client,
    database: Database,
    db: TestDb,
}

/// The tokens of one login or rotation.
struct Tokens {
    access: String,
    refresh: String,
}

/// A status and a JSON body (`null` when empty).
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl std::fmt::Debug for Answer {
    /// The status and the start of the body: a failed assertion must not print tokens of
    /// several kilobytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = self.body.to_string();
        let end = body.char_indices().nth(120).map_or(body.len(), |(i, _)| i);
        write!(f, "{} {}", self.status, &body[..end])
    }
}

impl Probe {
    /// `jwt-allauth serve` on SQLite under [`SECRET`] and `env`, with the user [`EMAIL`].
    async fn start(env: &[(&str, &str)]) -> Self {
        let db = TestDb::sqlite();
        let mut all = vec![
            ("JWT_ALLAUTH_SECRET_KEY", SECRET),
            ("JWT_ALLAUTH_LOGIN_FAILURES_PER_IP", "0"),
            ("JWT_ALLAUTH_LOGIN_FAILURES_PER_EMAIL", "0"),
        ];
        all.extend_from_slice(env);
        let server = Server::start_with_env(&db, &[], &all).await;
        success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
        let database = Database::connect(&db.url).await.expect("connect");
        Self {
            server,
            client: Client::new(),
            database,
            db,
        }
    }

    async fn send(&self, request: RequestBuilder) -> Answer {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(self.server.url(path))
    }

    async fn login(&self) -> Answer {
        self.send(
            self.post("/login/")
                .json(&json!({"email": EMAIL, "password": PASSWORD})),
        )
        .await
    }

    async fn whoami(&self, access: &str) -> Answer {
        self.send(
            self.client
                .get(self.server.url("/whoami/"))
                .bearer_auth(access),
        )
        .await
    }

    async fn refresh_cookie(&self, cookie: &str) -> Answer {
        self.send(self.post("/refresh/").header(COOKIE, cookie))
            .await
    }

    fn set_profile(&self, profile: &Value) {
        success(&self.db.run(&[
            "user",
            "set-profile",
            "--email",
            EMAIL,
            "--profile",
            &profile.to_string(),
        ]));
    }

    async fn session_count(&self) -> i64 {
        const QUERY: &str = "SELECT COUNT(*) FROM jwt_allauth_sessions";
        match &self.database {
            Database::Sqlite(pool) => sqlx::query_scalar(QUERY).fetch_one(pool).await,
            Database::Postgres(pool) => sqlx::query_scalar(QUERY).fetch_one(pool).await,
        }
        .expect("count the sessions")
    }
}

impl Answer {
    /// The tokens of a 200 login or rotation: `access` from the body, the refresh token
    /// from the body (body mode) or from the cookie `cookie_name`.
    #[track_caller]
    fn tokens(&self, cookie_name: &str) -> Tokens {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        let access = self.body["access"].as_str().expect("access").to_owned();
        let refresh = match self.body["refresh"].as_str() {
            Some(refresh) => refresh.to_owned(),
            None => self
                .headers
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .find_map(|cookie| {
                    cookie
                        .split(';')
                        .next()
                        .and_then(|pair| pair.strip_prefix(&format!("{cookie_name}=")))
                        .map(str::to_owned)
                })
                .expect("the refresh cookie"),
        };
        Tokens { access, refresh }
    }

    /// The `Set-Cookie` header holding the refresh cookie `cookie_name`.
    fn set_cookie(&self, cookie_name: &str) -> String {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|cookie| cookie.starts_with(&format!("{cookie_name}=")))
            .expect("the refresh cookie")
            .to_owned()
    }
}

/// Runs `jwt-allauth serve` with `env` and waits (at most 30 s) for it to exit; a server
/// still running then is killed and the test fails: the settings were accepted.
fn serve_refused(env: &[(&str, &str)]) -> Output {
    let db = TestDb::sqlite();
    let bind = format!("127.0.0.1:{}", free_port());
    let mut command = db.command(&["serve", "--bind", &bind, "--database-url", &db.url]);
    command
        .env("JWT_ALLAUTH_SECRET_KEY", SECRET)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("spawn jwt-allauth serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "serve started with {env:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// Finding 8: settings that make browsers drop the refresh cookie (and so leave sessions
/// that can neither refresh nor log out) stop the server with a one-line error naming the
/// setting.
#[tokio::test]
async fn finding_8_cookie_settings_browsers_drop_are_refused_at_start() {
    let host = ("JWT_ALLAUTH_COOKIE_NAME", "__Host-refresh_token");
    for (env, setting) in [
        (
            vec![host, ("JWT_ALLAUTH_COOKIE_SECURE", "false")],
            "COOKIE_SECURE",
        ),
        (
            vec![host, ("JWT_ALLAUTH_COOKIE_DOMAIN", "example.com")],
            "COOKIE_DOMAIN",
        ),
        (
            vec![host, ("JWT_ALLAUTH_COOKIE_PATH", "/api/")],
            "COOKIE_PATH",
        ),
        (
            vec![
                ("JWT_ALLAUTH_COOKIE_NAME", "__Secure-rt"),
                ("JWT_ALLAUTH_COOKIE_SECURE", "false"),
            ],
            "COOKIE_SECURE",
        ),
        (
            vec![
                ("JWT_ALLAUTH_COOKIE_SAMESITE", "none"),
                ("JWT_ALLAUTH_COOKIE_SECURE", "false"),
            ],
            "COOKIE_SAMESITE",
        ),
    ] {
        let line = failure(
            &serve_refused(&env),
            &format!("invalid value for {setting}: "),
        );
        assert!(!line.contains(SECRET), "{line}");
    }
}

/// Finding 8: with the recommended `__Host-refresh_token`, the cookie is written with the
/// attributes browsers require of the prefix, and a `refresh_token` cookie planted ahead of
/// it (by a sibling subdomain, say) is not read.
#[tokio::test]
async fn finding_8_a_host_prefixed_cookie_works_and_ignores_a_planted_cookie() {
    let name = "__Host-refresh_token";
    let probe = Probe::start(&[("JWT_ALLAUTH_COOKIE_NAME", name)]).await;
    let victim = probe.login().await;
    let set_cookie = victim.set_cookie(name);
    for attribute in ["HttpOnly", "Secure", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let victim = victim.tokens(name);
    // The attacker's own session, whose token a sibling site plants as `refresh_token`.
    let attacker = probe.login().await.tokens(name);
    let answer = probe
        .refresh_cookie(&format!(
            "refresh_token={}; {name}={}",
            attacker.refresh, victim.refresh
        ))
        .await;
    let rotated = answer.tokens(name);
    let claims = forge::claims(&rotated.refresh);
    assert_eq!(
        claims["session"],
        forge::claims(&victim.refresh)["session"],
        "the victim's own session rotated"
    );
}

/// Finding 9: tokens whose header names an extension (`crit`, `b64`) or whose `nbf` is in
/// the future or not an integer are refused at `/whoami/` and `/refresh/`, as other
/// verifiers refuse them; the session is untouched.
#[tokio::test]
async fn finding_9_crit_b64_and_nbf_are_checked_over_http() {
    let probe = Probe::start(&[]).await;
    let tokens = probe.login().await.tokens("refresh_token");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let key = SECRET.as_bytes();
    let signed = |token: &str, header: Value, change: &dyn Fn(&mut Map<String, Value>)| {
        let mut claims = forge::claims(token);
        change(&mut claims);
        forge::sign(forge::Hs::S256, &header, &Value::Object(claims), key)
    };
    let plain = json!({"alg": "HS256", "typ": "JWT"});
    let unchanged = |_: &mut Map<String, Value>| {};

    // Controls: re-signed as they are, or with a past `nbf`, they are accepted.
    let same = signed(&tokens.access, plain.clone(), &unchanged);
    assert_eq!(probe.whoami(&same).await.status, StatusCode::OK);
    let past = signed(&tokens.access, plain.clone(), &|c| {
        c.insert("nbf".into(), json!(now - 60));
    });
    assert_eq!(probe.whoami(&past).await.status, StatusCode::OK);

    let headers = [
        json!({"alg": "HS256", "typ": "JWT", "crit": ["exp"]}),
        json!({"alg": "HS256", "typ": "JWT", "crit": []}),
        json!({"alg": "HS256", "b64": false, "crit": ["b64"]}),
        json!({"alg": "HS256", "b64": false}),
    ];
    let nbfs = [json!(now + 3600), json!(now as f64 - 0.5), json!("0")];
    let mut variants: Vec<(String, &str)> = Vec::new();
    for header in &headers {
        variants.push((signed(&tokens.access, header.clone(), &unchanged), "access"));
        variants.push((
            signed(&tokens.refresh, header.clone(), &unchanged),
            "refresh",
        ));
    }
    for nbf in &nbfs {
        let with_nbf = |c: &mut Map<String, Value>| {
            c.insert("nbf".into(), nbf.clone());
        };
        variants.push((signed(&tokens.access, plain.clone(), &with_nbf), "access"));
        variants.push((signed(&tokens.refresh, plain.clone(), &with_nbf), "refresh"));
    }
    for (token, kind) in &variants {
        let (header, payload) = (forge::decode_json(token, 0), forge::claims(token));
        let answer = if *kind == "access" {
            probe.whoami(token).await
        } else {
            probe
                .refresh_cookie(&format!("refresh_token={token}"))
                .await
        };
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{kind} with {header:?}, nbf {:?}: {answer:?}",
            payload.get("nbf")
        );
        assert_eq!(answer.body["code"], "token_not_valid", "{answer:?}");
        let detail = if *kind == "access" {
            &answer.body["messages"][0]["message"]
        } else {
            &answer.body["detail"]
        };
        assert_eq!(detail, "Token is invalid", "{kind}: {answer:?}");
    }
    // Nothing was rotated or revoked: the session is listed, and its genuine refresh
    // token still rotates.
    let session = forge::claims(&tokens.refresh)["session"].clone();
    let listed = success(&probe.db.run(&["sessions", "list", "--email", EMAIL]));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.starts_with(session.as_str().unwrap()), "{listed}");
    probe
        .refresh_cookie(&format!("refresh_token={}", tokens.refresh))
        .await
        .tokens("refresh_token");
}

/// Length of `n` bytes in unpadded base64.
fn b64_len(n: usize) -> usize {
    (4 * n).div_ceil(3)
}

/// The length of `token` for a payload `extra` bytes longer (the user attribute grown by
/// that many ASCII characters).
fn grown_len(token: &str, extra: usize) -> usize {
    let payload = token.split('.').nth(1).expect("a payload");
    let decoded = URL_SAFE_NO_PAD.decode(payload).expect("base64url").len();
    token.len() - payload.len() + b64_len(decoded + extra)
}

/// The longest `bio` (in ASCII characters) whose tokens stay within both limits, measured
/// from a login whose `bio` is empty.
fn longest_bio(tokens: &Tokens, refresh_limit: usize, access_limit: usize) -> usize {
    let mut n = 0;
    while grown_len(&tokens.refresh, n + 1) <= refresh_limit
        && grown_len(&tokens.access, n + 1) <= access_limit
    {
        n += 1;
    }
    n
}

/// Headers a browser sends besides the credentials, with a few cookies of other
/// applications on the same site: about 1.5 KiB.
fn browser_headers(request: RequestBuilder, origin: &str) -> RequestBuilder {
    request
        .header(
            "user-agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
        )
        .header("accept", "application/json, text/plain, */*")
        .header(
            "accept-language",
            "en-GB,en;q=0.9,fr-FR;q=0.8,fr;q=0.7,de;q=0.6",
        )
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .header("origin", origin)
        .header("referer", format!("{origin}/account/settings/security"))
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "cors")
        .header("sec-fetch-dest", "empty")
        .header(
            "sec-ch-ua",
            "\"Microsoft Edge\";v=\"131\", \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"",
        )
        .header("sec-ch-ua-mobile", "?0")
        .header("sec-ch-ua-platform", "\"Windows\"")
        .header("x-request-id", "9f6c0b1e-3a2d-4c6b-8e1f-2b7d5a9c4e10")
}

/// Finding 10: a user attribute that makes the tokens too long is refused at login with
/// 500 and the contract's generic detail, no session row is left behind, and the log
/// names the attribute but never its value; in cookie and in body mode.
#[tokio::test]
async fn finding_10_login_refuses_a_token_over_the_limit_and_names_the_attribute() {
    for body_mode in [false, true] {
        let mode = if body_mode { "false" } else { "true" };
        let probe = Probe::start(&[
            ("JWT_ALLAUTH_USER_ATTRIBUTES", r#"{"bio": "profile.bio"}"#),
            ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", mode),
        ])
        .await;
        let value = "Lorem ipsum ".repeat(750);
        probe.set_profile(&json!({"bio": value}));
        let answer = probe.login().await;
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "body mode {body_mode}: {answer:?}"
        );
        assert_eq!(answer.body, json!({"detail": INTERNAL}));
        assert!(answer.headers.get(SET_COOKIE).is_none(), "{answer:?}");
        assert_eq!(probe.session_count().await, 0, "no half-written session");
        let log = probe.server.log_text();
        let line = log
            .lines()
            .find(|line| line.contains("over its limit"))
            .unwrap_or_else(|| panic!("no log line about the token size: {log}"));
        assert!(line.contains("`bio`"), "{line}");
        assert!(!log.contains("Lorem ipsum"), "the value leaked: {line}");
        // A shorter value logs in.
        probe.set_profile(&json!({"bio": "Lorem ipsum"}));
        assert_eq!(probe.login().await.status, StatusCode::OK);
        assert_eq!(probe.session_count().await, 1);
    }
}

/// Finding 10: the longest tokens the server mints verify at `/whoami/`, rotate at
/// `/refresh/` and end their session at `/logout/`, sent as a browser would (the access
/// token as Bearer, the refresh token in the cookie or the body, ordinary headers); one
/// byte longer and login is refused. Cookie mode: the refresh cookie fits a browser's
/// 4096 bytes with its name. Body mode: the tokens are up to the verification limit.
#[tokio::test]
async fn finding_10_the_longest_tokens_the_server_mints_work_on_every_route() {
    for body_mode in [false, true] {
        let cookie_name = "refresh_token";
        let (refresh_limit, access_limit) = if body_mode {
            (8 * 1024, 8 * 1024)
        } else {
            (4096 - cookie_name.len(), 8 * 1024)
        };
        let probe = Probe::start(&[
            ("JWT_ALLAUTH_USER_ATTRIBUTES", r#"{"bio": "profile.bio"}"#),
            (
                "JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE",
                if body_mode { "false" } else { "true" },
            ),
        ])
        .await;
        probe.set_profile(&json!({"bio": ""}));
        let short = probe.login().await.tokens(cookie_name);
        let n = longest_bio(&short, refresh_limit, access_limit);
        let sessions = probe.session_count().await;

        probe.set_profile(&json!({"bio": "x".repeat(n + 1)}));
        let answer = probe.login().await;
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "body mode {body_mode}, bio of {}: {answer:?}",
            n + 1
        );
        assert_eq!(probe.session_count().await, sessions);

        probe.set_profile(&json!({"bio": "x".repeat(n)}));
        let tokens = probe.login().await.tokens(cookie_name);
        assert_eq!(tokens.refresh.len(), grown_len(&short.refresh, n));
        // One more byte of payload adds one or two characters of base64.
        assert!(
            tokens.refresh.len() >= refresh_limit - 1 || tokens.access.len() >= access_limit - 1,
            "body mode {body_mode}: a token at its limit ({} and {} bytes)",
            tokens.refresh.len(),
            tokens.access.len()
        );
        assert_eq!(
            probe.whoami(&tokens.access).await.status,
            StatusCode::OK,
            "body mode {body_mode}"
        );
        let origin = probe.server.base.clone();
        let rotation = if body_mode {
            probe
                .post("/refresh/")
                .json(&json!({"refresh": tokens.refresh}))
        } else {
            probe
                .post("/refresh/")
                .header(COOKIE, format!("{cookie_name}={}", tokens.refresh))
        };
        let answer = probe.send(browser_headers(rotation, &origin)).await;
        let tokens = answer.tokens(cookie_name);

        let logout = probe
            .post("/logout/")
            .header(AUTHORIZATION, format!("Bearer {}", tokens.access));
        let logout = if body_mode {
            logout.json(&json!({"refresh": tokens.refresh}))
        } else {
            logout.header(
                COOKIE,
                format!(
                    "_ga=GA1.1.123456789.1700000000; theme=dark; \
                     csrftoken=Yx3bK9wQ2mN7pR4sT6vU8zA1cD5eF0gH; {cookie_name}={}; \
                     consent=%7B%22analytics%22%3Atrue%2C%22ads%22%3Afalse%7D",
                    tokens.refresh
                ),
            )
        };
        let answer = probe.send(browser_headers(logout, &origin)).await;
        assert_eq!(
            (answer.status, &answer.body),
            (
                StatusCode::OK,
                &json!({"detail": "Successfully logged out."})
            ),
            "body mode {body_mode}"
        );
        assert_eq!(probe.session_count().await, sessions);
    }
}
