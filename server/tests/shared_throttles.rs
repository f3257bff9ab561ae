//! The login throttle and the account rate limits count across instances on PostgreSQL
//! (events.md, "Several instances"): three real server processes on one database, and
//! the limits hold for the three together, whichever instance a request reaches.
//!
//! All test traffic comes from 127.0.0.1, one client for the per-client limits: each
//! test sets the limit it does not look at high (or off).

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;
mod revocation_support;

use common::{Server, TestDb, success};
use reqwest::{Client, StatusCode};
use revocation_support::{EMAIL, PASSWORD, serve};
use serde_json::{Value, json};

/// `LOGIN_FAILURES_PER_EMAIL` in these tests.
const PER_EMAIL: usize = 5;

/// Three instances on `db` with `env`.
async fn three_instances(db: &TestDb, env: &[(&str, &str)]) -> Vec<Server> {
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(serve(db, env).await);
    }
    servers
}

/// `POST /login/` of `email` with `password` on `server`: the status and body.
async fn login_as(client: &Client, server: &Server, email: &str, password: &str) -> Response {
    let response = client
        .post(server.url("/login/"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    Response::read(response).await
}

/// What the tests look at in an answer.
#[derive(Debug)]
struct Response {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

impl Response {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap().parse().unwrap());
        let body = response.json().await.unwrap_or(Value::Null);
        Self {
            status,
            retry_after,
            body,
        }
    }

    /// Asserts the login throttle's 429.
    fn assert_login_throttled(&self, what: &str) {
        assert_eq!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{what}: {self:?}"
        );
        assert_eq!(
            self.body,
            json!({"detail": "Too many failed login attempts. Try again later.", "code": "throttled"}),
            "{what}"
        );
        let wait = self.retry_after.unwrap();
        assert!((1..=300).contains(&wait), "{what}: Retry-After {wait}");
    }
}

/// `LOGIN_FAILURES_PER_EMAIL` wrong passwords spread round-robin over three instances
/// use up the address's limit: the next attempt is refused 429 on every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_spread_over_three_instances_hit_the_per_email_limit() {
    let Some(db) = TestDb::postgres("failed_logins_spread_over_three_instances").await else {
        return;
    };
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let per_email = PER_EMAIL.to_string();
    let env = [
        ("JWT_ALLAUTH_LOGIN_FAILURES_PER_EMAIL", per_email.as_str()),
        ("JWT_ALLAUTH_LOGIN_FAILURES_PER_IP", "1000"),
    ];
    let servers = three_instances(&db, &env).await;
    let client = Client::new();
    for attempt in 0..PER_EMAIL {
        let server = &servers[attempt % servers.len()];
        let answer = login_as(&client, server, EMAIL, "wrong password").await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {answer:?}"
        );
    }
    for (n, server) in servers.iter().enumerate() {
        login_as(&client, server, EMAIL, "wrong password")
            .await
            .assert_login_throttled(&format!("instance {n}"));
        // The same client's right password too: it has failures of its own.
        login_as(&client, server, EMAIL, PASSWORD)
            .await
            .assert_login_throttled(&format!("instance {n}, right password"));
    }
}

/// Many wrong guesses at once against three instances: no more than the limit are
/// verified (401), every other one is refused (429), nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_on_three_instances_never_exceed_the_limit() {
    const GUESSES: usize = 30;
    let Some(db) = TestDb::postgres("concurrent_guesses_on_three_instances").await else {
        return;
    };
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let per_email = PER_EMAIL.to_string();
    let env = [
        ("JWT_ALLAUTH_LOGIN_FAILURES_PER_EMAIL", per_email.as_str()),
        ("JWT_ALLAUTH_LOGIN_FAILURES_PER_IP", "1000"),
    ];
    let servers = three_instances(&db, &env).await;
    let client = Client::new();
    let guesses = (0..GUESSES).map(|n| {
        let server = &servers[n % servers.len()];
        let client = &client;
        async move { login_as(client, server, EMAIL, &format!("guess {n}")).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let verified = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (verified, refused),
        (PER_EMAIL, GUESSES - PER_EMAIL),
        "{answers:?}"
    );
}

/// `LOGIN_FAILURES_PER_IP` counts one client's attempts on all instances together,
/// whatever addresses it tries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_client_limit_counts_across_instances() {
    const PER_IP: usize = 4;
    let Some(db) = TestDb::postgres("the_per_client_limit_counts_across_instances").await else {
        return;
    };
    let per_ip = PER_IP.to_string();
    let env = [
        ("JWT_ALLAUTH_LOGIN_FAILURES_PER_IP", per_ip.as_str()),
        ("JWT_ALLAUTH_LOGIN_FAILURES_PER_EMAIL", "0"),
    ];
    let servers = three_instances(&db, &env).await;
    let client = Client::new();
    for attempt in 0..PER_IP {
        let server = &servers[attempt % servers.len()];
        let email = format!("nobody{attempt}@example.com");
        let answer = login_as(&client, server, &email, "wrong password").await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {answer:?}"
        );
    }
    for (n, server) in servers.iter().enumerate() {
        login_as(&client, server, &format!("fresh{n}@example.com"), "x")
            .await
            .assert_login_throttled(&format!("instance {n}"));
    }
}

/// `RESET_REQUESTS_PER_ADDRESS` counts one address's reset requests on all instances
/// together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_request_limits_count_across_instances() {
    const PER_ADDRESS: usize = 3;
    let Some(db) = TestDb::postgres("reset_request_limits_count_across_instances").await else {
        return;
    };
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let limit = format!("{PER_ADDRESS}/1m");
    let env = [
        ("JWT_ALLAUTH_RESET_REQUESTS_PER_ADDRESS", limit.as_str()),
        ("JWT_ALLAUTH_RESET_REQUESTS_PER_IP", "1000/1m"),
    ];
    let servers = three_instances(&db, &env).await;
    let client = Client::new();
    let reset = |server: &Server| {
        client
            .post(server.url("/password/reset/"))
            .json(&json!({"email": EMAIL}))
            .send()
    };
    for request in 0..PER_ADDRESS {
        let answer = Response::read(reset(&servers[request % servers.len()]).await.unwrap()).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {request}: {answer:?}"
        );
    }
    for (n, server) in servers.iter().enumerate() {
        let answer = Response::read(reset(server).await.unwrap()).await;
        assert_eq!(
            answer.status,
            StatusCode::TOO_MANY_REQUESTS,
            "instance {n}: {answer:?}"
        );
        assert_eq!(
            answer.body,
            json!({
                "detail": "Too many password reset requests for this e-mail address.",
                "code": "throttled"
            })
        );
        assert!(
            answer
                .retry_after
                .is_some_and(|wait| (1..=60).contains(&wait))
        );
    }
}

/// When the shared counters cannot be written, a login is refused 503 before its
/// password is checked (even the right one): no guess is ever verified uncounted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_failure_refuses_the_login_with_503() {
    let Some(db) = TestDb::postgres("a_throttle_failure_refuses_the_login").await else {
        return;
    };
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let server = serve(&db, &[]).await;
    let client = Client::new();
    assert_eq!(
        login_as(&client, &server, EMAIL, PASSWORD).await.status,
        StatusCode::OK
    );
    let database = db.connect().await;
    let jwt_allauth_server::db::Database::Postgres(pool) = &database else {
        panic!("a PostgreSQL test database");
    };
    sqlx::query("ALTER TABLE jwt_allauth_attempts RENAME TO jwt_allauth_attempts_gone")
        .execute(pool)
        .await
        .unwrap();
    let answer = login_as(&client, &server, EMAIL, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    assert_eq!(answer.body["code"], "service_unavailable");
    assert!(!answer.body.to_string().contains(EMAIL));
    sqlx::query("ALTER TABLE jwt_allauth_attempts_gone RENAME TO jwt_allauth_attempts")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        login_as(&client, &server, EMAIL, PASSWORD).await.status,
        StatusCode::OK
    );
}
