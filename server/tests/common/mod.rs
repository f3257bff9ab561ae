//! Helpers shared by the integration tests: fresh databases (a temporary SQLite file, or
//! a fresh PostgreSQL database when `JWT_ALLAUTH_TEST_POSTGRES_URL` is set), running
//! the built `jwt-allauth` binary, and a served instance on a free port.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use jwt_allauth_server::db::Database;
use rand::RngCore;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tempfile::TempDir;

/// The variable naming the PostgreSQL server of the tests.
pub const POSTGRES_URL_VAR: &str = "JWT_ALLAUTH_TEST_POSTGRES_URL";
/// Set to 1 to fail (not skip) PostgreSQL tests when the variable is unset.
pub const REQUIRE_POSTGRES_VAR: &str = "JWT_ALLAUTH_REQUIRE_POSTGRES";

/// The built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_jwt-allauth")
}

/// A database for one test, with a temporary working directory (where the binary runs,
/// so a key file for PostgreSQL lands there too).
pub struct TestDb {
    /// The database URL.
    pub url: String,
    /// The working directory of the binary.
    pub dir: TempDir,
    /// Set for PostgreSQL: the database to drop at the end.
    postgres: Option<PostgresDb>,
}

struct PostgresDb {
    maintenance: PgConnectOptions,
    name: String,
}

impl TestDb {
    /// A fresh SQLite file (not created yet) in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("auth.sqlite3").display());
        Self {
            url,
            dir,
            postgres: None,
        }
    }

    /// A fresh, empty PostgreSQL database, created through the `postgres` maintenance
    /// database of the server `JWT_ALLAUTH_TEST_POSTGRES_URL` names and dropped when
    /// this value is dropped. `None` (with a notice) when the variable is unset; a panic
    /// when `JWT_ALLAUTH_REQUIRE_POSTGRES=1`.
    pub async fn postgres(test: &str) -> Option<Self> {
        let Some(base) = std::env::var(POSTGRES_URL_VAR)
            .ok()
            .filter(|url| !url.is_empty())
        else {
            if std::env::var(REQUIRE_POSTGRES_VAR).as_deref() == Ok("1") {
                panic!("{REQUIRE_POSTGRES_VAR}=1 but {POSTGRES_URL_VAR} is not set");
            }
            eprintln!("skipping PostgreSQL test {test}: set {POSTGRES_URL_VAR} to run it");
            return None;
        };
        let maintenance = PgConnectOptions::from_str(&base)
            .expect("JWT_ALLAUTH_TEST_POSTGRES_URL is a PostgreSQL URL")
            .database("postgres");
        let mut random = [0u8; 6];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let name = format!("jwt_allauth_server_test_{}", hex::encode(random));
        let mut connection = PgConnection::connect_with(&maintenance)
            .await
            .expect("connect to the postgres maintenance database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .expect("CREATE DATABASE");
        let _ = connection.close().await;
        Some(Self {
            url: with_database(&base, &name),
            dir: tempfile::tempdir().unwrap(),
            postgres: Some(PostgresDb { maintenance, name }),
        })
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// Connects (and migrates) like the binary does.
    pub async fn connect(&self) -> Database {
        let db = Database::connect(&self.url).await.expect("connect");
        db.migrate().await.expect("migrate");
        db
    }

    /// Runs `jwt-allauth ARGS --database-url URL` in the working directory.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        command.args(["--database-url", &self.url]);
        command.output().expect("run jwt-allauth")
    }

    /// `jwt-allauth ARGS` in the working directory, with no `JWT_ALLAUTH_*`,
    /// `DATABASE_URL` or `RUST_LOG` from the test's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        command_in(self.dir.path(), args)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(PostgresDb { maintenance, name }) = self.postgres.take() else {
            return;
        };
        // Drop may run inside a runtime: drop the database from a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut connection = PgConnection::connect_with(&maintenance).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut connection)
                .await?;
                connection.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: a test database could not be dropped");
        }
    }
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").expect("a URL with ://");
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{name}{query}")
}

/// `jwt-allauth ARGS` in `dir`, with a clean environment for settings.
pub fn command_in(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin());
    command.args(args).current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("JWT_ALLAUTH_")
            || key_text == "DATABASE_URL"
            || key_text == "RUST_LOG"
        {
            command.env_remove(&key);
        }
    }
    command
}

/// Stdout of a run, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr of a run, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a successful run and returns its stdout.
#[track_caller]
pub fn success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "expected success, got {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

/// Asserts a failed run whose stderr is exactly one line starting with `error: ` and
/// containing `expected`; returns that line.
#[track_caller]
pub fn failure(output: &Output, expected: &str) -> String {
    let err = stderr(output);
    assert!(
        !output.status.success(),
        "expected a failure, got success\nstdout: {}\nstderr: {err}",
        stdout(output)
    );
    assert_eq!(err.lines().count(), 1, "one line on stderr, got: {err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    assert!(err.contains(expected), "expected {expected:?} in {err:?}");
    err.trim_end().to_owned()
}

/// A port that was free a moment ago.
///
/// Never the same port twice in one test process: the port is free when it is chosen,
/// but the OS may hand it out again until someone binds it (a server's `BIND` and
/// `METRICS_BIND` chosen one after the other came out equal).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    for _ in 0..1000 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
    panic!("no free port not given before in 1000 tries");
}

/// A running `jwt-allauth serve`, killed when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl Server {
    /// Starts `jwt-allauth serve --bind 127.0.0.1:PORT --database-url URL EXTRA...` in
    /// the database's working directory and waits until `/health/` answers.
    pub async fn start(db: &TestDb, extra: &[&str]) -> Self {
        Self::start_with_env(db, extra, &[]).await
    }

    /// Like [`Server::start`], with the variables `env` (`("JWT_ALLAUTH_...", value)`)
    /// set in the server's environment.
    pub async fn start_with_env(db: &TestDb, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let log = db.dir.path().join(format!("serve-{port}.log"));
        let mut command = db.command(&["serve", "--bind", &bind, "--database-url", &db.url]);
        command.args(extra).envs(env.iter().copied());
        Self::spawn(command, &bind, log).await
    }

    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the server exited early with {status}: {}", self.log_text());
            }
            if let Ok(response) = client.get(self.url("/health/")).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not start: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /login/` with `email` and `password`: the answer's JSON body.
    pub async fn login(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> serde_json::Value {
        client
            .post(self.url("/login/"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `GET /user/` with the Bearer token `access`: the status and the JSON body
    /// (`null` if the body is not JSON).
    pub async fn get_user(
        &self,
        client: &reqwest::Client,
        access: &str,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let response = client
            .get(self.url("/user/"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// What the server logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (at most 20 s) for the exit; whether it exited with 0.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl TestDb {
    /// A database that lives elsewhere (for example a PostgreSQL server the test runs
    /// itself) at `url`, with a fresh working directory. Nothing is dropped at the end,
    /// and [`TestDb::is_postgres`] is false whatever the URL.
    pub fn external(url: String) -> Self {
        Self {
            url,
            dir: tempfile::tempdir().unwrap(),
            postgres: None,
        }
    }
}

impl Server {
    /// Spawns `command`, a `jwt-allauth serve` listening on `bind` (possibly behind a
    /// wrapper such as `setpriv`), with its stderr in `log`, and waits until `/health/`
    /// answers.
    pub async fn spawn(mut command: Command, bind: &str, log: PathBuf) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut server = Self {
            child: command.spawn().expect("spawn jwt-allauth serve"),
            base: format!("http://{bind}"),
            log,
        };
        server.wait_healthy().await;
        server
    }
}
