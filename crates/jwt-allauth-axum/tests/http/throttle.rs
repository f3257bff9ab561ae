use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

fn throttled() -> Value {
    json!({"detail": "Too many failed login attempts. Try again later.", "code": "throttled"})
}

fn login(email: &str, password: &str) -> Req {
    Req::post("/login/").json(json!({"email": email, "password": password}))
}

#[tokio::test]
async fn failures_per_email_are_throttled_with_retry_after() {
    let app = TestApp::with(|settings| settings.http.login_failures_per_email = 3).await;
    for _ in 0..3 {
        let response = app.send(login(ALICE, WRONG_PASSWORD)).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        app.advance(10);
    }
    // Now the client that failed is refused even with the right password, before it is
    // checked, for any case of the address.
    let response = app.send(login("Alice@Example.COM", ALICE_PASSWORD)).await;
    response.assert(StatusCode::TOO_MANY_REQUESTS, throttled());
    assert_eq!(response.header("retry-after"), Some("270"));
    assert!(app.accounts.logins().is_empty());

    // A client without failures of its own is still verified: the owner logs in.
    app.login_with(login(ALICE, ALICE_PASSWORD).peer("192.0.2.1"))
        .await;

    // Other addresses are not affected.
    app.login(BOB, BOB_PASSWORD).await;

    // Once the first failure leaves its 300 s window, logins work again.
    app.advance(269);
    assert_eq!(
        app.send(login(ALICE, ALICE_PASSWORD)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.advance(1);
    app.login(ALICE, ALICE_PASSWORD).await;

    // With the address still at its limit, a client guessing wrong once is refused from
    // then on.
    let guess = app
        .send(login(ALICE, WRONG_PASSWORD).peer("192.0.2.2"))
        .await;
    assert_eq!(guess.status, StatusCode::UNAUTHORIZED);
    let response = app
        .send(login(ALICE, ALICE_PASSWORD).peer("192.0.2.2"))
        .await;
    response.assert(StatusCode::TOO_MANY_REQUESTS, throttled());
}

#[tokio::test]
async fn failures_per_ip_are_throttled_with_retry_after() {
    let app = TestApp::with(|settings| {
        settings.http.login_failures_per_ip = 2;
        settings.http.login_failures_per_email = 0;
    })
    .await;
    let attacker = "198.51.100.66";
    app.send(login(ALICE, WRONG_PASSWORD).peer(attacker)).await;
    app.advance(15);
    app.send(login("nobody@example.com", WRONG_PASSWORD).peer(attacker))
        .await;
    app.advance(5);
    let response = app.send(login(BOB, BOB_PASSWORD).peer(attacker)).await;
    response.assert(StatusCode::TOO_MANY_REQUESTS, throttled());
    assert_eq!(response.header("retry-after"), Some("40"));

    // Another IP, or an unknown one, is not affected.
    app.login_with(login(BOB, BOB_PASSWORD).peer("198.51.100.67"))
        .await;
    app.login_with(login(BOB, BOB_PASSWORD)).await;

    app.advance(40);
    app.login_with(login(BOB, BOB_PASSWORD).peer(attacker))
        .await;
}

#[tokio::test]
async fn only_failures_count_and_a_success_forgives_only_its_own_client() {
    let app = TestApp::with(|settings| settings.http.login_failures_per_email = 3).await;
    app.send(login(ALICE, WRONG_PASSWORD)).await;
    app.send(login(ALICE, WRONG_PASSWORD)).await;
    // Validation errors and successes do not count.
    app.send(Req::post("/login/").json(json!({"email": ALICE})))
        .await;
    app.login(ALICE, ALICE_PASSWORD).await;
    app.login(ALICE, ALICE_PASSWORD).await;
    // A success forgives this client's own failures, not the address's count: one more
    // failure makes it a client with a failure again, and the address is at its limit.
    app.send(login(ALICE, WRONG_PASSWORD)).await;
    assert_eq!(
        app.send(login(ALICE, ALICE_PASSWORD)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn zero_disables_the_throttle() {
    let app = TestApp::with(|settings| {
        settings.http.login_failures_per_ip = 0;
        settings.http.login_failures_per_email = 0;
    })
    .await;
    for _ in 0..30 {
        let response = app
            .send(login(ALICE, WRONG_PASSWORD).peer("198.51.100.66"))
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    app.login_with(login(ALICE, ALICE_PASSWORD).peer("198.51.100.66"))
        .await;
}
