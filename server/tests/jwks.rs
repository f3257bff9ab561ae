//! The published keys, `GET /.well-known/jwks.json` and
//! `GET /.well-known/openid-configuration`, checked against the real binary: an
//! independent implementation (Node.js's crypto, OpenSSL inside, through
//! `jwks/verify_with_node.js`) verifies our access tokens of each algorithm from the key
//! set alone; an HMAC-only server publishes no key.
#![allow(clippy::unwrap_used)]

mod common;
mod key_support;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{TestDb, success};
use key_support::{
    access_signed_by, create_user, env_with_kek, generate, jwks, kek, keys, kids, serve,
};
use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};

/// Runs the Node.js verifier on `jwks` and `tokens`: whether each token verifies. Fails
/// (does not skip) when `node` is missing: `.ci/run` installs it.
fn verify_with_node(jwks: &Value, tokens: &[&str]) -> Vec<bool> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/jwks/verify_with_node.js"
    );
    let mut child = Command::new("node")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`node` (Node.js 18 or later) runs the independent JWKS check: install it");
    let input = json!({"jwks": jwks, "tokens": tokens}).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    results
        .iter()
        .map(|result| result["valid"].as_bool().unwrap())
        .collect()
}

/// `token` with one bit of its signature flipped.
fn tampered(token: &str) -> String {
    let (message, signature) = token.rsplit_once('.').unwrap();
    let mut signature = signature.to_owned().into_bytes();
    signature[3] = if signature[3] == b'A' { b'B' } else { b'A' };
    format!("{message}.{}", String::from_utf8(signature).unwrap())
}

#[tokio::test]
async fn node_verifies_our_eddsa_es256_and_rs256_access_tokens_from_the_jwks() {
    let db = TestDb::sqlite();
    create_user(&db);
    let mut env = env_with_kek(&kek(1));
    env.push((
        "JWT_ALLAUTH_PUBLIC_URL",
        "https://auth.example.com".to_owned(),
    ));
    let server = serve(&db, &env).await;

    // One key of each algorithm, activated in turn: the previous ones stay published
    // while tokens they signed may live.
    let mut tokens = Vec::new();
    for algorithm in ["EdDSA", "ES256", "RS256"] {
        let kid = generate(&db, algorithm, &env);
        success(&keys(&db, &["activate", &kid], &env));
        let access = access_signed_by(&server, &kid).await;
        assert_eq!(key_support::header(&access)["alg"], algorithm);
        tokens.push((kid, access));
    }

    let response = Client::new()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "public, max-age=300"
    );
    let set: Value = response.json().await.unwrap();
    let published = kids(&set);
    for (kid, _) in &tokens {
        assert!(published.contains(kid), "{kid} not in {set}");
    }
    for key in set["keys"].as_array().unwrap() {
        assert_eq!(key["use"], "sig", "{key}");
        assert!(key.get("d").is_none() && key.get("k").is_none(), "{key}");
    }

    let mut checked: Vec<String> = tokens.iter().map(|(_, access)| access.clone()).collect();
    checked.push(tampered(&tokens[0].1));
    checked.push(tampered(&tokens[1].1));
    checked.push(tampered(&tokens[2].1));
    let refs: Vec<&str> = checked.iter().map(String::as_str).collect();
    assert_eq!(
        verify_with_node(&set, &refs),
        vec![true, true, true, false, false, false]
    );

    // The discovery document points a verifier configured with the issuer URL there.
    let document: Value = Client::new()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["issuer"], "https://auth.example.com");
    assert_eq!(
        document["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
    let mut algorithms: Vec<&str> = document["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alg| alg.as_str().unwrap())
        .collect();
    algorithms.sort_unstable();
    assert_eq!(algorithms, ["ES256", "EdDSA", "RS256"]);
}

#[tokio::test]
async fn an_hmac_only_server_publishes_no_key() {
    let db = TestDb::sqlite();
    let server = serve(
        &db,
        &[(
            "JWT_ALLAUTH_SECRET_KEY",
            "a shared secret of at least thirty-two bytes".to_owned(),
        )],
    )
    .await;
    let response = Client::new()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "public, max-age=300"
    );
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(response.text().await.unwrap(), r#"{"keys":[]}"#);

    // No ISSUER, no PUBLIC_URL: no discovery document (never derived from `Host`).
    let response = Client::new()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"detail": jwt_allauth_axum::NO_ISSUER_DETAIL}));
    assert_eq!(jwks(&server).await, json!({"keys": []}));
}
