use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn other_content_types_are_415() {
    let app = TestApp::new().await;
    app.send(Req::post("/login/").raw("text/plain", "email=a&password=b"))
        .await
        .assert(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"detail": "Unsupported media type \"text/plain\" in request."}),
        );
    app.send(Req::post("/login/").raw("text/plain; charset=utf-8", "x"))
        .await
        .assert(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"detail": "Unsupported media type \"text/plain; charset=utf-8\" in request."}),
        );
}

#[tokio::test]
async fn unparseable_json_is_400_without_echoing_the_body() {
    let app = TestApp::new().await;
    let body = format!("{{\"email\": \"{ALICE}\", \"password\": \"{ALICE_PASSWORD}\"");
    let response = app
        .send(Req::post("/login/").raw("application/json", &body))
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let detail = response.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("JSON parse error - "), "{detail}");
    assert!(!detail.contains(ALICE));

    let response = app
        .send(Req::post("/login/").raw("application/json; charset=utf-8", "{nope"))
        .await;
    assert_eq!(
        response.json(),
        json!({"detail": "JSON parse error - key must be a string at line 1 column 2"})
    );
}

#[tokio::test]
async fn json_that_is_not_an_object_is_400() {
    let app = TestApp::new().await;
    app.send(Req::post("/login/").raw("application/json", "[1]"))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        );
    app.send(Req::post("/login/").raw("application/json", "null"))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"non_field_errors": ["No data provided"]}),
        );
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let app = TestApp::new().await;
    let response = app.send(Req::get("/login/")).await;
    response.assert(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"detail": "Method \"GET\" not allowed."}),
    );
    assert_eq!(response.header("allow"), Some("POST"));

    let response = app.send(Req::delete("/user/")).await;
    response.assert(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"detail": "Method \"DELETE\" not allowed."}),
    );
    let allow = response.header("allow").unwrap();
    for method in ["GET", "HEAD", "PATCH", "PUT"] {
        assert!(allow.contains(method), "{allow}");
    }

    let response = app
        .send(Req::new(
            Method::GET,
            "/sessions/0123456789abcdef0123456789abcdef/",
        ))
        .await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.header("allow"), Some("DELETE"));

    for path in ["/refresh/", "/logout/", "/logout-all/", "/password/change/"] {
        let response = app.send(Req::get(path)).await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(response.header("allow"), Some("POST"), "{path}");
    }
    for path in ["/whoami/", "/sessions/"] {
        let response = app.send(Req::post(path)).await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(response.header("allow"), Some("GET,HEAD"), "{path}");
    }
}

#[tokio::test]
async fn the_last_value_of_a_repeated_form_field_wins() {
    let app = TestApp::new().await;
    let body = format!("email=nobody%40example.com&email={ALICE}&password={ALICE_PASSWORD}");
    let tokens = app.login_with(Req::post("/login/").form(&body)).await;
    assert_eq!(claims(&tokens.access)["user_id"], "1");
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = TestApp::new().await;
    let padding = "x".repeat(3 * 1024 * 1024);
    let response = app
        .send(Req::post("/login/").raw("application/json", &format!("{{\"p\":\"{padding}\"}}")))
        .await;
    response.assert(
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({"detail": "Request body too large."}),
    );
}
