use axum::http::StatusCode;
use jwt_allauth::DeviceInfo;
use serde_json::{Value, json};

use crate::common::*;

fn change(access: &str, old: &str, new1: &str, new2: &str) -> Req {
    Req::post("/password/change/").bearer(access).json(json!({
        "old_password": old,
        "new_password1": new1,
        "new_password2": new2,
    }))
}

fn wrong_old() -> Value {
    json!({"old_password": ["Your old password was entered incorrectly. Please enter it again."]})
}

#[tokio::test]
async fn a_password_change_revokes_everything_and_opens_a_new_session() {
    let app = TestApp::new().await;
    let here = app.login(ALICE, ALICE_PASSWORD).await;
    let elsewhere = app.login(ALICE, ALICE_PASSWORD).await;
    let bob = app.login(BOB, BOB_PASSWORD).await;
    let reset = app
        .state
        .manager()
        .make_purpose_token("1", "password_reset", &DeviceInfo::default(), at(T0))
        .await
        .unwrap();

    let response = app
        .send(change(
            &here.access,
            ALICE_PASSWORD,
            NEW_PASSWORD,
            NEW_PASSWORD,
        ))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let body = response.json();
    assert_eq!(body["detail"], "New password has been saved.");
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["access", "detail"]);
    let new = Tokens::from_response(&response);
    assert_ne!(new.session(), here.session());

    // Every previous session and purpose token is gone; Bob's session is not.
    for old in [&here.refresh, &elsewhere.refresh] {
        assert_eq!(app.refresh(old).await.status, StatusCode::UNAUTHORIZED);
    }
    let consumed = app
        .state
        .manager()
        .consume_purpose_token("1", "password_reset", reset.as_str(), at(T0))
        .await
        .unwrap();
    assert!(consumed.is_none());
    assert_eq!(app.session_count("2").await, 1);
    assert_eq!(app.refresh(&bob.refresh).await.status, StatusCode::OK);

    // The new session works, and so does the new password; the old one does not.
    assert_eq!(app.session_count("1").await, 1);
    assert_eq!(app.refresh(&new.refresh).await.status, StatusCode::OK);
    assert_eq!(app.whoami(&new.access).await.status, StatusCode::OK);
    app.login(ALICE, NEW_PASSWORD).await;
    let old = app
        .send(Req::post("/login/").json(json!({"email": ALICE, "password": ALICE_PASSWORD})))
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_change_in_body_mode_returns_the_refresh_token() {
    let app = TestApp::body_mode().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    let response = app
        .send(change(
            &tokens.access,
            ALICE_PASSWORD,
            NEW_PASSWORD,
            NEW_PASSWORD,
        ))
        .await;
    let body = response.json();
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["access", "detail", "refresh"]);
    assert!(response.set_cookies().is_empty());
}

#[tokio::test]
async fn password_change_errors() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;

    app.send(change(
        &tokens.access,
        ALICE_PASSWORD,
        NEW_PASSWORD,
        "something-else",
    ))
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"new_password2": ["The two password fields didn't match."]}),
    );
    app.send(change(
        &tokens.access,
        WRONG_PASSWORD,
        NEW_PASSWORD,
        NEW_PASSWORD,
    ))
    .await
    .assert(StatusCode::BAD_REQUEST, wrong_old());
    // A wrong old password is reported before a mismatch.
    app.send(change(
        &tokens.access,
        WRONG_PASSWORD,
        NEW_PASSWORD,
        "something-else",
    ))
    .await
    .assert(StatusCode::BAD_REQUEST, wrong_old());

    let required = ["This field is required."];
    app.send(
        Req::post("/password/change/")
            .bearer(&tokens.access)
            .json(json!({})),
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"old_password": required, "new_password1": required, "new_password2": required}),
    );
    app.send(
        Req::post("/password/change/")
            .bearer(&tokens.access)
            .form(&format!(
                "old_password={ALICE_PASSWORD}&new_password1=&new_password2=%20"
            )),
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({
            "new_password1": ["This field may not be blank."],
            "new_password2": ["This field may not be blank."],
        }),
    );

    // Nothing changed.
    assert_eq!(app.accounts.get(1).password, ALICE_PASSWORD);
    assert_eq!(app.session_count("1").await, 1);
}

/// Issue 12: a new password follows the password rules of sign-up, with Django's
/// messages under `new_password2`; the old password is still verified first, and a weak
/// password changes nothing, so the user fixes it and retries.
#[tokio::test]
async fn a_weak_new_password_is_refused_with_the_rules_messages() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;

    for (weak, messages) in [
        (
            "12345678",
            json!([
                "This password is too common.",
                "This password is entirely numeric."
            ]),
        ),
        (
            "short",
            json!(["This password is too short. It must contain at least 8 characters."]),
        ),
        (
            "alice@example.com1",
            json!(["The password is too similar to the email address."]),
        ),
    ] {
        app.send(change(&tokens.access, ALICE_PASSWORD, weak, weak))
            .await
            .assert(
                StatusCode::BAD_REQUEST,
                json!({ "new_password2": messages }),
            );
        // A wrong old password is reported before the rules.
        app.send(change(&tokens.access, WRONG_PASSWORD, weak, weak))
            .await
            .assert(StatusCode::BAD_REQUEST, wrong_old());
    }

    // Nothing changed; the same request with a good password then succeeds.
    assert_eq!(app.accounts.get(1).password, ALICE_PASSWORD);
    assert_eq!(app.session_count("1").await, 1);
    let response = app
        .send(change(
            &tokens.access,
            ALICE_PASSWORD,
            NEW_PASSWORD,
            NEW_PASSWORD,
        ))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}
