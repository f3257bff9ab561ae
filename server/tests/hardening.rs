//! The server's hardening, through `app(state)`: security headers on every response, the
//! request body limit, the request header limit.

#![allow(clippy::unwrap_used)]

mod inprocess;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jwt_allauth_server::{BODY_LIMIT, HEADER_LIMIT, app};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn router() -> axum::Router {
    app(inprocess::state().await).await
}

async fn call(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers: serde_json::Map<String, Value> = [
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "cache-control",
    ]
    .into_iter()
    .map(|name| {
        let values: Vec<Value> = response
            .headers()
            .get_all(name)
            .iter()
            .map(|value| Value::from(value.to_str().unwrap()))
            .collect();
        (name.to_owned(), Value::Array(values))
    })
    .collect();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, Value::Object(headers), body)
}

fn security_headers() -> Value {
    json!({
        "x-content-type-options": ["nosniff"],
        "x-frame-options": ["DENY"],
        "referrer-policy": ["no-referrer"],
        "cache-control": ["no-store"],
    })
}

fn login(body: Body) -> Request<Body> {
    Request::post("/login/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap()
}

#[tokio::test]
async fn every_response_carries_the_security_headers_once() {
    let router = router().await;
    let requests = [
        (Request::get("/health/"), StatusCode::OK),
        (Request::get("/ready/"), StatusCode::OK),
        (Request::get("/openapi.json"), StatusCode::OK),
        (Request::get("/nowhere/"), StatusCode::NOT_FOUND),
        (Request::post("/health/"), StatusCode::METHOD_NOT_ALLOWED),
        (Request::get("/whoami/"), StatusCode::UNAUTHORIZED),
        (Request::post("/refresh/"), StatusCode::BAD_REQUEST),
    ];
    for (request, expected) in requests {
        let request = request.body(Body::empty()).unwrap();
        let path = request.uri().path().to_owned();
        let (status, headers, _) = call(&router, request).await;
        assert_eq!(status, expected, "{path}");
        assert_eq!(headers, security_headers(), "{path}");
    }
    // A failed login (JSON body, 401) too.
    let body = json!({"email": "nobody@example.com", "password": "wrong password"});
    let (status, headers, _) = call(&router, login(Body::from(body.to_string()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers, security_headers());
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let router = router().await;
    let padding = "x".repeat(BODY_LIMIT);
    let body = json!({"email": "a@example.com", "password": padding}).to_string();
    // With a Content-Length ...
    let mut request = login(Body::from(body.clone()));
    request
        .headers_mut()
        .insert(header::CONTENT_LENGTH, body.len().into());
    let (status, headers, body_json) = call(&router, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body_json, json!({"detail": "Request body too large."}));
    assert_eq!(headers, security_headers());
    // ... and streamed without one.
    let stream = futures_stream(body);
    let (status, _, body_json) = call(&router, login(stream)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body_json, json!({"detail": "Request body too large."}));
    // Just under the limit is read (and answered as a failed login).
    let small = json!({"email": "a@example.com", "password": "x".repeat(BODY_LIMIT / 2)});
    let (status, _, _) = call(&router, login(Body::from(small.to_string()))).await;
    assert_ne!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// An error answer to a request with a body says `Connection: close` (the body may be
/// unread, so the connection cannot be reused); a success keeps the connection.
#[tokio::test]
async fn an_error_answer_to_a_request_with_a_body_closes_the_connection() {
    let router = router().await;
    let connection = |response: &axum::response::Response| {
        response
            .headers()
            .get(header::CONNECTION)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let body = json!({"email": "a@example.com", "password": "x".repeat(BODY_LIMIT)}).to_string();
    let mut request = login(Body::from(body.clone()));
    request
        .headers_mut()
        .insert(header::CONTENT_LENGTH, body.len().into());
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(connection(&response).as_deref(), Some("close"));

    let health = Request::get("/health/").body(Body::empty()).unwrap();
    let response = router.clone().oneshot(health).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(connection(&response), None);
}

/// A body of unknown length: `text` in 1 KiB chunks.
fn futures_stream(text: String) -> Body {
    let chunks: Vec<Result<axum::body::Bytes, std::convert::Infallible>> = text
        .into_bytes()
        .chunks(1024)
        .map(|chunk| Ok(axum::body::Bytes::copy_from_slice(chunk)))
        .collect();
    Body::from_stream(futures::stream::iter(chunks))
}

/// The documented 431 body.
fn headers_too_large() -> Value {
    json!({"detail": "Request header fields too large.", "code": "headers_too_large"})
}

#[tokio::test]
async fn a_header_block_over_the_limit_is_431() {
    let router = router().await;
    let token = "x".repeat(64 * 1024);
    let requests = [
        // One huge credential, on a route that reads it and on one that does not.
        Request::get("/whoami/").header(header::AUTHORIZATION, format!("Bearer {token}")),
        Request::get("/health/").header(header::AUTHORIZATION, format!("Bearer {token}")),
        Request::post("/refresh/").header(header::COOKIE, format!("refresh_token={token}")),
        Request::get("/nowhere/").header(header::USER_AGENT, token.clone()),
    ];
    for request in requests {
        let request = request.body(Body::empty()).unwrap();
        let path = request.uri().path().to_owned();
        let (status, headers, body) = call(&router, request).await;
        assert_eq!(
            status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{path}"
        );
        assert_eq!(body, headers_too_large(), "{path}");
        assert_eq!(headers, security_headers(), "{path}");
    }
    // Many small headers that add up count too.
    let mut request = Request::get("/health/");
    for i in 0..100 {
        request = request.header(format!("x-padding-{i}"), "p".repeat(200));
    }
    let (status, _, body) = call(&router, request.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(body, headers_too_large());
}

#[tokio::test]
async fn a_header_block_at_the_limit_reaches_the_routes() {
    let router = router().await;
    // "x-padding: <value>\r\n": 13 bytes besides the value.
    let at_limit = "p".repeat(HEADER_LIMIT - 13);
    let request = Request::get("/health/")
        .header("x-padding", at_limit.as_str())
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
    let over = format!("{at_limit}p");
    let request = Request::get("/health/")
        .header("x-padding", over.as_str())
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = call(&router, request).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // A token over the token limit (8 KiB) but under the header limit reaches the
    // verifier, which refuses it as invalid.
    let request = Request::get("/whoami/")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", "x".repeat(12 * 1024)),
        )
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_not_valid");
}
