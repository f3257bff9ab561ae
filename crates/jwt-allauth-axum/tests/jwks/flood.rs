//! A flood of tokens naming unknown `kid`s costs at most one fetch per interval.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use jwt_allauth_axum::jwks::RemoteKeySet;
use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{Answer, Issuer, JwksServer, me_status, random_kid, service};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_interval() {
    let issuer = Issuer::new("k1");
    let server = JwksServer::start(Answer::keys(&[&issuer])).await;
    let keys = RemoteKeySet::builder(server.url())
        .unknown_key_interval(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    assert_eq!(server.fetches(), 1, "the key set is fetched once at start");
    let app = Arc::new(service(keys));
    let attacker = Issuer::new("attacker");

    // 1000 tokens, each with a fresh random kid, 50 requests at a time.
    let mut requests = JoinSet::new();
    for _ in 0..50 {
        let app = Arc::clone(&app);
        let tokens: Vec<String> = (0..20)
            .map(|_| {
                attacker
                    .token_with_header(&json!({"alg": "EdDSA", "typ": "JWT", "kid": random_kid()}))
            })
            .collect();
        requests.spawn(async move {
            let mut statuses = Vec::new();
            for token in tokens {
                statuses.push(me_status(&app, &token).await);
            }
            statuses
        });
    }
    let mut refused = 0;
    while let Some(statuses) = requests.join_next().await {
        for status in statuses.unwrap() {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            refused += 1;
        }
    }
    assert_eq!(refused, 1000);
    assert_eq!(
        server.fetches(),
        2,
        "1000 unknown kids within the interval: one fetch besides the first"
    );
    // The issuer's own tokens verify all along, with no fetch.
    assert_eq!(me_status(&app, &issuer.token(0)).await, StatusCode::OK);
    assert_eq!(server.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_short_interval_the_fetches_follow_the_interval() {
    let issuer = Issuer::new("k1");
    let server = JwksServer::start(Answer::keys(&[&issuer])).await;
    let interval = Duration::from_millis(200);
    let keys = RemoteKeySet::builder(server.url())
        .unknown_key_interval(interval)
        .build()
        .await
        .unwrap();
    let app = Arc::new(service(keys));
    let attacker = Issuer::new("attacker");
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..200)
            .map(|_| attacker.token_with_header(&json!({"alg": "EdDSA", "kid": random_kid()})))
            .collect(),
    );

    // Four clients sending forged tokens for a second.
    let start = Instant::now();
    let mut clients = JoinSet::new();
    for client in 0..4 {
        let (app, tokens) = (Arc::clone(&app), Arc::clone(&tokens));
        clients.spawn(async move {
            let mut sent = 0usize;
            while start.elapsed() < Duration::from_secs(1) {
                let token = &tokens[(client * 50 + sent) % tokens.len()];
                assert_eq!(me_status(&app, token).await, StatusCode::UNAUTHORIZED);
                sent += 1;
            }
            sent
        });
    }
    let mut sent = 0;
    while let Some(count) = clients.join_next().await {
        sent += count.unwrap();
    }
    let elapsed = start.elapsed();
    let flood_fetches = server.fetches() - 1;
    let allowed = (elapsed.as_millis() / interval.as_millis()) as usize + 1;
    assert!(
        flood_fetches >= 1 && flood_fetches <= allowed,
        "{sent} forged tokens in {elapsed:?}: {flood_fetches} fetches, at most {allowed} allowed"
    );
    assert!(
        sent > 10 * allowed,
        "the flood was a flood: {sent} requests"
    );
}
