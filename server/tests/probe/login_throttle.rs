//! Findings 1, 2, 4, 5, 7 and two of 11: the login throttle, the password change's
//! guessing limit, e-mail keys and the User-Agent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use jwt_allauth_server::AppState;
use jwt_allauth_server::db::Database;
use jwt_allauth_server::passwords::Passwords;
use jwt_allauth_server::users::NewUser;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::common::{Server, TestDb, success};
use crate::inprocess;

const PASSWORD: &str = "correct horse battery staple";

/// A server on a fresh SQLite database with the user `owner@example.com`, trusting
/// `X-Forwarded-For` from 127.0.0.1 so that tests can speak as many clients.
async fn server_with_owner() -> (TestDb, Server) {
    let db = TestDb::sqlite();
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "owner@example.com",
        "--password",
        PASSWORD,
    ]));
    let env = [("JWT_ALLAUTH_TRUSTED_PROXIES", "127.0.0.1/32")];
    let server = Server::start_with_env(&db, &[], &env).await;
    (db, server)
}

/// `POST /login/` as the client `ip`: status, `Retry-After`, body.
async fn login_as(
    client: &reqwest::Client,
    server: &Server,
    ip: &str,
    email: &str,
    password: &str,
) -> (u16, Option<String>, Value) {
    let response = client
        .post(server.url("/login/"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// How many of `statuses` are `status`.
fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

/// Before the fix, failures were counted when a request finished and the limit checked
/// when it arrived: 100 concurrent guesses all had their password verified (100 × 401).
#[tokio::test]
async fn finding_1_concurrent_guesses_are_verified_at_most_up_to_the_limits() {
    let (_db, server) = server_with_owner().await;
    let client = reqwest::Client::new();

    // One address from one client: the per-address limit, 5.
    let guesses = (0..100).map(|n| {
        let (client, server) = (&client, &server);
        async move {
            login_as(
                client,
                server,
                "203.0.113.1",
                "owner@example.com",
                &format!("guess {n}"),
            )
            .await
            .0
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    assert_eq!(count(&statuses, 401), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 95, "{statuses:?}");

    // Many addresses from one client: the per-client limit, 10.
    let guesses = (0..100).map(|n| {
        let (client, server) = (&client, &server);
        async move {
            login_as(
                client,
                server,
                "203.0.113.2",
                &format!("user{n}@example.com"),
                "guess",
            )
            .await
            .0
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    assert_eq!(count(&statuses, 401), 10, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 90, "{statuses:?}");
}

/// Attempts in flight count until they settle, yet a burst of correct logins from one
/// client (an office behind one address) is not refused for it: a refused login waits
/// for the attempts ahead to give their places back.
#[tokio::test]
async fn finding_1_a_burst_of_correct_logins_from_one_client_is_not_refused() {
    let (_db, server) = server_with_owner().await;
    let client = reqwest::Client::new();
    let logins = (0..30).map(|_| {
        let (client, server) = (&client, &server);
        async move {
            login_as(client, server, "203.0.113.7", "owner@example.com", PASSWORD)
                .await
                .0
        }
    });
    let statuses = futures::future::join_all(logins).await;
    assert_eq!(count(&statuses, 200), 30, "{statuses:?}");
}

/// A state whose login throttle is off (so a flood is all verified) with one hashing
/// permit, and the password counter of its user store.
async fn unthrottled_state() -> (AppState, Passwords) {
    let passwords = Passwords::with_permits(1);
    let unthrottled = |config: &mut jwt_allauth_server::config::Config| {
        config.http.login_failures_per_ip = 0;
        config.http.login_failures_per_email = 0;
    };
    let state = inprocess::state_with(unthrottled, passwords.clone()).await;
    (state, passwords)
}

fn login_request(peer: [u8; 4], email: &str, password: &str) -> Request<Body> {
    let mut request = Request::post("/login/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"email": email, "password": password}).to_string(),
        ))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40_000))));
    request
}

/// Before the fix, password checks were served first come first: a login behind a flood
/// of 1,000 guesses from one client waited for all of them (14 s). Now clients take
/// turns: the owner's login waits for at most one check per other waiting client.
#[tokio::test]
async fn finding_1_a_flood_from_one_client_does_not_starve_another() {
    let (state, passwords) = unthrottled_state().await;
    state
        .users
        .create(
            &NewUser::new("owner@example.com", PASSWORD),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let router = jwt_allauth_server::app(state).await;

    let answered = Arc::new(AtomicUsize::new(0));
    let flood: Vec<_> = (0..40)
        .map(|n| {
            let (router, answered) = (router.clone(), Arc::clone(&answered));
            tokio::spawn(async move {
                let request = login_request([203, 0, 113, 1], "owner@example.com", &format!("{n}"));
                let status = inprocess::call(&router, request).await.0;
                answered.fetch_add(1, Ordering::SeqCst);
                status
            })
        })
        .collect();
    // Wait until the flood is being verified.
    for _ in 0..2_000 {
        if passwords.verifications() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let request = login_request([198, 51, 100, 7], "owner@example.com", PASSWORD);
    let (status, _, body) = inprocess::call(&router, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let waited_for = answered.load(Ordering::SeqCst);
    assert!(
        waited_for <= 3,
        "the owner's login was answered after {waited_for} of the flood's 40 guesses"
    );
    for guess in flood {
        assert_eq!(guess.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
}

/// Before the fix, 40 wrong old passwords gave 40 × 400 and the right one then changed
/// the password: a stolen access token became a permanent takeover.
#[tokio::test]
async fn finding_2_wrong_old_passwords_are_throttled() {
    let (_db, server) = server_with_owner().await;
    let client = reqwest::Client::new();
    let (status, _, body) = login_as(
        &client,
        &server,
        "198.51.100.7",
        "owner@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = body["access"].as_str().unwrap().to_owned();

    let change = |old: &str| {
        client
            .post(server.url("/password/change/"))
            .header("x-forwarded-for", "203.0.113.9")
            .bearer_auth(&access)
            .json(&json!({
                "old_password": old,
                "new_password1": "a brand new passphrase",
                "new_password2": "a brand new passphrase",
            }))
            .send()
    };
    for n in 0..5 {
        let response = change(&format!("guess {n}")).await.unwrap();
        assert_eq!(response.status(), 400, "guess {n}");
    }
    for old in ["guess 5", PASSWORD] {
        let response = change(old).await.unwrap();
        assert_eq!(response.status(), 429, "{old:?}");
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=300).contains(&retry_after), "{retry_after}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "throttled");
    }
    // The password did not change.
    let (status, _, _) = login_as(
        &client,
        &server,
        "198.51.100.8",
        "owner@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(status, 200);
}

/// Before the fix, 4,000 failures with 60,000-character e-mails added 255 MiB to the
/// throttle, still held after the window. Now an address over 254 characters is a 400
/// before any work, and expired counters are evicted.
#[tokio::test]
async fn finding_4_long_emails_are_refused_and_throttle_memory_is_returned() {
    let (mut state, passwords) = unthrottled_state().await;
    let clock = Arc::new(AtomicI64::new(OffsetDateTime::now_utc().unix_timestamp()));
    let now = Arc::clone(&clock);
    state.auth = state
        .auth
        .clone()
        .with_throttle(jwt_allauth_axum::LoginThrottle::new(10, 5))
        .with_clock(move || {
            OffsetDateTime::from_unix_timestamp(now.load(Ordering::SeqCst)).unwrap()
        });
    let auth = state.auth.clone();
    let router = jwt_allauth_server::app(state).await;

    let long = format!("{}@example.com", "x".repeat(60_000));
    let (status, _, body) =
        inprocess::call(&router, login_request([203, 0, 113, 1], &long, "guess")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"email": ["Ensure this field has no more than 254 characters."]})
    );
    assert_eq!(
        passwords.verifications(),
        0,
        "the long address cost no verification"
    );
    assert_eq!(auth.throttle().tracked(), (0, 0));

    // The longest addresses, each from its own client: counted, then gone once their
    // window has passed.
    for n in 0..30u8 {
        let email = format!("{}{n:02}@example.com", "y".repeat(254 - 14));
        assert_eq!(email.chars().count(), 254);
        let (status, ..) =
            inprocess::call(&router, login_request([10, 0, 0, n], &email, "guess")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(auth.throttle().tracked(), (30, 30));
    clock.fetch_add(301, Ordering::SeqCst);
    let (status, ..) = inprocess::call(
        &router,
        login_request([10, 0, 1, 1], "late@example.com", "guess"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(auth.throttle().tracked(), (1, 1));
}

/// Before the fix, five wrong passwords from anywhere made the owner's correct login
/// from another client a 429 for five minutes.
#[tokio::test]
async fn finding_5_failures_from_elsewhere_do_not_lock_the_owner_out() {
    let (_db, server) = server_with_owner().await;
    let client = reqwest::Client::new();
    for n in 0..5 {
        let (status, ..) = login_as(
            &client,
            &server,
            "203.0.113.1",
            "owner@example.com",
            &format!("{n}"),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, retry_after, body) = login_as(
        &client,
        &server,
        "203.0.113.1",
        "owner@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(
        status, 429,
        "the guessing client is refused, even with the password"
    );
    assert!(retry_after.is_some());
    assert_eq!(body["code"], "throttled");

    let (status, _, body) = login_as(
        &client,
        &server,
        "198.51.100.7",
        "OWNER@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(
        status, 200,
        "the owner, who has not failed, logs in: {body}"
    );

    // A fresh client gets one guess, then is refused for this address.
    let (status, ..) = login_as(&client, &server, "192.0.2.50", "owner@example.com", "wrong").await;
    assert_eq!(status, 401);
    let (status, ..) = login_as(
        &client,
        &server,
        "192.0.2.50",
        "owner@example.com",
        "wrong again",
    )
    .await;
    assert_eq!(status, 429);
}

/// Before the fix, every IPv6 address was a bucket of its own: whoever holds a /64 had
/// 2^64 fresh clients.
#[tokio::test]
async fn finding_7_ipv6_clients_are_counted_per_64() {
    let (_db, server) = server_with_owner().await;
    let client = reqwest::Client::new();
    for n in 0..10 {
        let ip = format!("2001:db8:5:6:{n:x}::1");
        let email = format!("user{n}@example.com");
        let (status, ..) = login_as(&client, &server, &ip, &email, "guess").await;
        assert_eq!(status, 401, "{ip}");
    }
    let (status, ..) = login_as(
        &client,
        &server,
        "2001:db8:5:6:ffff:1:2:3",
        "other@example.com",
        "guess",
    )
    .await;
    assert_eq!(status, 429, "another address of the same /64");
    let (status, ..) = login_as(
        &client,
        &server,
        "2001:db8:5:7::1",
        "other@example.com",
        "guess",
    )
    .await;
    assert_eq!(status, 401, "the next /64 is another client");
}

/// Before the fix, `XΣ@example.com` logged into `xς@…` while `xσ@…` and `xς@…` were
/// separate accounts: e-mail keys were lower-cased, not case-folded.
#[tokio::test]
async fn finding_11_every_sigma_spells_one_account() {
    let db = TestDb::sqlite();
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "xσ@example.com",
        "--password",
        PASSWORD,
    ]));
    let duplicate = db.run(&[
        "user",
        "create",
        "--email",
        "xς@example.com",
        "--password",
        PASSWORD,
    ]);
    assert!(!duplicate.status.success(), "xς@ is the account xσ@");

    // A row keyed the old way (lower case, final sigma kept) is brought in step at start.
    let pool = db.connect().await;
    let Database::Sqlite(sqlite) = &pool else {
        unreachable!()
    };
    sqlx::query("UPDATE jwt_allauth_users SET email = 'ΛΟΓΟΣ@example.com', email_lower = 'λογος@example.com'")
        .execute(sqlite)
        .await
        .unwrap();
    drop(pool);
    let server = Server::start(&db, &[]).await;
    let client = reqwest::Client::new();
    for spelling in [
        "λογοσ@example.com",
        "ΛΟΓΟΣ@EXAMPLE.COM",
        "λογος@example.com",
    ] {
        let (status, _, body) = login_as(&client, &server, "127.0.0.1", spelling, PASSWORD).await;
        assert_eq!(status, 200, "{spelling}: {body}");
    }
}

/// Before the fix, one byte outside ASCII in the User-Agent blanked the session's
/// device details.
#[tokio::test]
async fn finding_11_a_latin1_user_agent_keeps_the_device_details() {
    let (_db, server) = server_with_owner().await;
    let mut agent =
        b"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0 Caf".to_vec();
    agent.push(0xE9);
    let response = reqwest::Client::new()
        .post(server.url("/login/"))
        .header("user-agent", HeaderValue::from_bytes(&agent).unwrap())
        .json(&json!({"email": "owner@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let access = response.json::<Value>().await.unwrap()["access"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions: Value = reqwest::Client::new()
        .get(server.url("/sessions/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions[0]["browser"], "Firefox", "{sessions}");
    assert_eq!(sessions[0]["os"], "Linux", "{sessions}");
}
