use axum::http::StatusCode;
use serde_json::json;

use crate::common::*;

fn assert_cleared(response: &Resp) {
    let cookie = response.cookie("refresh_token").expect("a clearing cookie");
    assert_eq!(cookie.value, "");
    assert_eq!(cookie.max_age(), 0);
    assert_eq!(cookie.attribute("Path").as_deref(), Some("/"));
    assert_eq!(
        cookie.attribute("Expires").as_deref(),
        Some("Thu, 01 Jan 1970 00:00:00 GMT")
    );
    assert!(cookie.attribute("HttpOnly").is_some());
    assert!(cookie.attribute("Secure").is_some());
}

#[tokio::test]
async fn logout_closes_the_session_and_clears_the_cookie() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    let other = app.login(ALICE, ALICE_PASSWORD).await;
    let response = app
        .send(
            Req::post("/logout/")
                .bearer(&tokens.access)
                .cookie(&format!("refresh_token={}", tokens.refresh)),
        )
        .await;
    response.assert(
        StatusCode::OK,
        json!({"detail": "Successfully logged out."}),
    );
    assert_cleared(&response);
    app.refresh(&tokens.refresh).await.assert(
        StatusCode::UNAUTHORIZED,
        json!({"detail": "Token is invalid or expired", "code": "token_not_valid"}),
    );
    // Only that session.
    assert_eq!(app.session_count("1").await, 1);
    assert_eq!(app.refresh(&other.refresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_without_the_cookie_is_400() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    let response = app.send(Req::post("/logout/").bearer(&tokens.access)).await;
    response.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "Refresh token cookie not found."}),
    );
    assert!(response.set_cookies().is_empty());
    assert_eq!(app.session_count("1").await, 1);
}

#[tokio::test]
async fn logout_with_another_users_or_an_invalid_token_deletes_nothing() {
    let app = TestApp::new().await;
    let alice = app.login(ALICE, ALICE_PASSWORD).await;
    let bob = app.login(BOB, BOB_PASSWORD).await;
    for token in [bob.refresh.as_str(), "garbage", alice.access.as_str()] {
        let response = app
            .send(
                Req::post("/logout/")
                    .bearer(&alice.access)
                    .cookie(&format!("refresh_token={token}")),
            )
            .await;
        response.assert(StatusCode::BAD_REQUEST, json!({"detail": "Invalid token."}));
        assert!(response.set_cookies().is_empty());
    }
    assert_eq!(app.session_count("1").await, 1);
    assert_eq!(app.session_count("2").await, 1);
}

#[tokio::test]
async fn an_already_rotated_token_of_ones_own_session_still_logs_out() {
    let app = TestApp::new().await;
    let first = app.login(ALICE, ALICE_PASSWORD).await;
    let second = Tokens::from_response(&app.refresh(&first.refresh).await);
    let response = app
        .send(
            Req::post("/logout/")
                .bearer(&second.access)
                .cookie(&format!("refresh_token={}", first.refresh)),
        )
        .await;
    response.assert(
        StatusCode::OK,
        json!({"detail": "Successfully logged out."}),
    );
    assert_eq!(app.session_count("1").await, 0);
}

#[tokio::test]
async fn logout_in_body_mode_reads_the_refresh_field() {
    let app = TestApp::body_mode().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    app.send(Req::post("/logout/").bearer(&tokens.access).json(json!({})))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"refresh": ["This field is required."]}),
        );
    let response = app
        .send(
            Req::post("/logout/")
                .bearer(&tokens.access)
                .json(json!({"refresh": tokens.refresh})),
        )
        .await;
    response.assert(
        StatusCode::OK,
        json!({"detail": "Successfully logged out."}),
    );
    assert!(response.set_cookies().is_empty());
    assert_eq!(app.session_count("1").await, 0);
}

#[tokio::test]
async fn logout_all_closes_every_session_of_the_caller_only() {
    let app = TestApp::new().await;
    let first = app.login(ALICE, ALICE_PASSWORD).await;
    let second = app.login(ALICE, ALICE_PASSWORD).await;
    let bob = app.login(BOB, BOB_PASSWORD).await;
    let response = app
        .send(Req::post("/logout-all/").bearer(&first.access))
        .await;
    response.assert(
        StatusCode::OK,
        json!({"detail": "Successfully logged out from all devices."}),
    );
    assert_cleared(&response);
    assert_eq!(app.session_count("1").await, 0);
    for refresh in [&first.refresh, &second.refresh] {
        assert_eq!(app.refresh(refresh).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.refresh(&bob.refresh).await.status, StatusCode::OK);
}
