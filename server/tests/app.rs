//! The HTTP application in process, through `app(state)`: health, readiness (and 503 when
//! the database is gone) and the JSON fallbacks.

#![allow(clippy::unwrap_used)]

mod inprocess;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jwt_allauth_server::app;
use serde_json::json;

use inprocess::{call, state};

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
