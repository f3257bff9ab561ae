//! Finding 3 of issue 10: connections are never timed out or capped. A trickled request
//! head, an idle keep-alive connection and a silent connection stayed open for minutes,
//! and with a file limit of 256, 300 such sockets made the server stop accepting (`Too
//! many open files`).

use std::process::Command;

use crate::common::{Server, TestDb, free_port};

/// `jwt-allauth serve` on a free port in `db`'s directory, run by `sh` after the shell
/// command `ulimit` (for example `ulimit -S -n 256`).
async fn start_with_ulimit(db: &TestDb, ulimit: &str) -> Server {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let log = db.dir.path().join(format!("serve-{port}.log"));
    let inner = db.command(&["serve", "--bind", &bind, "--database-url", &db.url]);
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("{ulimit} && exec \"$0\" \"$@\""))
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(db.dir.path());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    Server::spawn(command, &bind, log).await
}

/// The soft and hard `Max open files` of process `pid`.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    let mut fields = line["Max open files".len()..].split_whitespace();
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn connections_the_server_raises_its_soft_file_limit_to_the_hard_limit() {
    let db = TestDb::sqlite();
    let (_, hard) = open_file_limits(std::process::id());
    if hard.parse::<u64>().is_ok_and(|hard| hard <= 256) {
        eprintln!("skipping: the hard open-file limit is {hard}, nothing to raise");
        return;
    }
    let server = start_with_ulimit(&db, "ulimit -S -n 256").await;
    let (soft, server_hard) = open_file_limits(server.child.id());
    assert_eq!(server_hard, hard);
    assert_eq!(soft, hard, "the soft limit was not raised");
    let log = server.log_text();
    assert!(
        log.contains("raised the open-file limit") && log.contains("from 256"),
        "{log}"
    );
}
