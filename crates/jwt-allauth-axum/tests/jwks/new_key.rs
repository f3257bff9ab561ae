//! A key the issuer adds to its set is used on the first token that names it.

use std::time::Duration;

use axum::http::StatusCode;
use jwt_allauth_axum::jwks::RemoteKeySet;

use crate::support::{Answer, Issuer, JwksServer, eventually, me_status, service};

#[tokio::test]
async fn a_new_key_is_picked_up_on_first_use() {
    let k1 = Issuer::new("k1");
    let server = JwksServer::start(Answer::keys(&[&k1])).await;
    let keys = RemoteKeySet::builder(server.url())
        .unknown_key_interval(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let app = service(keys);
    assert_eq!(me_status(&app, &k1.token(0)).await, StatusCode::OK);
    assert_eq!(server.fetches(), 1);

    // The issuer publishes k2 and signs with it: the first k2 token is accepted.
    let k2 = Issuer::new("k2");
    server.set(Answer::keys(&[&k1, &k2]));
    assert_eq!(me_status(&app, &k2.token(0)).await, StatusCode::OK);
    assert_eq!(server.fetches(), 2, "one fetch for the new kid");
    assert_eq!(me_status(&app, &k2.token(0)).await, StatusCode::OK);
    assert_eq!(me_status(&app, &k1.token(0)).await, StatusCode::OK);
    assert_eq!(server.fetches(), 2);

    // Another new key within the interval waits for the interval (or the background
    // refresh): refused, with no fetch.
    let k3 = Issuer::new("k3");
    server.set(Answer::keys(&[&k2, &k3]));
    assert_eq!(
        me_status(&app, &k3.token(0)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn a_new_key_is_picked_up_once_the_interval_has_passed() {
    let k1 = Issuer::new("k1");
    let server = JwksServer::start(Answer::keys(&[&k1])).await;
    let interval = Duration::from_millis(300);
    let keys = RemoteKeySet::builder(server.url())
        .unknown_key_interval(interval)
        .build()
        .await
        .unwrap();
    let app = service(keys);
    let k2 = Issuer::new("k2");
    // Named before it is published: one fetch, refused.
    assert_eq!(
        me_status(&app, &k2.token(0)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.fetches(), 2);
    server.set(Answer::keys(&[&k1, &k2]));
    let token = k2.token(0);
    assert!(
        eventually(Duration::from_secs(10), async || me_status(&app, &token)
            .await
            == StatusCode::OK)
        .await,
        "k2 is accepted once the interval has passed"
    );
    assert_eq!(server.fetches(), 3, "one more fetch, after the interval");
}
