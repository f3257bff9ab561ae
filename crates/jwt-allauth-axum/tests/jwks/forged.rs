//! Tokens not signed by a published key are refused, whatever their header says.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm as JwtAlgorithm, EncodingKey};
use jwt_allauth::keys::Algorithm;
use jwt_allauth_axum::jwks::RemoteKeySet;
use serde_json::{Value, json};

use crate::support::{
    Answer, Issuer, JwksServer, assert_refused, me_status, random_kid, service, sign, signing_input,
};

#[tokio::test]
async fn tokens_not_signed_by_a_published_key_are_refused() {
    let issuer = Issuer::new("k1");
    let rsa_issuer = Issuer::with_algorithm("r1", Algorithm::RS256);
    let server = JwksServer::start(Answer::keys(&[&issuer, &rsa_issuer])).await;
    let keys = RemoteKeySet::builder(server.url())
        .unknown_key_interval(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let app = service(keys);
    assert_eq!(
        me_status(&app, &issuer.token(0)).await,
        axum::http::StatusCode::OK
    );
    assert_eq!(
        me_status(&app, &rsa_issuer.token(0)).await,
        axum::http::StatusCode::OK
    );

    // The attacker's own key, published on the attacker's own JWKS server.
    let attacker = Issuer::new("attacker");
    let attacker_jwks = JwksServer::start(Answer::keys(&[&attacker])).await;
    let attacker_url = attacker_jwks.url().to_owned();

    let mut forged: Vec<(String, String)> = Vec::new();
    let mut add = |what: &str, token: String| forged.push((what.to_owned(), token));

    // Signed by a key not in the set.
    add(
        "another key, the issuer's kid",
        attacker.token_with_header(&json!({"alg": "EdDSA", "typ": "JWT", "kid": "k1"})),
    );
    add(
        "another key, no kid",
        attacker.token_with_header(&json!({"alg": "EdDSA", "typ": "JWT"})),
    );
    add(
        "another key, its own kid",
        attacker.token_with_header(&json!({"alg": "EdDSA", "kid": "attacker"})),
    );
    add(
        "another key, a random kid",
        attacker.token_with_header(&json!({"alg": "EdDSA", "kid": random_kid()})),
    );

    // Algorithm confusion: HMAC tokens keyed with what is public about the keys.
    let jwk = issuer.jwk();
    let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    let rsa_jwk = rsa_issuer.jwk();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("the Ed25519 public key's bytes", x),
        (
            "the Ed25519 public key's PEM",
            issuer.pair.public_pem().as_bytes().to_vec(),
        ),
        ("the Ed25519 JWK's JSON", jwk.to_string().into_bytes()),
        (
            "the Ed25519 JWK's x",
            jwk["x"].as_str().unwrap().as_bytes().to_vec(),
        ),
        (
            "the RSA public key's PEM",
            rsa_issuer.pair.public_pem().as_bytes().to_vec(),
        ),
        ("the RSA JWK's JSON", rsa_jwk.to_string().into_bytes()),
        (
            "the RSA JWK's n",
            rsa_jwk["n"].as_str().unwrap().as_bytes().to_vec(),
        ),
    ];
    for (what, secret) in &secrets {
        let key = EncodingKey::from_secret(secret);
        for (alg, jwt_alg) in [
            ("HS256", JwtAlgorithm::HS256),
            ("HS512", JwtAlgorithm::HS512),
        ] {
            for kid in [Some("k1"), Some("r1"), None] {
                let mut header = json!({"alg": alg, "typ": "JWT"});
                if let Some(kid) = kid {
                    header["kid"] = kid.into();
                }
                add(
                    &format!("{alg} keyed with {what}, kid {kid:?}"),
                    sign(&header, &key, jwt_alg),
                );
            }
        }
    }

    // `alg: none`, with and without a signature.
    let valid = issuer.token(0);
    let valid_signature = valid.rsplit('.').next().unwrap().to_owned();
    for alg in ["none", "None", "NONE", "nOnE"] {
        for kid in [Some("k1"), None] {
            let mut header = json!({"alg": alg, "typ": "JWT"});
            if let Some(kid) = kid {
                header["kid"] = kid.into();
            }
            let message = signing_input(&header);
            add(
                &format!("alg {alg}, kid {kid:?}, no signature"),
                format!("{message}."),
            );
            add(
                &format!("alg {alg}, kid {kid:?}, no signature part"),
                message.clone(),
            );
            add(
                &format!("alg {alg}, kid {kid:?}, the issuer's signature of another token"),
                format!("{message}.{valid_signature}"),
            );
        }
    }

    // Headers that point at the attacker's key: `jku`, `x5u`, an embedded `jwk`.
    let attacker_jwk = attacker.jwk();
    let headers: Vec<(&str, Value)> = vec![
        (
            "jku with the attacker's kid",
            json!({"alg": "EdDSA", "kid": "attacker", "jku": attacker_url}),
        ),
        (
            "jku with the issuer's kid",
            json!({"alg": "EdDSA", "kid": "k1", "jku": attacker_url}),
        ),
        (
            "jku without kid",
            json!({"alg": "EdDSA", "jku": attacker_url}),
        ),
        (
            "x5u with the attacker's kid",
            json!({"alg": "EdDSA", "kid": "attacker", "x5u": attacker_url}),
        ),
        (
            "x5u with the issuer's kid",
            json!({"alg": "EdDSA", "kid": "k1", "x5u": attacker_url}),
        ),
        (
            "jwk with the attacker's kid",
            json!({"alg": "EdDSA", "kid": "attacker", "jwk": attacker_jwk}),
        ),
        (
            "jwk with the issuer's kid",
            json!({"alg": "EdDSA", "kid": "k1", "jwk": attacker_jwk}),
        ),
        (
            "jwk without kid",
            json!({"alg": "EdDSA", "jwk": attacker_jwk}),
        ),
    ];
    for (what, header) in &headers {
        add(what, attacker.token_with_header(header));
    }

    // The attacker's header fields on a token the issuer really signed are not enough
    // to change its key either: its signature covers the header.
    let mut tampered = json!({"alg": "EdDSA", "typ": "JWT", "kid": "k1", "jku": attacker_url});
    let message = signing_input(&tampered);
    add(
        "a header changed after signing",
        format!("{message}.{valid_signature}"),
    );
    tampered["alg"] = "RS256".into();
    add(
        "the alg changed after signing",
        format!("{}.{valid_signature}", signing_input(&tampered)),
    );

    assert!(forged.len() > 60);
    for (what, token) in &forged {
        assert_refused(&app, token, what).await;
    }
    assert_eq!(
        attacker_jwks.fetches(),
        0,
        "no key is ever fetched from a token's header"
    );
}
