//! A PostgreSQL server owned by one test: a cluster made by `initdb` in a temporary
//! directory, started and stopped with `pg_ctl` on a free port of 127.0.0.1 (its unix
//! socket in the same directory), stopped and deleted when the value is dropped, even
//! when the test panics. The shared server on port 5432 is never touched.
//!
//! PostgreSQL refuses to run as root, so as root its programs run as the `postgres`
//! user (`runuser -u postgres`), which then owns the directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

use crate::common::{REQUIRE_POSTGRES_VAR, free_port};

/// The user PostgreSQL runs as when the tests run as root.
const POSTGRES_USER: &str = "postgres";

/// A PostgreSQL cluster of this test.
pub struct OwnedPostgres {
    /// Holds `data/` (the cluster), `server.log` and the unix socket.
    dir: TempDir,
    /// The directory of `initdb` and `pg_ctl`.
    bindir: PathBuf,
    /// The TCP port it listens on, the same after every start.
    port: u16,
    /// Whether its programs run as [`POSTGRES_USER`] (the tests run as root).
    as_postgres_user: bool,
}

impl OwnedPostgres {
    /// Creates a cluster (not started). `None`, with a notice, when the PostgreSQL server
    /// programs cannot be found; a panic instead when `JWT_ALLAUTH_REQUIRE_POSTGRES=1`.
    pub fn init(test: &str) -> Option<Self> {
        let Some(bindir) = server_bindir() else {
            assert!(
                std::env::var(REQUIRE_POSTGRES_VAR).as_deref() != Ok("1"),
                "{REQUIRE_POSTGRES_VAR}=1 but initdb and pg_ctl were not found \
                 (looked in /usr/lib/postgresql/*/bin and PATH)"
            );
            eprintln!("skipping {test}: the PostgreSQL server programs were not found");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let as_postgres_user = is_root();
        if as_postgres_user {
            run_ok(Command::new("chown").arg(POSTGRES_USER).arg(dir.path()));
        }
        let cluster = Self {
            dir,
            bindir,
            port: free_port(),
            as_postgres_user,
        };
        let data = cluster.data_dir();
        run_ok(
            cluster
                .program("initdb")
                .arg("--pgdata")
                .arg(&data)
                .args(["--username=postgres", "--auth=trust", "--no-sync"])
                .args(["--encoding=UTF8", "--locale=C"]),
        );
        Some(cluster)
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts it and waits until it accepts connections (on the same port every time).
    pub fn start(&self) {
        // fsync=off is safe here: an immediate stop kills processes, not the machine, so
        // what was written survives. synchronous_commit must stay on: off, an immediate
        // stop loses commits whose success the clients already saw.
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let output = self
            .program("pg_ctl")
            .arg("--pgdata")
            .arg(self.data_dir())
            .arg("--log")
            .arg(self.log_file())
            .args(["--wait", "--timeout=60", "-o", &options, "start"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "pg_ctl start failed: {}\nserver log: {}",
            describe(&output),
            std::fs::read_to_string(self.log_file()).unwrap_or_default()
        );
    }

    /// Stops it at once (`pg_ctl stop -m immediate`: every connection is cut, as when the
    /// server crashes or its machine goes away) and waits until it is down.
    pub fn stop_immediately(&self) {
        let output = self.stop_command().output().unwrap();
        assert!(
            output.status.success(),
            "pg_ctl stop failed: {}",
            describe(&output)
        );
    }

    fn stop_command(&self) -> Command {
        let mut command = self.program("pg_ctl");
        command.arg("--pgdata").arg(self.data_dir()).args([
            "--mode=immediate",
            "--wait",
            "--timeout=60",
            "stop",
        ]);
        command
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// `PROGRAM` of the server's bin directory, as the `postgres` user when we are root.
    fn program(&self, name: &str) -> Command {
        let program = self.bindir.join(name);
        let mut command = if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", POSTGRES_USER, "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        command
    }
}

impl Drop for OwnedPostgres {
    fn drop(&mut self) {
        // A cluster that is not running makes pg_ctl fail: nothing to do then.
        let _ = self
            .stop_command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The directory holding `initdb` and `pg_ctl`: the newest `/usr/lib/postgresql/*/bin`
/// (Debian and Ubuntu), else the first directory of `PATH` that has both.
fn server_bindir() -> Option<PathBuf> {
    let has_programs = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_programs(bin))
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| has_programs(dir))
}

/// Whether this process runs as root.
fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

#[track_caller]
fn run_ok(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        describe(&output)
    );
}

fn describe(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
