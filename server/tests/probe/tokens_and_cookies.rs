//! Issue 10, findings 8 and 9: cookie settings browsers drop, and tokens other verifiers
//! refuse.

use std::process::Output;
use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Map, Value, json};

use crate::common::{Server, TestDb, failure, free_port, success};

#[path = "../attacks/forge.rs"]
#[allow(dead_code)]
mod forge;

const SECRET: &str = "the probe's HS256 secret, well over thirty-two bytes";
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// A served binary with a user.
struct Probe {
    server: Server,
    client: Client,
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
        Self {
            server,
            client: Client::new(),
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
