//! The key set is refreshed in the background after the answer's `max-age`, until the
//! last handle is dropped.

use std::time::Duration;

use axum::http::StatusCode;
use jwt_allauth_axum::jwks::RemoteKeySet;

use crate::support::{Answer, Issuer, JwksServer, eventually, me_status, service};

fn has_kid(keys: &RemoteKeySet, kid: &str) -> bool {
    keys.keys()
        .verifying_keys()
        .iter()
        .any(|key| key.key_id() == Some(kid))
}

#[tokio::test]
async fn keys_are_refreshed_in_the_background_after_max_age() {
    let k1 = Issuer::new("k1");
    let server = JwksServer::start(Answer::keys_with_max_age(&[&k1], Some(1))).await;
    let keys = RemoteKeySet::builder(server.url())
        .refresh_bounds(Duration::from_millis(100), Duration::from_secs(3600))
        .unknown_key_interval(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let app = service(keys.clone());
    let k1_token = k1.token(0);
    assert_eq!(me_status(&app, &k1_token).await, StatusCode::OK);

    // The issuer rotates: k2 replaces k1. No token names k2 yet; the refresh finds it.
    let k2 = Issuer::new("k2");
    server.set(Answer::keys_with_max_age(&[&k2], Some(1)));
    assert!(
        eventually(Duration::from_secs(10), async || has_kid(&keys, "k2")).await,
        "k2 arrives with a background refresh"
    );
    assert!(!has_kid(&keys, "k1"));
    let fetches = server.fetches();
    assert!(fetches >= 2);
    assert_eq!(me_status(&app, &k2.token(0)).await, StatusCode::OK);
    assert_eq!(me_status(&app, &k1_token).await, StatusCode::UNAUTHORIZED);

    // A failed refresh keeps the keys; the next good one is used.
    server.set(Answer::Garbage);
    let failed = server.fetches();
    assert!(eventually(Duration::from_secs(10), async || server.fetches() > failed).await);
    assert!(has_kid(&keys, "k2"));
    assert_eq!(me_status(&app, &k2.token(0)).await, StatusCode::OK);

    // Once every handle is gone, so is the refresh.
    server.set(Answer::keys_with_max_age(&[&k2], Some(1)));
    drop(app);
    drop(keys);
    let after_drop = server.fetches();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        server.fetches() <= after_drop + 1,
        "no refresh after the last handle is dropped ({} → {})",
        after_drop,
        server.fetches()
    );
}

#[tokio::test]
async fn a_refresh_with_the_same_keys_keeps_the_verified_tokens() {
    let k1 = Issuer::new("k1");
    let server = JwksServer::start(Answer::keys_with_max_age(&[&k1], Some(0))).await;
    let build = |cache: usize| {
        RemoteKeySet::builder(server.url())
            .refresh_bounds(Duration::from_millis(50), Duration::from_secs(3600))
            .verified_token_cache(cache)
            .build()
    };
    let keys = build(jwt_allauth::keys::DEFAULT_VERIFIED_TOKENS)
        .await
        .unwrap();
    let uncached = build(0).await.unwrap();
    let (app, app_uncached) = (service(keys.clone()), service(uncached.clone()));
    let token = k1.token(0);
    assert_eq!(me_status(&app, &token).await, StatusCode::OK);
    assert_eq!(me_status(&app_uncached, &token).await, StatusCode::OK);
    assert_eq!(keys.keys().verified_tokens_cached(), 1);
    assert_eq!(uncached.keys().verified_tokens_cached(), 0);

    // Several background refreshes answer the same key set: the ring, and what it
    // verified, stay.
    let fetched = server.fetches();
    assert!(
        eventually(Duration::from_secs(10), async || server.fetches()
            >= fetched + 4)
        .await
    );
    assert_eq!(keys.keys().verified_tokens_cached(), 1);
    assert_eq!(me_status(&app, &token).await, StatusCode::OK);
}
