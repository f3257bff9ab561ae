//! Race stress on PostgreSQL: the real `jwt-allauth serve` on a fresh database, driven
//! over HTTP by 64 concurrent clients of 8 users that refresh their own sessions and
//! shared ones (the same token presented by several clients at once), replay old
//! tokens, log out, log out everywhere, change passwords, delete sessions through
//! `/sessions/`, while administrators end sessions through the library on the same
//! database and with `jwt-allauth sessions revoke` / `revoke-all`.
//!
//! Every request is recorded with its start and end on one monotonic clock. Afterwards
//! the newest token of every ended session is presented once more, the sessions table
//! and every user's `GET /sessions/` are read, and the history is checked (see
//! `stress/checker.rs`):
//!
//! 1. no session ever had two accepted successors (strict mode: at most one 200 per
//!    presented token; with a reuse interval: byte-identical successors), and a token
//!    whose successor was already rotated is refused;
//! 2. no revoked session accepts a token: no refresh that started after a revocation of
//!    its session had ended (logout, logout-all, password change, `DELETE
//!    /sessions/{id}/`, an administrator, replay detection) got a 200;
//! 3. every logout reported as done holds: an ended session never appears again in the
//!    table or in `GET /sessions/`, and its newest token is refused at the end;
//! 4. no 5xx, and no answer the contract does not document;
//! 5. the table matches the history: no unknown session, none missing that nothing could
//!    have ended, each live session's `jti` the newest of its chain, and every user's
//!    final listing equal to the table.
//!
//! Only happens-before seen by the clients is used ("A ended before B started"), so the
//! checks never depend on timing luck. Two runs: strict rotation with the refresh token
//! in the body, and a 10 s reuse interval with the refresh token in the cookie.
//!
//! The size comes from the environment: `JWT_ALLAUTH_STRESS_OPS` operations per run
//! (default 3000, a few seconds each), `JWT_ALLAUTH_STRESS_CLIENTS` (64),
//! `JWT_ALLAUTH_STRESS_USERS` (8), `JWT_ALLAUTH_STRESS_CLI` (command-line revocations,
//! default one per 1000 operations, at least 4) and `JWT_ALLAUTH_STRESS_SEED` (random
//! by default; printed, so a run's operation mix can be drawn again; the interleaving is
//! up to the scheduler). `--nocapture` shows the seed and a summary of each run. The
//! long run:
//!
//! ```text
//! JWT_ALLAUTH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! JWT_ALLAUTH_STRESS_OPS=1000000 \
//!     cargo test --release -p jwt-allauth-server --test stress -- --nocapture
//! ```
//!
//! Logins dominate its time (every ended session costs an argon2 verification): on two
//! busy cores 100 000 operations took about 15 minutes per run, so a million take a few
//! hours.
//!
//! Without `JWT_ALLAUTH_TEST_POSTGRES_URL` the runs are skipped with a notice (a failure
//! with `JWT_ALLAUTH_REQUIRE_POSTGRES=1`).

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

#[path = "stress/admin.rs"]
mod admin;
#[path = "stress/api.rs"]
mod api;
#[path = "stress/checker.rs"]
mod checker;
#[path = "stress/history.rs"]
mod history;
#[path = "stress/summary.rs"]
mod summary;
#[path = "stress/workload.rs"]
mod workload;

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use jwt_allauth_server::passwords::Passwords;
use jwt_allauth_server::users::{NewUser, Users};
use rand::RngCore;
use time::OffsetDateTime;

use admin::Admin;
use api::{Api, TokenVault, Transport};
use checker::{Invariant, Mode};
use common::{Server, TestDb};
use history::{Call, HARNESS, History, Record, Reply, SessionId, TokenRef, UserIx};
use workload::{UserState, WorkloadConfig, World};

/// Operations per run.
const OPS_VAR: &str = "JWT_ALLAUTH_STRESS_OPS";
/// Concurrent clients.
const CLIENTS_VAR: &str = "JWT_ALLAUTH_STRESS_CLIENTS";
/// Users.
const USERS_VAR: &str = "JWT_ALLAUTH_STRESS_USERS";
/// Administrator actions through the binary.
const CLI_VAR: &str = "JWT_ALLAUTH_STRESS_CLI";
/// The seed of the operation mix.
const SEED_VAR: &str = "JWT_ALLAUTH_STRESS_SEED";

/// Ended sessions probed at once after the workload.
const PROBE_CONCURRENCY: usize = 32;
/// Violations printed in a failure message.
const VIOLATIONS_SHOWN: usize = 25;

/// One configuration of the server to stress.
struct Scenario {
    name: &'static str,
    mode: Mode,
    transport: Transport,
    env: &'static [(&'static str, &'static str)],
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_rotation_keeps_every_invariant() {
    run(Scenario {
        name: "strict",
        mode: Mode::Strict,
        transport: Transport::Body,
        env: &[("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false")],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_interval_keeps_every_invariant() {
    run(Scenario {
        name: "reuse-interval",
        mode: Mode::ReuseInterval,
        transport: Transport::Cookie,
        env: &[("JWT_ALLAUTH_REUSE_INTERVAL", "10")],
    })
    .await;
}

/// A positive number from `var`, or `default`.
fn env_number(var: &str, default: u64) -> u64 {
    match std::env::var(var) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var} must be a number, got {text:?}")),
        Err(_) => default,
    }
}

async fn run(scenario: Scenario) {
    let test = format!("stress::{}", scenario.name);
    let Some(db) = TestDb::postgres(&test).await else {
        return;
    };
    let ops = env_number(OPS_VAR, 3000);
    let clients = u32::try_from(env_number(CLIENTS_VAR, 64)).unwrap().max(1);
    let user_count = u32::try_from(env_number(USERS_VAR, 8)).unwrap().max(1);
    let cli_revocations = u32::try_from(env_number(CLI_VAR, (ops / 1000).max(4))).unwrap();
    let seed = env_number(SEED_VAR, rand::rngs::OsRng.next_u64());
    eprintln!(
        "stress {}: {ops} operations, {clients} clients, {user_count} users, \
         {cli_revocations} command-line revocations; seed {seed} ({SEED_VAR}={seed} to draw \
         the same operations)",
        scenario.name
    );

    let users = create_users(&db, user_count).await;
    let server = Server::start_with_env(&db, &[], scenario.env).await;
    let history = Arc::new(History::new());
    let vault = Arc::new(TokenVault::default());
    let api = Api::new(
        &server.base,
        scenario.transport,
        history.clone(),
        vault.clone(),
    );
    let ids = users.iter().map(|(_, id)| id.clone()).collect();
    let admin = Admin::new(&db, ids, history.clone()).await;
    let config = WorkloadConfig {
        clients,
        ops,
        cli_revocations,
        seed,
        mode: scenario.mode,
    };
    let states = users
        .into_iter()
        .enumerate()
        .map(|(index, (user, _))| {
            UserState::new(UserIx::try_from(index).unwrap(), user.email, user.password)
        })
        .collect();
    let world = World::new(states, api, admin, config);

    let started = history.now();
    world.run().await;
    let workload_time = history.now() - started;
    final_observations(&world, &vault).await;
    let total_time = history.now() - started;
    world.admin().close().await;
    drop(world);
    drop(server);

    let records = Arc::into_inner(history)
        .expect("every client is done")
        .into_records();
    eprintln!(
        "{}",
        summary::summarize(scenario.name, &records, workload_time, total_time)
    );
    let violations = checker::check(&records, scenario.mode);
    let shown: Vec<String> = violations
        .iter()
        .take(VIOLATIONS_SHOWN)
        .map(ToString::to_string)
        .collect();
    assert!(
        violations.is_empty(),
        "stress {} (seed {seed}): {} violations, the first ones:\n{}",
        scenario.name,
        violations.len(),
        shown.join("\n")
    );
    assert_checker_catches_a_forged_successor(&records, scenario.mode);
}

/// The checker is not blind on this very history: a second, different successor
/// forged for an accepted refresh is reported.
fn assert_checker_catches_a_forged_successor(records: &[Record], mode: Mode) {
    let accepted = records.iter().find(|record| {
        matches!(
            (&record.call, &record.reply),
            (Call::Refresh { .. }, Reply::Issued(_))
        )
    });
    let Some(accepted) = accepted else {
        panic!("no refresh was accepted in the whole run");
    };
    let mut forged = accepted.clone();
    if let Reply::Issued(issued) = &mut forged.reply {
        issued.token.jti = !issued.token.jti;
        issued.digest[0] ^= 1;
    }
    let mut tampered = records.to_vec();
    tampered.push(forged);
    let violations = checker::check(&tampered, mode);
    assert!(
        violations
            .iter()
            .any(|violation| violation.invariant == Invariant::OneSuccessor),
        "a forged second successor went unnoticed: {violations:?}"
    );
}

/// Creates `count` users in-process, each with its own password: their login and
/// password, and their `user_id` claim.
async fn create_users(db: &TestDb, count: u32) -> Vec<(NewUser, String)> {
    let database = db.connect().await;
    let users = Users::new(database.clone(), Passwords::with_permits(2));
    let creations = (0..count).map(|index| {
        let users = users.clone();
        async move {
            let new = NewUser::new(
                format!("stress{index}@example.com"),
                format!("stress password {index}"),
            );
            let user = users.create(&new, OffsetDateTime::now_utc()).await.unwrap();
            (new, user.id.to_string())
        }
    });
    let created = futures::future::join_all(creations).await;
    database.close().await;
    created
}

/// After the workload: presents the newest known token of every session no longer in
/// the table, then takes the final snapshot and every user's final listing.
async fn final_observations(world: &World, vault: &TokenVault) {
    let admin = world.admin();
    let api = world.api();
    let Reply::Listed(rows) = admin.snapshot(HARNESS, false).await else {
        return;
    };
    let stored: HashSet<SessionId> = rows.iter().map(|row| row.session).collect();
    let probes: Vec<(String, TokenRef)> = vault
        .tokens()
        .into_iter()
        .filter(|(session, _)| !stored.contains(session))
        .filter_map(|(session, mut tokens)| {
            let (jti, refresh) = tokens.pop()?;
            Some((refresh, TokenRef { session, jti }))
        })
        .collect();
    futures::stream::iter(probes)
        .for_each_concurrent(PROBE_CONCURRENCY, |(refresh, token)| async move {
            api.refresh(HARNESS, &refresh, token).await;
        })
        .await;
    admin.snapshot(HARNESS, true).await;
    for user in &world.users {
        if let Some(access) = user.last_access() {
            api.list_sessions(HARNESS, user.index, &access, true).await;
        }
    }
}
