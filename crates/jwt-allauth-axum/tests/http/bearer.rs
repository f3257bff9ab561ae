use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

fn not_provided() -> Value {
    json!({"detail": "Authentication credentials were not provided."})
}

fn bad_header() -> Value {
    json!({
        "detail": "Authorization header must contain two space-delimited values",
        "code": "bad_authorization_header",
    })
}

fn not_valid(message: &str) -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
    })
}

#[tokio::test]
async fn bearer_failures_have_the_contract_bodies() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    let unauthorized = StatusCode::UNAUTHORIZED;

    app.send(Req::get("/whoami/"))
        .await
        .assert(unauthorized, not_provided());
    app.send(Req::get("/whoami/").header("authorization", "Basic YTpi"))
        .await
        .assert(unauthorized, not_provided());
    app.send(Req::get("/whoami/").header("authorization", ""))
        .await
        .assert(unauthorized, not_provided());
    app.send(Req::get("/whoami/").header("authorization", "Bearer"))
        .await
        .assert(unauthorized, bad_header());
    app.send(Req::get("/whoami/").header("authorization", "Bearer a b"))
        .await
        .assert(unauthorized, bad_header());
    let twice = Req::get("/whoami/")
        .bearer(&tokens.access)
        .bearer(&tokens.access);
    app.send(twice).await.assert(unauthorized, bad_header());
    app.send(Req::get("/whoami/").bearer("garbage"))
        .await
        .assert(unauthorized, not_valid("Token is invalid"));
    app.send(Req::get("/whoami/").bearer(&tokens.refresh))
        .await
        .assert(unauthorized, not_valid("Token has wrong type"));

    // Any case of the scheme is accepted (RFC 9110).
    let lower = Req::get("/whoami/").header("authorization", &format!("bearer {}", tokens.access));
    assert_eq!(app.send(lower).await.status, StatusCode::OK);

    app.advance(30 * 60);
    app.send(Req::get("/whoami/").bearer(&tokens.access))
        .await
        .assert(unauthorized, not_valid("Token is expired"));
}

#[tokio::test]
async fn every_protected_route_rejects_a_missing_token() {
    let app = TestApp::new().await;
    let requests = [
        Req::post("/logout/"),
        Req::post("/logout-all/"),
        Req::get("/user/"),
        Req::patch("/user/").json(json!({"first_name": "x"})),
        Req::post("/password/change/").json(json!({})),
        Req::get("/whoami/"),
        Req::get("/sessions/"),
        Req::delete("/sessions/0123456789abcdef0123456789abcdef/"),
    ];
    for request in requests {
        // `send` checks WWW-Authenticate on every 401.
        app.send(request)
            .await
            .assert(StatusCode::UNAUTHORIZED, not_provided());
    }
}

#[tokio::test]
async fn whoami_returns_the_access_token_claims() {
    let app = TestApp::new().await;
    let tokens = app.login(BOB, BOB_PASSWORD).await;
    let response = app.whoami(&tokens.access).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), claims(&tokens.access));
    let body = response.json();
    assert_eq!(body["user_id"], "2");
    assert_eq!(body["role"], 1000);
    assert_eq!(body["token_type"], "access");
    assert_eq!(body["email_verified"], true);
}

#[tokio::test]
async fn access_tokens_are_stateless_without_the_session_check() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    let logout = app
        .send(app.with_refresh(
            Req::post("/logout/").bearer(&tokens.access),
            &tokens.refresh,
        ))
        .await;
    assert_eq!(logout.status, StatusCode::OK);
    assert_eq!(app.whoami(&tokens.access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn with_the_session_check_a_closed_session_rejects_its_access_token() {
    let app = TestApp::with(|settings| settings.tokens.access_token_session_check = true).await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    assert_eq!(app.whoami(&tokens.access).await.status, StatusCode::OK);
    let logout = app
        .send(app.with_refresh(
            Req::post("/logout/").bearer(&tokens.access),
            &tokens.refresh,
        ))
        .await;
    assert_eq!(logout.status, StatusCode::OK);
    app.whoami(&tokens.access).await.assert(
        StatusCode::UNAUTHORIZED,
        json!({"detail": "Session is no longer active.", "code": "token_not_valid"}),
    );

    // And with the store unreachable the check answers 503, never 500 or 200.
    let other = app.login(ALICE, ALICE_PASSWORD).await;
    app.store.pool().close().await;
    app.whoami(&other.access).await.assert(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"detail": "Database unavailable.", "code": "service_unavailable"}),
    );
}
