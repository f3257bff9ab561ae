//! PostgreSQL stops under load, then comes back: requests needing the database answer
//! the documented 503 within a bound (no 500, no hang), stateless ones keep answering
//! 200, and the same server process serves normally again once PostgreSQL is back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::api::{Answer, Api, Tokens, create_user, server_env};
use crate::common::{Server, TestDb};
use crate::owned_postgres::OwnedPostgres;

/// Clients refreshing and reading during the whole test.
const LOAD_CLIENTS: usize = 3;
/// The bound for stateless requests while database requests wait.
const STATELESS_WITHIN: Duration = Duration::from_secs(2);
/// How long a phase of the load may take to show (generous: the machine is shared).
const PHASE_WITHIN: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_fail_fast_while_postgres_is_down_and_recover_without_restart() {
    let Some(postgres) = OwnedPostgres::init("postgres_outage") else {
        return;
    };
    postgres.start();
    let postgres = Arc::new(postgres);
    let db = TestDb::external(postgres.url());
    create_user(&db);
    // A generous reuse interval: a rotation that committed just before the outage but
    // whose answer was lost is then a retry (answered with the current token), not a
    // replay that would end the load client's session.
    let mut env = server_env();
    env.push(("JWT_ALLAUTH_REUSE_INTERVAL", "300"));
    let server = Server::start_with_env(&db, &[], &env).await;
    let api = Api::new(&server.base);
    let probe = api.login().await.unwrap().tokens("login before the outage");

    let load = Load::start(&api, LOAD_CLIENTS).await;
    load.wait_until("every client refreshed twice", Instant::now(), 2, is_ok)
        .await;

    let stop = postgres.clone();
    tokio::task::spawn_blocking(move || stop.stop_immediately())
        .await
        .unwrap();
    let down = Instant::now();
    probe_outage(&api, &probe).await;
    load.wait_until("every client got a 503", down, 1, Answer::is_unavailable)
        .await;

    let start = postgres.clone();
    tokio::task::spawn_blocking(move || start.start())
        .await
        .unwrap();
    let back = wait_ready(&api).await;
    api.login().await.unwrap().tokens("login after the outage");
    // The refresh that got a 503 rotated nothing: its token is still the current one.
    let after = api
        .refresh(&probe.refresh)
        .await
        .unwrap()
        .tokens("refresh after the outage");
    api.get("/user/", Some(&after.access))
        .await
        .unwrap()
        .ok("/user/ after the outage");
    load.wait_until("every client refreshed after the outage", back, 2, is_ok)
        .await;

    let records = load.stop().await;
    check_load(&records);
    let log = server.log_text();
    assert!(log.contains("database unavailable"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// With PostgreSQL down: `/refresh/`, `/login/`, `/user/` and `/ready/` answer the
/// documented 503 within the bound, while `/whoami/` and `/health/`, sent as they wait,
/// answer 200 at once.
async fn probe_outage(api: &Api, probe: &Tokens) {
    let (refresh, login, user, ready, stateless) = tokio::join!(
        api.refresh(&probe.refresh),
        api.login(),
        api.get("/user/", Some(&probe.access)),
        api.get("/ready/", None),
        async {
            let whoami = api.get("/whoami/", Some(&probe.access)).await;
            let health = api.get("/health/", None).await;
            (whoami, health)
        },
    );
    refresh
        .unwrap()
        .assert_unavailable("/refresh/ with PostgreSQL down");
    login
        .unwrap()
        .assert_unavailable("/login/ with PostgreSQL down");
    user.unwrap()
        .assert_unavailable("/user/ with PostgreSQL down");
    ready
        .unwrap()
        .assert_unavailable("/ready/ with PostgreSQL down");
    let (whoami, health) = stateless;
    for (what, answer) in [("/whoami/", whoami.unwrap()), ("/health/", health.unwrap())] {
        answer.ok(what);
        assert!(
            answer.elapsed < STATELESS_WITHIN,
            "{what} took {:?} with PostgreSQL down",
            answer.elapsed
        );
    }
}

/// Polls `/ready/` until it answers 200; when it did.
async fn wait_ready(api: &Api) -> Instant {
    let deadline = Instant::now() + PHASE_WITHIN;
    loop {
        let answer = api.get("/ready/", None).await.unwrap();
        if answer.status == StatusCode::OK {
            return Instant::now();
        }
        assert!(
            answer.is_unavailable(),
            "/ready/ while PostgreSQL restarts: {answer:?}"
        );
        assert!(
            Instant::now() < deadline,
            "the server did not see PostgreSQL again within {PHASE_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn is_ok(answer: &Answer) -> bool {
    answer.status == StatusCode::OK
}

/// Every answer of the load: no transport error (a hang or a dropped connection), only
/// 200 or the documented 503 where the database is needed, always 200 for `/whoami/`,
/// and nothing slower than the bound.
fn check_load(records: &[Record]) {
    let mut unavailable = 0;
    for record in records {
        let answer = match &record.answer {
            Ok(answer) => answer,
            Err(error) => panic!("client {} {}: {error}", record.client, record.endpoint),
        };
        if record.endpoint == "/whoami/" {
            answer.ok("/whoami/ under load");
        } else if answer.is_unavailable() {
            unavailable += 1;
        } else {
            answer.ok(record.endpoint);
        }
        assert!(
            answer.elapsed <= crate::api::UNAVAILABLE_WITHIN,
            "{} took {:?}",
            record.endpoint,
            answer.elapsed
        );
    }
    println!(
        "postgres outage: {} answers to the load, {unavailable} of them 503",
        records.len()
    );
}

/// One request of a load client.
struct Record {
    client: usize,
    endpoint: &'static str,
    started: Instant,
    answer: Result<Answer, String>,
}

/// Clients, each with a session of its own, that loop on `/refresh/`, `/user/` and
/// `/whoami/` and record every answer.
struct Load {
    records: Arc<Mutex<Vec<Record>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    clients: usize,
}

impl Load {
    async fn start(api: &Api, clients: usize) -> Self {
        let records = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for client in 0..clients {
            let tokens = api.login().await.unwrap().tokens("login of a load client");
            let (api, records, stop) = (api.clone(), records.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                run_client(client, api, tokens, records, stop).await;
            }));
        }
        Self {
            records,
            stop,
            tasks,
            clients,
        }
    }

    /// Waits until every client has `count` `/refresh/` answers started after `since`
    /// that match `condition`.
    async fn wait_until(
        &self,
        what: &str,
        since: Instant,
        count: usize,
        condition: fn(&Answer) -> bool,
    ) {
        let deadline = Instant::now() + PHASE_WITHIN;
        loop {
            let done = {
                let records = self.records.lock().unwrap();
                (0..self.clients).all(|client| {
                    records
                        .iter()
                        .filter(|r| r.client == client && r.endpoint == "/refresh/")
                        .filter(|r| r.started >= since)
                        .filter(|r| r.answer.as_ref().is_ok_and(condition))
                        .count()
                        >= count
                })
            };
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "load: not {what} in time; the last answers:\n{}",
                self.last_answers()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last answers of every client, one per line, for a failure message.
    fn last_answers(&self) -> String {
        let records = self.records.lock().unwrap();
        let mut lines = Vec::new();
        for client in 0..self.clients {
            let mine: Vec<_> = records.iter().filter(|r| r.client == client).collect();
            for record in mine.iter().rev().take(6).rev() {
                lines.push(format!(
                    "client {client} {}: {:?}",
                    record.endpoint, record.answer
                ));
            }
        }
        lines.join("\n")
    }

    async fn stop(self) -> Vec<Record> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        std::mem::take(&mut *self.records.lock().unwrap())
    }
}

async fn run_client(
    client: usize,
    api: Api,
    mut tokens: Tokens,
    records: Arc<Mutex<Vec<Record>>>,
    stop: Arc<AtomicBool>,
) {
    let record = |endpoint, started, answer: reqwest::Result<Answer>| {
        records.lock().unwrap().push(Record {
            client,
            endpoint,
            started,
            answer: answer.map_err(|error| error.to_string()),
        });
    };
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let refreshed = api.refresh(&tokens.refresh).await;
        if let Ok(answer) = &refreshed
            && answer.status == StatusCode::OK
        {
            tokens = answer.tokens("refresh of a load client");
        }
        record("/refresh/", started, refreshed);
        let started = Instant::now();
        record(
            "/user/",
            started,
            api.get("/user/", Some(&tokens.access)).await,
        );
        let started = Instant::now();
        record(
            "/whoami/",
            started,
            api.get("/whoami/", Some(&tokens.access)).await,
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
