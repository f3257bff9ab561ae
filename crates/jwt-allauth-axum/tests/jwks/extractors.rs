//! `AuthUser`, `Option<AuthUser>` and `RequireRole` work with a key set from a JWKS URL.

use axum::http::StatusCode;
use jwt_allauth::keys::Algorithm;
use jwt_allauth_axum::jwks::RemoteKeySet;
use serde_json::{Value, json};

use crate::support::{Answer, Issuer, JwksServer, get_with, invalid_token_body, service};

#[tokio::test]
async fn the_extractors_verify_with_the_key_set() {
    let eddsa = Issuer::new("ed");
    let es256 = Issuer::with_algorithm("ec", Algorithm::ES256);
    let rs256 = Issuer::with_algorithm("rsa", Algorithm::RS256);
    let server = JwksServer::start(Answer::keys(&[&eddsa, &es256, &rs256])).await;
    let keys = RemoteKeySet::builder(server.url()).build().await.unwrap();
    let app = service(keys);

    for issuer in [&eddsa, &es256, &rs256] {
        let user = issuer.token(0);
        let staff = issuer.token(1000);
        assert_eq!(get_with(&app, "/me", Some(&user)).await.2, "user 7");
        assert_eq!(get_with(&app, "/maybe", Some(&user)).await.2, "user 7");
        assert_eq!(get_with(&app, "/staff", Some(&staff)).await.2, "staff 7");
        assert_eq!(
            get_with(&app, "/staff", Some(&user)).await.0,
            StatusCode::FORBIDDEN
        );
    }

    let (status, challenge, body) = get_with(&app, "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="api""#));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"detail": "Authentication credentials were not provided."})
    );
    assert_eq!(get_with(&app, "/maybe", None).await.2, "stranger");
    let (status, _, body) = get_with(&app, "/maybe", Some("not.a.token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        invalid_token_body()
    );
    assert_eq!(server.fetches(), 1);
}
