//! The HTTP application in process, through `app(state)`: health, readiness (and 503 when
//! the database is gone) and the JSON fallbacks.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jwt_allauth::Settings;
use jwt_allauth_server::db::Database;
use jwt_allauth_server::passwords::Passwords;
use jwt_allauth_server::{AppState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn state() -> AppState {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    db.migrate().await.unwrap();
    let mut settings = Settings::default();
    settings.secret_key = Some(jwt_allauth::Secret::new(
        "test secret, long enough for HS256: 32+ bytes",
    ));
    settings.collect_user_agent = false;
    AppState::new(settings, db, Passwords::with_permits(2)).unwrap()
}

async fn call(
    router: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, body)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn health_ready_and_fallbacks() {
    let state = state().await;
    let router = app(state.clone()).await;
    assert_eq!(
        call(&router, get("/health/")).await.2,
        json!({"status": "ok"})
    );
    let (status, _, body) = call(&router, get("/ready/")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));

    let (status, headers, body) = call(
        &router,
        Request::delete("/ready/").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, json!({"detail": "Method \"DELETE\" not allowed."}));
    assert!(headers.contains_key(header::ALLOW));
    let (status, _, body) = call(&router, get("/missing/")).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );

    // The database goes away: /ready/ says so, /health/ does not care.
    state.db.close().await;
    let (status, _, body) = call(&router, get("/ready/")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"detail": "Database unavailable.", "code": "service_unavailable"})
    );
    assert_eq!(call(&router, get("/health/")).await.0, StatusCode::OK);
}
