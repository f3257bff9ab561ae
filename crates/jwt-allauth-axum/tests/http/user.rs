use axum::http::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn get_user_returns_the_profile() {
    let app = TestApp::new().await;
    app.accounts.update(1, |user| {
        user.first_name = "Alice".into();
        user.last_name = "Liddell".into();
    });
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    app.send(Req::get("/user/").bearer(&tokens.access))
        .await
        .assert(
            StatusCode::OK,
            json!({"email": ALICE, "first_name": "Alice", "last_name": "Liddell"}),
        );
}

#[tokio::test]
async fn patch_user_changes_the_names_and_never_the_email() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    app.send(
        Req::patch("/user/")
            .bearer(&tokens.access)
            .json(json!({"first_name": " Alice ", "email": "mallory@example.com", "role": 1000})),
    )
    .await
    .assert(
        StatusCode::OK,
        json!({"email": ALICE, "first_name": "Alice", "last_name": ""}),
    );
    assert_eq!(app.accounts.get(1).email, ALICE);
    assert_eq!(app.accounts.get(1).role, 0);

    // A form body, a blank value.
    app.send(
        Req::patch("/user/")
            .bearer(&tokens.access)
            .form("last_name=Liddell&first_name="),
    )
    .await
    .assert(
        StatusCode::OK,
        json!({"email": ALICE, "first_name": "", "last_name": "Liddell"}),
    );

    // PUT behaves the same (as in Django REST framework).
    let put = Req::new(axum::http::Method::PUT, "/user/")
        .bearer(&tokens.access)
        .json(json!({"first_name": "A"}));
    assert_eq!(app.send(put).await.json()["first_name"], "A");
}

#[tokio::test]
async fn patch_user_validates_the_fields() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    app.send(
        Req::patch("/user/")
            .bearer(&tokens.access)
            .json(json!({"first_name": "x".repeat(151), "last_name": null})),
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({
            "first_name": ["Ensure this field has no more than 150 characters."],
            "last_name": ["This field may not be null."],
        }),
    );
    assert_eq!(app.accounts.get(1).first_name, "");
}

#[tokio::test]
async fn a_deleted_or_deactivated_user_is_401_and_loses_their_sessions() {
    let app = TestApp::new().await;
    let first = app.login(ALICE, ALICE_PASSWORD).await;
    let second = app.login(ALICE, ALICE_PASSWORD).await;
    let invalid = json!({"detail": "Token is invalid or expired", "code": "token_not_valid"});
    app.accounts.update(1, |user| user.active = false);
    app.send(Req::get("/user/").bearer(&first.access))
        .await
        .assert(StatusCode::UNAUTHORIZED, invalid.clone());
    assert_eq!(app.session_count("1").await, 0);
    assert_eq!(
        app.refresh(&second.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );

    let bob = app.login(BOB, BOB_PASSWORD).await;
    app.accounts.remove(2);
    app.send(
        Req::patch("/user/")
            .bearer(&bob.access)
            .json(json!({"first_name": "B"})),
    )
    .await
    .assert(StatusCode::UNAUTHORIZED, invalid);
    assert_eq!(app.session_count("2").await, 0);
}

#[tokio::test]
async fn user_store_failures_are_503_or_500() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    app.accounts.fail(Failure::Unavailable);
    app.send(Req::get("/user/").bearer(&tokens.access))
        .await
        .assert(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"detail": "Database unavailable.", "code": "service_unavailable"}),
        );
    app.accounts.fail(Failure::Broken);
    app.send(Req::get("/user/").bearer(&tokens.access))
        .await
        .assert(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"detail": "Internal server error."}),
        );
    // Nothing was revoked on a failure.
    app.accounts.fail(Failure::None);
    assert_eq!(app.session_count("1").await, 1);
}
