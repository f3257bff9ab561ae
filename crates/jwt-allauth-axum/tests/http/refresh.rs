use std::time::Duration;

use axum::http::StatusCode;
use jwt_allauth::DeviceInfo;
use serde_json::{Value, json};

use crate::common::*;

fn invalid_or_expired() -> Value {
    json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
}

#[tokio::test]
async fn rotation_sets_a_new_cookie_and_a_replay_kills_the_session() {
    let app = TestApp::new().await;
    let first = app.login(ALICE, ALICE_PASSWORD).await;
    app.advance(60);

    let response = app.refresh(&first.refresh).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let keys: Vec<_> = response
        .json()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["access"]);
    let cookie = response.cookie("refresh_token").unwrap();
    assert_ne!(cookie.value, first.refresh);
    assert_eq!(cookie.max_age(), 14 * 24 * 3600);
    let second = Tokens::from_response(&response);
    assert_eq!(second.session(), first.session());
    assert_eq!(claims(&second.refresh)["iat"], T0 + 60);
    assert_eq!(claims(&second.refresh)["session_iat"], T0);

    // Replaying the rotated token deletes the session: the successor dies too.
    app.advance(1);
    app.refresh(&first.refresh)
        .await
        .assert(StatusCode::UNAUTHORIZED, invalid_or_expired());
    assert_eq!(app.session_count("1").await, 0);
    app.refresh(&second.refresh)
        .await
        .assert(StatusCode::UNAUTHORIZED, invalid_or_expired());
}

#[tokio::test]
async fn a_retry_within_the_reuse_interval_gets_the_identical_successor() {
    let app =
        TestApp::with(|settings| settings.tokens.reuse_interval = Duration::from_secs(10)).await;
    let first = app.login(ALICE, ALICE_PASSWORD).await;
    app.advance(5);
    let second = Tokens::from_response(&app.refresh(&first.refresh).await);

    app.advance(5);
    let retry = app.refresh(&first.refresh).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text());
    let retried = Tokens::from_response(&retry);
    assert_eq!(retried.refresh, second.refresh);
    assert_ne!(retried.access, second.access);
    assert_eq!(app.session_count("1").await, 1);

    // After the interval the same replay is theft.
    app.advance(6);
    app.refresh(&first.refresh)
        .await
        .assert(StatusCode::UNAUTHORIZED, invalid_or_expired());
    assert_eq!(app.session_count("1").await, 0);
}

#[tokio::test]
async fn refresh_without_a_token_is_a_validation_error() {
    let app = TestApp::new().await;
    let required = json!({"refresh": ["This field is required."]});
    app.send(Req::post("/refresh/"))
        .await
        .assert(StatusCode::BAD_REQUEST, required.clone());
    app.send(Req::post("/refresh/").cookie("refresh_token="))
        .await
        .assert(StatusCode::BAD_REQUEST, required.clone());
    // Cookie mode does not read the body.
    app.send(Req::post("/refresh/").raw("text/plain", "x"))
        .await
        .assert(StatusCode::BAD_REQUEST, required.clone());

    let body_mode = TestApp::body_mode().await;
    body_mode
        .send(Req::post("/refresh/").json(json!({})))
        .await
        .assert(StatusCode::BAD_REQUEST, required);
}

#[tokio::test]
async fn token_errors_are_reported_without_touching_the_session() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    let rejected = |detail: &str| json!({"detail": detail, "code": "token_not_valid"});

    app.refresh("garbage")
        .await
        .assert(StatusCode::UNAUTHORIZED, rejected("Token is invalid"));
    let signature = tokens.refresh.rfind('.').unwrap() + 1;
    let mut tampered = tokens.refresh.clone();
    let replacement = if tampered[signature..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(signature..=signature, replacement);
    app.refresh(&tampered)
        .await
        .assert(StatusCode::UNAUTHORIZED, rejected("Token is invalid"));
    app.refresh(&tokens.access)
        .await
        .assert(StatusCode::UNAUTHORIZED, rejected("Token has wrong type"));
    assert_eq!(app.session_count("1").await, 1);

    app.advance(14 * 24 * 3600);
    app.refresh(&tokens.refresh)
        .await
        .assert(StatusCode::UNAUTHORIZED, rejected("Token is expired"));
}

#[tokio::test]
async fn the_first_cookie_of_a_name_is_used() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    let response = app
        .send(Req::post("/refresh/").cookie(&format!(
            "other=1; refresh_token={}; refresh_token=garbage",
            tokens.refresh
        )))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

#[tokio::test]
async fn body_mode_rotates_the_body_token() {
    let app = TestApp::body_mode().await;
    let first = app.login(ALICE, ALICE_PASSWORD).await;
    let response = app.refresh(&first.refresh).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(response.set_cookies().is_empty());
    let second = Tokens::from_response(&response);
    assert_ne!(second.refresh, first.refresh);
    // A form body works too.
    let response = app
        .send(Req::post("/refresh/").form(&format!("refresh={}", second.refresh)))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

#[tokio::test]
async fn the_absolute_session_lifetime_caps_the_cookie_and_ends_the_session() {
    let app = TestApp::with(|settings| {
        settings.tokens.session_lifetime = Some(Duration::from_secs(3600))
    })
    .await;
    let login = app
        .send(Req::post("/login/").json(json!({"email": ALICE, "password": ALICE_PASSWORD})))
        .await;
    assert_eq!(login.cookie("refresh_token").unwrap().max_age(), 3600);
    let first = Tokens::from_response(&login);

    app.advance(1800);
    let response = app.refresh(&first.refresh).await;
    let cookie = response.cookie("refresh_token").unwrap();
    assert_eq!(cookie.max_age(), 1800);
    assert_eq!(claims(&cookie.value)["exp"], T0 + 3600);
    let second = Tokens::from_response(&response);
    assert_eq!(claims(&second.access)["exp"], T0 + 3600);

    // Past the deadline the genuine token is simply expired.
    app.advance(1800);
    app.refresh(&second.refresh).await.assert(
        StatusCode::UNAUTHORIZED,
        json!({"detail": "Token is expired", "code": "token_not_valid"}),
    );
}

#[tokio::test]
async fn a_token_from_before_a_shorter_lifetime_gets_session_expired() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    // The same cluster, restarted with a one-hour session lifetime, two hours later.
    let shorter = TestApp::on(app.store.clone(), app.accounts.clone(), |settings| {
        settings.tokens.session_lifetime = Some(Duration::from_secs(3600));
    });
    shorter.advance(7200);
    shorter.refresh(&tokens.refresh).await.assert(
        StatusCode::UNAUTHORIZED,
        json!({"detail": "Session has expired.", "code": "session_expired"}),
    );
    assert_eq!(app.session_count("1").await, 0);
}

#[tokio::test]
async fn a_role_change_shows_after_the_next_refresh() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    app.accounts.update(1, |user| user.role = 1000);
    assert_eq!(app.whoami(&tokens.access).await.json()["role"], 0);
    let rotated = Tokens::from_response(&app.refresh(&tokens.refresh).await);
    assert_eq!(app.whoami(&rotated.access).await.json()["role"], 1000);
    assert_eq!(claims(&rotated.refresh)["role"], 1000);
}

#[tokio::test]
async fn a_deactivated_or_deleted_user_is_cut_off_at_refresh() {
    let app = TestApp::new().await;
    let first = app.login(ALICE, ALICE_PASSWORD).await;
    let second = app.login(ALICE, ALICE_PASSWORD).await;
    app.accounts.update(1, |user| user.active = false);
    app.refresh(&first.refresh)
        .await
        .assert(StatusCode::UNAUTHORIZED, invalid_or_expired());
    // All of the user's sessions are gone, even after reactivation.
    assert_eq!(app.session_count("1").await, 0);
    app.accounts.update(1, |user| user.active = true);
    app.refresh(&second.refresh)
        .await
        .assert(StatusCode::UNAUTHORIZED, invalid_or_expired());

    let bob = app.login(BOB, BOB_PASSWORD).await;
    app.accounts.remove(2);
    app.refresh(&bob.refresh)
        .await
        .assert(StatusCode::UNAUTHORIZED, invalid_or_expired());
    assert_eq!(app.session_count("2").await, 0);
}

#[tokio::test]
async fn a_disabled_session_does_not_rotate() {
    let app = TestApp::new().await;
    app.accounts.update(1, |user| user.email_verified = false);
    let user = app.accounts.get(1);
    let pair = app
        .state
        .manager()
        .open_disabled_session(&user, &DeviceInfo::default(), at(T0))
        .await
        .unwrap();
    let refresh = pair.refresh.as_str().to_owned();
    app.refresh(&refresh).await.assert(
        StatusCode::UNAUTHORIZED,
        json!({"detail": "E-mail is not verified.", "code": "email_not_verified"}),
    );
    app.accounts.update(1, |user| user.email_verified = true);
    app.refresh(&refresh)
        .await
        .assert(StatusCode::UNAUTHORIZED, invalid_or_expired());
    // Nothing was deleted.
    assert_eq!(app.session_count("1").await, 1);
}

#[tokio::test]
async fn rotation_records_the_device_of_the_request() {
    let app = TestApp::new().await;
    let tokens = app
        .login_with(
            Req::post("/login/")
                .json(json!({"email": ALICE, "password": ALICE_PASSWORD}))
                .user_agent(CHROME)
                .peer("203.0.113.1"),
        )
        .await;
    app.advance(60);
    let response = app
        .send(
            app.with_refresh(Req::post("/refresh/"), &tokens.refresh)
                .user_agent(IPHONE)
                .peer("203.0.113.2"),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let sessions = app.state.manager().list_sessions("1").await.unwrap();
    assert_eq!(sessions[0].device.ip.as_deref(), Some("203.0.113.2"));
    assert_eq!(sessions[0].device.os.as_deref(), Some("iOS"));
    assert_eq!(sessions[0].last_used, at(T0 + 60));
}

#[tokio::test]
async fn an_unreachable_store_is_503() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    app.store.pool().close().await;
    app.refresh(&tokens.refresh).await.assert(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"detail": "Database unavailable.", "code": "service_unavailable"}),
    );
}
