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
    // No feed runs in process: the revocation set was never brought up to date, so
    // access-token checks ask the database, and /ready/ says so (still 200).
    let (status, _, body) = call(&router, get("/ready/")).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"status": "ok", "revocation_feed": "fallback"})
        )
    );
    let set = state.manager().revocations().unwrap();
    set.confirm_caught_up(time::OffsetDateTime::now_utc());
    let (status, _, body) = call(&router, get("/ready/")).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"status": "ok", "revocation_feed": "live"})
        )
    );
    // Caught up more than the bound (1 s) ago: behind again.
    set.confirm_caught_up(time::OffsetDateTime::now_utc() - time::Duration::seconds(2));
    let (_, _, body) = call(&router, get("/ready/")).await;
    assert_eq!(body["revocation_feed"], "fallback");

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

#[tokio::test]
async fn ready_says_when_the_revocation_feed_is_off() {
    let state = inprocess::state_with(
        |config| config.server.revocation_feed = false,
        jwt_allauth_server::passwords::Passwords::with_permits(1),
    )
    .await;
    let router = app(state).await;
    let (status, _, body) = call(&router, get("/ready/")).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"status": "ok", "revocation_feed": "off"})
        )
    );
}
