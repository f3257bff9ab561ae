//! The cost of the account flows for a taken and a free address (issue 12): what a
//! sign-up and a reset request cost the server, answer and background work together,
//! so that BENCHMARKS.md can show both are the same. Only for benchmarks.
//!
//! It builds the server's application in process on a fresh SQLite file (the real
//! `AppState`, argon2id included; mail queued in the outbox, never sent), the rate limits
//! off, then alternates the cases for `ROUNDS` rounds of `REQUESTS` requests each:
//!
//! - `sign-up, free`: `POST /registration/` with a new address each time;
//! - `sign-up, taken`: the same with the address of a verified account;
//! - `reset, free`: `POST /password/reset/` for an address with no account;
//! - `reset, taken`: the same for an existing account.
//!
//! For each it prints the median answer time and the process CPU time per request once
//! the background work settled (`/proc/self/stat`, 10 ms ticks, over the whole case).
//!
//! ```text
//! cargo run --release -p jwt-allauth-server --example accounts_cost
//! ```

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use jwt_allauth_server::config::Config;
use jwt_allauth_server::db::Database;
use jwt_allauth_server::passwords::Passwords;
use jwt_allauth_server::users::NewUser;
use jwt_allauth_server::{AppState, app};
use serde_json::json;
use time::OffsetDateTime;
use tower::ServiceExt;

/// Builds the `n`-th request of a case.
type MakeRequest<'a> = Box<dyn Fn(usize) -> Request<Body> + 'a>;

const ROUNDS: usize = 3;
const REQUESTS: usize = 40;
const TAKEN: &str = "taken@example.com";

/// The process's CPU time so far (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which ends with the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn post(path: &str, body: serde_json::Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

/// Waits until the outbox stops growing (the background work is done).
async fn settle(state: &AppState) {
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = state.outbox.queued().await.map_or(0, |q| q.len());
        if now == last {
            return;
        }
        last = now;
    }
}

/// Runs one case: the median answer time and the CPU time per request.
async fn case(
    state: &AppState,
    router: &Router,
    make: impl Fn(usize) -> Request<Body>,
    offset: usize,
) -> (Duration, Duration) {
    settle(state).await;
    let before = cpu_time();
    let mut answers = Vec::with_capacity(REQUESTS);
    for n in 0..REQUESTS {
        let started = Instant::now();
        let response = router.clone().oneshot(make(offset + n)).await;
        answers.push(started.elapsed());
        assert!(
            response.is_ok_and(|r| r.status().is_success()),
            "a failed request"
        );
    }
    settle(state).await;
    // The settling itself sleeps: its CPU time is negligible.
    let cpu = cpu_time().saturating_sub(before) / REQUESTS as u32;
    answers.sort();
    (answers[REQUESTS / 2], cpu)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("cost.sqlite3").display());
    let db = Database::connect(&url).await.expect("the database");
    db.migrate().await.expect("migrations");
    let mut config = Config::default();
    config.tokens.secret_key = Some(jwt_allauth::Secret::new(
        "the cost benchmark's secret, 32 bytes or more",
    ));
    config.http.collect_user_agent = false;
    config.accounts.public_url = Some("https://auth.example.com".to_owned());
    config.accounts.signups_per_ip = None;
    config.accounts.mails_per_address = None;
    config.accounts.reset_requests_per_address = None;
    config.accounts.reset_requests_per_ip = None;
    let state = AppState::new(config, db, Passwords::new()).expect("the state");
    let mut owner = NewUser::new(TAKEN, "the owner's password 42");
    owner.email_verified = true;
    state
        .users
        .create(&owner, OffsetDateTime::now_utc())
        .await
        .expect("the taken account");
    let router = app(state.clone()).await;

    let sign_up = |email: String| {
        post(
            "/registration/",
            json!({"email": email, "password1": "plum-kettle orbit 42",
                   "password2": "plum-kettle orbit 42"}),
        )
    };
    println!("| round | case | median answer | CPU per request |");
    println!("|---:|---|---:|---:|");
    for round in 0..ROUNDS {
        let offset = round * REQUESTS;
        let cases: [(&str, MakeRequest<'_>); 4] = [
            (
                "sign-up, free",
                Box::new(|n| sign_up(format!("new{n}@example.com"))),
            ),
            ("sign-up, taken", Box::new(|_| sign_up(TAKEN.to_owned()))),
            (
                "reset, free",
                Box::new(|n| {
                    post(
                        "/password/reset/",
                        json!({"email": format!("none{n}@example.com")}),
                    )
                }),
            ),
            (
                "reset, taken",
                Box::new(|_| post("/password/reset/", json!({"email": TAKEN}))),
            ),
        ];
        for (name, make) in &cases {
            let (answer, cpu) = case(&state, &router, make, offset).await;
            println!(
                "| {} | {name} | {:.2} ms | {:.1} ms |",
                round + 1,
                answer.as_secs_f64() * 1e3,
                cpu.as_secs_f64() * 1e3
            );
        }
    }
}
