use axum::http::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn sessions_are_listed_newest_first_with_the_current_flag() {
    let app = TestApp::new().await;
    let laptop = app
        .login_with(
            Req::post("/login/")
                .json(json!({"email": ALICE, "password": ALICE_PASSWORD}))
                .user_agent(CHROME)
                .peer("203.0.113.1"),
        )
        .await;
    app.advance(60);
    let phone = app
        .login_with(
            Req::post("/login/")
                .json(json!({"email": ALICE, "password": ALICE_PASSWORD}))
                .user_agent(IPHONE)
                .peer("203.0.113.2"),
        )
        .await;
    app.login(BOB, BOB_PASSWORD).await;

    let response = app
        .send(Req::get("/sessions/").bearer(&laptop.access))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let list = response.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);

    let newest = &list[0];
    assert_eq!(newest["session"], phone.session());
    assert_eq!(newest["current"], false);
    assert_eq!(newest["created"], "2027-01-15T08:01:00Z");
    assert_eq!(newest["ip"], "203.0.113.2");
    assert_eq!(newest["os"], "iOS");
    assert_eq!(newest["is_mobile"], true);

    let oldest = &list[1];
    assert_eq!(oldest["session"], laptop.session());
    assert_eq!(oldest["current"], true);
    assert_eq!(oldest["created"], "2027-01-15T08:00:00Z");
    assert_eq!(oldest["last_used"], "2027-01-15T08:00:00Z");
    assert_eq!(oldest["expires_at"], "2027-01-29T08:00:00Z");
    assert_eq!(oldest["browser"], "Chrome");
    assert_eq!(oldest["is_pc"], true);

    let mut keys: Vec<_> = oldest.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    let mut expected = [
        "session",
        "created",
        "last_used",
        "expires_at",
        "ip",
        "browser",
        "browser_version",
        "os",
        "os_version",
        "device",
        "device_brand",
        "device_model",
        "is_mobile",
        "is_tablet",
        "is_pc",
        "is_bot",
        "current",
    ];
    expected.sort();
    assert_eq!(keys, expected);
}

#[tokio::test]
async fn deleting_a_session_is_limited_to_ones_own() {
    let app = TestApp::new().await;
    let laptop = app.login(ALICE, ALICE_PASSWORD).await;
    let phone = app.login(ALICE, ALICE_PASSWORD).await;
    let bob = app.login(BOB, BOB_PASSWORD).await;
    let not_found = json!({"detail": "Not found."});

    let path = format!("/sessions/{}/", phone.session());
    let response = app.send(Req::delete(&path).bearer(&laptop.access)).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(response.body.is_empty());
    assert_eq!(
        app.refresh(&phone.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.send(Req::delete(&path).bearer(&laptop.access))
        .await
        .assert(StatusCode::NOT_FOUND, not_found.clone());

    let bobs = format!("/sessions/{}/", bob.session());
    app.send(Req::delete(&bobs).bearer(&laptop.access))
        .await
        .assert(StatusCode::NOT_FOUND, not_found);
    assert_eq!(app.session_count("2").await, 1);
    assert_eq!(app.session_count("1").await, 1);
}
