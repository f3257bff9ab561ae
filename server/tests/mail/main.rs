//! Mail delivery end to end: the outbox on SQLite and (when
//! `JWT_ALLAUTH_TEST_POSTGRES_URL` is set) PostgreSQL, the delivery worker, and a real
//! SMTP server on a local port (mailin-embedded), so that every message crosses TCP.
//!
//! Waits are bounded polling loops (10 s at most, 20 ms steps); retry delays are cut to
//! milliseconds.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod new_device;
mod smtp_server;

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

use common::{TestDb, free_port};
use jwt_allauth_server::db::Database;
use jwt_allauth_server::mail::{
    EmailUrl, MailContext, MailKind, MailTransport, MailWorker, Mailbox, Outbox, OutgoingMail,
    QueuedMail, RetryPolicy, Templates, WorkerConfig, default_from, deliver_due,
};
use smtp_server::SmtpServer;
use time::OffsetDateTime;

/// Retries after 100 ms, doubling up to 400 ms; polls every 50 ms.
fn fast_config() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(60),
        retry: RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            ..RetryPolicy::default()
        },
    }
}

/// The databases to run on: SQLite, and PostgreSQL when configured.
async fn databases(test: &str) -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    dbs.extend(TestDb::postgres(test).await);
    dbs
}

fn transport(url: &str) -> MailTransport {
    MailTransport::from_url(&EmailUrl::parse(url).unwrap(), default_from()).unwrap()
}

fn mailbox(text: &str) -> Mailbox {
    text.parse().unwrap()
}

fn mail(to: &str, subject: &str) -> OutgoingMail {
    OutgoingMail::new(
        mailbox(to),
        subject,
        format!("Text of {subject}"),
        format!("<p>HTML of {subject}</p>"),
    )
}

/// Writes `mail` in a transaction of the test's, as a request would, then wakes the
/// worker.
async fn enqueue(db: &Database, outbox: &Outbox, mail: &OutgoingMail) -> i64 {
    let now = OffsetDateTime::now_utc();
    let id = match db {
        Database::Sqlite(pool) => {
            let mut tx = pool.begin().await.unwrap();
            let id = Outbox::enqueue(&mut *tx, mail, now).await.unwrap();
            tx.commit().await.unwrap();
            id
        }
        Database::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            let id = Outbox::enqueue(&mut *tx, mail, now).await.unwrap();
            tx.commit().await.unwrap();
            id
        }
    };
    outbox.wake();
    id
}

/// Polls `check` every 20 ms until it returns `Some`, for at most 10 s.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn queued(outbox: &Outbox) -> Vec<QueuedMail> {
    outbox.queued().await.unwrap()
}

async fn wait_empty(outbox: &Outbox) {
    eventually("an empty outbox", || async {
        queued(outbox).await.is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_queued_mail_is_delivered_as_multipart_alternative() {
    for test_db in databases("a_queued_mail_is_delivered").await {
        let db = test_db.connect().await;
        let smtp = SmtpServer::start();
        let outbox = Outbox::new(db.clone());
        // The default URL: STARTTLS when offered, which this server does not.
        let worker = MailWorker::spawn(outbox.clone(), transport(&smtp.url("")), fast_config());

        let templates = Templates::load(None).unwrap();
        let link = "https://auth.example/verify/?key=k3y";
        let rendered = templates
            .render(
                MailKind::Verification,
                &MailContext {
                    link: Some(link.to_owned()),
                    email: "ada@example.com".to_owned(),
                    first_name: "Ada".to_owned(),
                    site: "https://auth.example".to_owned(),
                    ..MailContext::default()
                },
            )
            .unwrap();
        let outgoing = OutgoingMail::new(
            mailbox("Ada Lovelace <ada@example.com>"),
            rendered.subject,
            rendered.text,
            rendered.html,
        );
        enqueue(&db, &outbox, &outgoing).await;

        let received = smtp.wait_for(1).await;
        wait_empty(&outbox).await;
        // Nothing more arrives.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let received_now = smtp.received();
        assert_eq!(received_now.len(), 1, "exactly one message");
        let message = &received[0];
        assert_eq!(message.from, "noreply@localhost");
        assert_eq!(message.to, ["ada@example.com"]);
        assert_eq!(message.header("Subject").as_deref(), Some("Welcome!"));
        assert_eq!(
            message.header("From").as_deref(),
            Some("jwt-allauth <noreply@localhost>")
        );
        assert_eq!(
            message.header("To").as_deref(),
            Some("\"Ada Lovelace\" <ada@example.com>")
        );
        assert!(
            message
                .header("Message-ID")
                .is_some_and(|id| id.ends_with("@localhost>")),
            "{message:?}"
        );
        let content_type = message.header("Content-Type").unwrap();
        assert!(
            content_type.starts_with("multipart/alternative"),
            "{content_type}"
        );
        let parts = message.parts();
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(
            parts[0].0.starts_with("text/plain"),
            "text first: {parts:?}"
        );
        assert!(parts[1].0.starts_with("text/html"), "{parts:?}");
        assert!(parts[0].1.contains(link), "{}", parts[0].1);
        assert!(
            parts[1].1.contains(&format!("<a href=\"{link}\">")),
            "{}",
            parts[1].1
        );

        worker.shutdown().await;
    }
}

#[tokio::test]
async fn mail_waits_while_the_server_is_down_and_goes_once_it_is_up() {
    for test_db in databases("mail_waits_while_the_server_is_down").await {
        let db = test_db.connect().await;
        let port = free_port();
        let outbox = Outbox::new(db.clone());
        let worker = MailWorker::spawn(
            outbox.clone(),
            transport(&format!("smtp://127.0.0.1:{port}?tls=none")),
            fast_config(),
        );
        let id = enqueue(&db, &outbox, &mail("ada@example.com", "While down")).await;

        let row = eventually("a failed attempt", || async {
            queued(&outbox)
                .await
                .into_iter()
                .find(|row| row.attempts >= 1 && row.last_error.is_some())
        })
        .await;
        assert_eq!(row.id, id);
        assert_eq!(row.locked_until, None, "released for the next attempt");
        let error = row.last_error.unwrap();
        assert!(error.contains("SMTP"), "{error}");
        assert!(!error.contains("Text of"), "{error}");

        let smtp = SmtpServer::start_on(port);
        let received = smtp.wait_for(1).await;
        wait_empty(&outbox).await;
        assert_eq!(received[0].header("Subject").as_deref(), Some("While down"));
        worker.shutdown().await;
        assert_eq!(smtp.received().len(), 1);
    }
}

#[tokio::test]
async fn a_crashed_worker_loses_nothing() {
    for test_db in databases("a_crashed_worker_loses_nothing").await {
        let db = test_db.connect().await;
        let port = free_port();
        let outbox = Outbox::new(db.clone());
        for n in 0..3 {
            enqueue(&db, &outbox, &mail("ada@example.com", &format!("Mail {n}"))).await;
        }
        // A worker fails against a server that is down, then dies.
        let worker = MailWorker::spawn(
            outbox.clone(),
            transport(&format!("smtp://127.0.0.1:{port}?tls=none")),
            fast_config(),
        );
        eventually("failed attempts", || async {
            let rows = queued(&outbox).await;
            rows.iter().all(|row| row.attempts >= 1).then_some(())
        })
        .await;
        drop(worker);
        // Another dies holding a mail it claimed: leased for 500 ms.
        let held = outbox
            .claim(
                OffsetDateTime::now_utc() + Duration::from_secs(1),
                Duration::from_millis(500),
                1,
            )
            .await
            .unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!(queued(&outbox).await.len(), 3, "nothing lost");

        let smtp = SmtpServer::start_on(port);
        let worker = MailWorker::spawn(
            outbox.clone(),
            transport(&smtp.url("?tls=none")),
            fast_config(),
        );
        let received = smtp.wait_for(3).await;
        wait_empty(&outbox).await;
        worker.shutdown().await;
        let subjects: HashSet<_> = received
            .iter()
            .map(|message| message.header("Subject").unwrap())
            .collect();
        assert_eq!(subjects.len(), 3, "each once: {subjects:?}");
        assert_eq!(smtp.received().len(), 3);
    }
}

#[tokio::test]
async fn a_permanent_refusal_is_given_up_at_once() {
    for test_db in databases("a_permanent_refusal_is_given_up").await {
        let db = test_db.connect().await;
        let smtp = SmtpServer::refusing("nobody@");
        let outbox = Outbox::new(db.clone());
        enqueue(&db, &outbox, &mail("nobody@example.com", "Refused")).await;
        enqueue(&db, &outbox, &mail("ada@example.com", "Accepted")).await;
        let report = deliver_due(&outbox, &transport(&smtp.url("?tls=none")), &fast_config())
            .await
            .unwrap();
        assert_eq!((report.sent, report.given_up, report.retried), (1, 1, 0));
        assert!(queued(&outbox).await.is_empty());
        let received = smtp.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].header("Subject").as_deref(), Some("Accepted"));
    }
}

/// `tls=required` against a server that offers no STARTTLS sends nothing in plain text:
/// the mail waits for a later attempt.
#[tokio::test]
async fn required_tls_is_never_downgraded() {
    let test_db = TestDb::sqlite();
    let db = test_db.connect().await;
    let smtp = SmtpServer::start();
    let outbox = Outbox::new(db.clone());
    enqueue(&db, &outbox, &mail("ada@example.com", "Secret")).await;
    let report = deliver_due(
        &outbox,
        &transport(&smtp.url("?tls=required")),
        &fast_config(),
    )
    .await
    .unwrap();
    assert_eq!((report.sent, report.retried), (0, 1));
    assert!(smtp.received().is_empty());
    let rows = queued(&outbox).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attempts, 1);
}

#[tokio::test]
async fn the_file_transport_writes_one_eml_per_message() {
    let test_db = TestDb::sqlite();
    let db = test_db.connect().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mail");
    let outbox = Outbox::new(db.clone());
    let worker = MailWorker::spawn(
        outbox.clone(),
        transport(&format!("file://{}", out.display())),
        fast_config(),
    );
    enqueue(&db, &outbox, &mail("ada@example.com", "On disk")).await;
    wait_empty(&outbox).await;
    worker.shutdown().await;
    let files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let content = std::fs::read_to_string(&files[0]).unwrap();
    assert!(content.contains("Subject: On disk"));
    assert!(content.contains("multipart/alternative"));
}

/// Two workers, each on a pool of its own as two server processes would be, deliver
/// every message exactly once.
#[tokio::test]
async fn two_workers_on_one_postgres_deliver_each_message_once() {
    let Some(test_db) = TestDb::postgres("two_workers_on_one_postgres").await else {
        return;
    };
    let db = test_db.connect().await;
    let other = Database::connect(&test_db.url).await.unwrap();
    let smtp = SmtpServer::start();
    let first = Outbox::new(db.clone());
    let second = Outbox::new(other);
    const MAILS: usize = 40;
    for n in 0..MAILS {
        enqueue(&db, &first, &mail("ada@example.com", &format!("Mail {n}"))).await;
    }
    let workers = [
        MailWorker::spawn(
            first.clone(),
            transport(&smtp.url("?tls=none")),
            fast_config(),
        ),
        MailWorker::spawn(
            second.clone(),
            transport(&smtp.url("?tls=none")),
            fast_config(),
        ),
    ];
    second.wake();
    let received = smtp.wait_for(MAILS).await;
    wait_empty(&first).await;
    for worker in workers {
        worker.shutdown().await;
    }
    let received_now = smtp.received();
    assert_eq!(received_now.len(), MAILS, "no message twice");
    let subjects: HashSet<_> = received
        .iter()
        .map(|message| message.header("Subject").unwrap())
        .collect();
    assert_eq!(subjects.len(), MAILS);
    let ids: HashSet<_> = received
        .iter()
        .map(|message| message.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), MAILS);
}

/// Issue 12, end to end on SQLite and PostgreSQL: the real binary with `EMAIL_URL` on the
/// real SMTP server. A user created with the CLI asks for a password reset over HTTP and
/// receives exactly one `Password reset` mail, text and HTML, whose link is built from
/// `PUBLIC_URL`; an unknown address gets the same answer and no mail. The link opens
/// the form with the capability (the log shows the route, never the token), `set-new`
/// sets the password, and a `Your password was changed` mail follows.
#[tokio::test]
async fn a_password_reset_is_delivered_by_smtp_and_completes() {
    for db in databases("password_reset_smtp").await {
        password_reset_round_trip(&db).await;
    }
}

async fn password_reset_round_trip(db: &TestDb) {
    let smtp = SmtpServer::start();
    let created = db.run(&[
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--password",
        "correct horse battery",
    ]);
    assert!(created.status.success(), "{created:?}");
    let email_url = smtp.url("?tls=none");
    let mut server = common::Server::start_with_env(
        db,
        &[],
        &[
            ("JWT_ALLAUTH_EMAIL_URL", email_url.as_str()),
            ("JWT_ALLAUTH_PUBLIC_URL", "https://auth.example.com"),
            ("JWT_ALLAUTH_EMAIL_FROM", "Accounts <accounts@example.com>"),
            ("JWT_ALLAUTH_COOKIE_SECURE", "false"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for email in ["ada@example.com", "nobody@example.com"] {
        let response = client
            .post(server.url("/password/reset/"))
            .json(&serde_json::json!({ "email": email }))
            .send()
            .await
            .unwrap();
        answers.push((response.status(), response.text().await.unwrap()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0].1,
        r#"{"detail":"Password reset e-mail has been sent."}"#
    );

    let received = smtp.wait_for(1).await;
    // A mail for the unknown address would have come as fast: give it the time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1);
    let mail = &received[0];
    assert_eq!(mail.to, ["ada@example.com"]);
    assert_eq!(mail.header("Subject").as_deref(), Some("Password reset"));
    assert!(
        mail.header("From")
            .unwrap_or_default()
            .contains("accounts@example.com")
    );
    let parts = mail.parts();
    assert_eq!(parts.len(), 2, "text and HTML");
    assert!(parts[0].0.starts_with("text/plain"), "{:?}", parts[0].0);
    assert!(parts[1].0.starts_with("text/html"), "{:?}", parts[1].0);
    for (_, body) in &parts {
        assert!(
            body.contains("https://auth.example.com/password/reset/confirm/"),
            "{body}"
        );
    }

    // Opening the link (as the user's browser would) redirects with the capability; the
    // request log shows the route, never the link's token.
    let text = &parts[0].1;
    let start = text.find("/password/reset/confirm/").unwrap();
    let path: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let token = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let opened = no_redirects.get(server.url(&path)).send().await.unwrap();
    assert_eq!(opened.status(), reqwest::StatusCode::FOUND);
    let pairs: Vec<String> = opened
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| {
            value
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let csrf = pairs
        .iter()
        .find_map(|pair| pair.strip_prefix("csrftoken="))
        .unwrap()
        .to_owned();
    let log = server.log_text();
    assert!(
        log.contains("/password/reset/confirm/{uidb64}/{token}/"),
        "{log}"
    );
    assert!(!log.contains(&token), "{log}");

    // A typo first: refused, and nothing consumed.
    let typo = client
        .post(server.url("/password/reset/set-new/"))
        .header("Cookie", pairs.join("; "))
        .header("X-CSRFToken", &csrf)
        .json(&serde_json::json!({
            "new_password1": "a fresh plum-kettle orbit",
            "new_password2": "a fresh plum-kettle orbti",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(typo.status(), reqwest::StatusCode::BAD_REQUEST);
    let done = client
        .post(server.url("/password/reset/set-new/"))
        .header("Cookie", pairs.join("; "))
        .header("X-CSRFToken", &csrf)
        .json(&serde_json::json!({
            "new_password1": "a fresh plum-kettle orbit",
            "new_password2": "a fresh plum-kettle orbit",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), reqwest::StatusCode::OK);
    let done: serde_json::Value = done.json().await.unwrap();
    let new_access = done["access"].as_str().unwrap().to_owned();
    let login = client
        .post(server.url("/login/"))
        .json(&serde_json::json!({
            "email": "ada@example.com",
            "password": "a fresh plum-kettle orbit",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::OK);
    let received = smtp.wait_for(2).await;
    assert_eq!(
        received[1].header("Subject").as_deref(),
        Some("Your password was changed")
    );
    assert!(server.terminate());

    // A search of the whole log of the run finds no token, link, key or password.
    let log = server.log_text();
    let capability = pairs
        .iter()
        .find_map(|pair| pair.strip_prefix("password_reset_access_token="))
        .unwrap();
    for secret in [
        token.as_str(),
        &path,
        capability,
        &csrf,
        &new_access,
        "correct horse battery",
        "a fresh plum-kettle orbit",
        "Authorization",
    ] {
        assert!(!log.contains(secret), "{secret:?} in the log: {log}");
    }
}

/// Issue 12: with the SMTP server down, a reset request gets the same 200 and its mail
/// waits in the outbox; the server is then killed with SIGKILL (after the commit, before
/// any delivery) and restarted once the SMTP server is up: the mail arrives, once.
#[tokio::test]
async fn a_reset_mail_survives_a_dead_smtp_server_and_a_killed_process() {
    for db in databases("reset_smtp_down").await {
        let smtp_port = free_port();
        let email_url = format!("smtp://127.0.0.1:{smtp_port}?tls=none");
        let env = [
            ("JWT_ALLAUTH_EMAIL_URL", email_url.as_str()),
            (
                "JWT_ALLAUTH_SECRET_KEY",
                "a configured secret, 32 bytes or more",
            ),
        ];
        let created = db.run(&[
            "user",
            "create",
            "--email",
            "ada@example.com",
            "--password",
            "correct horse battery",
        ]);
        assert!(created.status.success(), "{created:?}");
        let mut server = common::Server::start_with_env(&db, &[], &env).await;
        let response = reqwest::Client::new()
            .post(server.url("/password/reset/"))
            .json(&serde_json::json!({ "email": "ada@example.com" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"detail":"Password reset e-mail has been sent."}"#
        );

        // The mail is committed to the outbox and its first delivery failed (the SMTP
        // server is down); a crash in the middle of a delivery is the lease's case
        // (`a_crashed_worker_loses_nothing`).
        let outbox = Outbox::new(Database::connect(&db.url).await.unwrap());
        let queued = eventually("the failed first attempt", || async {
            let queued = outbox.queued().await.unwrap();
            queued
                .iter()
                .any(|mail| mail.last_error.is_some() && mail.locked_until.is_none())
                .then_some(queued)
        })
        .await;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].subject, "Password reset");

        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let smtp = SmtpServer::start_on(smtp_port);
        let mut restarted = common::Server::start_with_env(&db, &[], &env).await;
        // The first attempt failed, so the retry is due within the first backoff (10 s).
        let deadline = Instant::now() + Duration::from_secs(30);
        while smtp.received().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let received = smtp.received();
        assert_eq!(
            received.len(),
            1,
            "delivered once; outbox {:?}; log {}",
            outbox.queued().await.unwrap(),
            restarted.log_text()
        );
        assert_eq!(
            received[0].header("Subject").as_deref(),
            Some("Password reset")
        );
        assert!(outbox.queued().await.unwrap().is_empty());
        assert!(restarted.terminate());
    }
}

/// Issue 12, end to end on SQLite and PostgreSQL: a sign-up under `mandatory` through
/// the real binary, the `Welcome!` mail received over SMTP, its link followed (GET shows
/// the page and confirms nothing, POST confirms), then login; a sign-up with a taken
/// address answers byte for byte the same and mails the owner `You already have an
/// account`; the log holds no key and no password.
#[tokio::test]
async fn a_sign_up_is_verified_through_the_mailed_link() {
    for db in databases("sign_up_smtp").await {
        let smtp = SmtpServer::start();
        let email_url = smtp.url("?tls=none");
        let mut server = common::Server::start_with_env(
            &db,
            &[],
            &[
                ("JWT_ALLAUTH_EMAIL_URL", email_url.as_str()),
                ("JWT_ALLAUTH_PUBLIC_URL", "https://auth.example.com"),
            ],
        )
        .await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let sign_up = |email: &str| {
            client
                .post(server.url("/registration/"))
                .json(&serde_json::json!({
                    "email": email,
                    "password1": "plum-kettle orbit 42",
                    "password2": "plum-kettle orbit 42",
                    "first_name": "Zoë",
                }))
                .send()
        };
        let answer = |response: reqwest::Response| async move {
            let status = response.status();
            let mut headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter(|(name, _)| *name != "date")
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
                .collect();
            headers.sort();
            (status, headers, response.text().await.unwrap())
        };
        let fresh = answer(sign_up("zoe@example.com").await.unwrap()).await;
        assert_eq!(fresh.0, reqwest::StatusCode::CREATED);
        assert_eq!(fresh.2, r#"{"detail":"Verification e-mail sent."}"#);

        let welcome = smtp.wait_for(1).await.remove(0);
        assert_eq!(welcome.header("Subject").as_deref(), Some("Welcome!"));
        let text = welcome.parts().remove(0).1;
        let start = text.find("/registration/verification/").unwrap();
        let path: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let login = || {
            client
                .post(server.url("/login/"))
                .json(&serde_json::json!({
                    "email": "zoe@example.com",
                    "password": "plum-kettle orbit 42",
                }))
                .send()
        };
        assert_eq!(
            login().await.unwrap().status(),
            reqwest::StatusCode::UNAUTHORIZED
        );
        let page = client.get(server.url(&path)).send().await.unwrap();
        assert_eq!(page.status(), reqwest::StatusCode::OK);
        assert_eq!(
            login().await.unwrap().status(),
            reqwest::StatusCode::UNAUTHORIZED
        );
        let confirmed = client.post(server.url(&path)).send().await.unwrap();
        assert_eq!(confirmed.status(), reqwest::StatusCode::FOUND);
        assert_eq!(login().await.unwrap().status(), reqwest::StatusCode::OK);

        // The same address again: the same answer, and a mail to its owner.
        let taken = answer(sign_up("zoe@example.com").await.unwrap()).await;
        assert_eq!(taken, fresh);
        let received = smtp.wait_for(2).await;
        assert_eq!(
            received[1].header("Subject").as_deref(),
            Some("You already have an account")
        );

        assert!(server.terminate());
        let log = server.log_text();
        let key = path
            .trim_start_matches("/registration/verification/")
            .trim_end_matches('/');
        for secret in [key, "plum-kettle orbit 42"] {
            assert!(!log.contains(secret), "{secret:?} in the log");
        }
        assert!(log.contains("/registration/verification/{key}/"), "{log}");
    }
}

/// Issue 12, end to end on SQLite and PostgreSQL: `EMAIL_VERIFICATION=optional` opens a
/// session at sign-up with `email_verified` false, mails `Welcome!` over SMTP, and after
/// the link's POST the next refresh carries `email_verified` true; `none` opens a
/// verified session and sends no mail.
#[tokio::test]
async fn optional_and_none_sign_ups_end_to_end() {
    fn verified(access: &str) -> serde_json::Value {
        use base64::Engine;
        let payload = access.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        claims["email_verified"].clone()
    }
    for db in databases("optional_none_smtp").await {
        for mode in ["optional", "none"] {
            let smtp = SmtpServer::start();
            let email_url = smtp.url("?tls=none");
            let mut server = common::Server::start_with_env(
                &db,
                &[],
                &[
                    ("JWT_ALLAUTH_EMAIL_URL", email_url.as_str()),
                    ("JWT_ALLAUTH_PUBLIC_URL", "https://auth.example.com"),
                    ("JWT_ALLAUTH_EMAIL_VERIFICATION", mode),
                    ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false"),
                ],
            )
            .await;
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let email = format!("{mode}@example.com");
            let signed_up = client
                .post(server.url("/registration/"))
                .json(&serde_json::json!({
                    "email": email,
                    "password1": "plum-kettle orbit 42",
                    "password2": "plum-kettle orbit 42",
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(signed_up.status(), reqwest::StatusCode::CREATED, "{mode}");
            let body: serde_json::Value = signed_up.json().await.unwrap();
            let access = body["access"].as_str().unwrap();
            let refresh = body["refresh"].as_str().unwrap().to_owned();
            if mode == "none" {
                assert_eq!(verified(access), true);
                tokio::time::sleep(Duration::from_millis(500)).await;
                assert!(smtp.received().is_empty(), "no mail under none");
                assert!(server.terminate());
                continue;
            }
            assert_eq!(verified(access), false);
            let welcome = smtp.wait_for(1).await.remove(0);
            assert_eq!(welcome.header("Subject").as_deref(), Some("Welcome!"));
            let text = welcome.parts().remove(0).1;
            let start = text.find("/registration/verification/").unwrap();
            let path: String = text[start..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            let confirmed = client.post(server.url(&path)).send().await.unwrap();
            assert_eq!(confirmed.status(), reqwest::StatusCode::FOUND);
            let refreshed: serde_json::Value = client
                .post(server.url("/refresh/"))
                .json(&serde_json::json!({ "refresh": refresh }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(verified(refreshed["access"].as_str().unwrap()), true);
            assert!(server.terminate());
        }
    }
}
