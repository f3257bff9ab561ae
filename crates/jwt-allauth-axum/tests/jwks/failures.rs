//! A failed fetch keeps the last good key set.

use std::time::Duration;

use axum::http::StatusCode;
use jwt_allauth_axum::jwks::{JwksError, RemoteKeySet};
use serde_json::json;

use crate::support::{Answer, Issuer, JwksServer, me_status, random_kid, service};

#[tokio::test]
async fn the_last_good_key_set_survives_a_failing_jwks_server() {
    let issuer = Issuer::new("k1");
    let server = JwksServer::start(Answer::keys(&[&issuer])).await;
    let keys = RemoteKeySet::builder(server.url())
        // Every token naming an unknown kid fetches again: each failure below is met.
        .unknown_key_interval(Duration::ZERO)
        .timeout(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    let app = service(keys.clone());
    let good = issuer.token(0);
    let unknown = issuer.token_with_header(&json!({"alg": "EdDSA", "kid": random_kid()}));
    assert_eq!(me_status(&app, &good).await, StatusCode::OK);

    let failures = [
        ("500", Answer::Status(StatusCode::INTERNAL_SERVER_ERROR)),
        ("404", Answer::Status(StatusCode::NOT_FOUND)),
        ("a redirect", Answer::Status(StatusCode::FOUND)),
        ("not JSON", Answer::Garbage),
        (
            "JSON without keys",
            Answer::Json {
                body: json!({"hello": 1}),
                max_age: None,
            },
        ),
        (
            "an empty set",
            Answer::Json {
                body: json!({"keys": []}),
                max_age: None,
            },
        ),
        (
            "only a symmetric key",
            Answer::Json {
                body: json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k1", "alg": "HS256"}]}),
                max_age: None,
            },
        ),
        ("too slow", Answer::Slow(Duration::from_secs(5))),
    ];
    for (what, answer) in failures {
        server.set(answer);
        let before = server.fetches();
        assert!(keys.refresh_now().await.is_err(), "{what}");
        // The unknown kid makes the service try again, in vain.
        assert_eq!(
            me_status(&app, &unknown).await,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
        assert_eq!(server.fetches(), before + 2, "{what}");
        assert_eq!(me_status(&app, &good).await, StatusCode::OK, "{what}");
        assert_eq!(keys.keys().verifying_keys().len(), 1, "{what}");
    }

    server.stop().await;
    let error = keys.refresh_now().await.unwrap_err();
    assert!(matches!(error, JwksError::Request { .. }), "{error:?}");
    assert_eq!(me_status(&app, &unknown).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &good).await, StatusCode::OK);
}

#[tokio::test]
async fn a_service_does_not_start_without_keys() {
    let server = JwksServer::start(Answer::Status(StatusCode::SERVICE_UNAVAILABLE)).await;
    let error = RemoteKeySet::builder(server.url())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, JwksError::Status { .. }), "{error:?}");

    server.set(Answer::Json {
        body: json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
        max_age: None,
    });
    let error = RemoteKeySet::builder(server.url())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, JwksError::NoUsableKey { .. }), "{error:?}");

    let url = server.url().to_owned();
    server.stop().await;
    let error = RemoteKeySet::builder(url).build().await.unwrap_err();
    assert!(matches!(error, JwksError::Request { .. }), "{error:?}");

    let error = RemoteKeySet::builder("http://issuer.example/.well-known/jwks.json")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, JwksError::PlainHttp { .. }), "{error:?}");
}

#[tokio::test]
async fn keys_that_cannot_verify_here_are_skipped() {
    let issuer = Issuer::new("k1");
    let mut enc = issuer.jwk();
    enc["use"] = "enc".into();
    enc["kid"] = "enc".into();
    let server = JwksServer::start(Answer::Json {
        body: json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "oct"},
            enc,
            {"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "x25519"},
            {"kty": "EC", "crv": "P-384", "kid": "p384",
             "x": "iA7lWQLzVrKGEFjfGMfMHfTEZ2KnLiKU7JuNT3E7ygsfE7ygsfE7ygsfE7ygsfE7",
             "y": "iA7lWQLzVrKGEFjfGMfMHfTEZ2KnLiKU7JuNT3E7ygsfE7ygsfE7ygsfE7ygsfE7"},
            {"kty": "AKP", "alg": "ML-DSA-44", "pub": "AAAA", "kid": "pq"},
            issuer.jwk(),
        ]}),
        max_age: None,
    })
    .await;
    let keys = RemoteKeySet::builder(server.url()).build().await.unwrap();
    assert_eq!(keys.keys().verifying_keys().len(), 1);
    let app = service(keys);
    assert_eq!(me_status(&app, &issuer.token(0)).await, StatusCode::OK);
}
