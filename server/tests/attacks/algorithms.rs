//! Algorithm and key attacks: `alg: none` in every case, an `alg` other than the key's,
//! HS/RS and HS/EdDSA confusion (the public key used as an HMAC secret), injected or
//! unknown `kid`, keys offered by the header (`jwk`, `jku`, `x5u`, `x5c`), and tokens
//! signed with another secret. Each forged token carries the victim's genuine claims
//! (the refresh token its current `jti`), so a token accepted by mistake would be
//! noticed: `/whoami/` would answer 200 or `/refresh/` would rotate the session.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::common::TestDb;
use crate::forge::{self, Hs};
use crate::harness::{Expected, SECRET, Scene, Target, Verdicts, both_refused, key_file};

/// The victim's access and refresh claims, as JSON values.
fn victim_claims(scene: &Scene) -> (Value, Value) {
    (
        Value::Object(forge::claims(&scene.victim.access)),
        Value::Object(forge::claims(&scene.victim.refresh)),
    )
}

#[tokio::test]
async fn alg_none_in_any_case_is_rejected() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let (access, refresh) = victim_claims(&scene);
    let mut verdicts = Verdicts::new("alg none");
    for alg in ["none", "None", "NONE", "nOnE", "NoNe", "nonE", "none "] {
        let header = json!({"alg": alg, "typ": "JWT"});
        let signatures = [
            ("no signature", String::new(), String::new()),
            (
                "the genuine signature",
                forge::segment(&scene.victim.access, 2).to_owned(),
                forge::segment(&scene.victim.refresh, 2).to_owned(),
            ),
            ("a garbage signature", "AAAA".to_owned(), "AAAA".to_owned()),
        ];
        for (name, access_signature, refresh_signature) in signatures {
            both_refused(
                &target,
                &mut verdicts,
                &format!("alg {alg:?} with {name}"),
                &forge::unsigned(&header, &access, &access_signature),
                &forge::unsigned(&header, &refresh, &refresh_signature),
            )
            .await;
        }
    }
    verdicts.finish();
    scene.assert_untouched(&target, "alg none").await;
}

#[tokio::test]
async fn an_alg_other_than_the_keys_is_rejected() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let (access, refresh) = victim_claims(&scene);
    let mut verdicts = Verdicts::new("alg other than the key's");
    // Signed with the server's own secret, under another name or another HMAC.
    let headers: [(&str, Hs, Value); 9] = [
        ("HS384 with the secret", Hs::S384, json!({"alg": "HS384"})),
        ("HS512 with the secret", Hs::S512, json!({"alg": "HS512"})),
        ("alg hs256 (lower case)", Hs::S256, json!({"alg": "hs256"})),
        ("alg \"HS256 \"", Hs::S256, json!({"alg": "HS256 "})),
        ("alg empty", Hs::S256, json!({"alg": ""})),
        ("alg null", Hs::S256, json!({"alg": null})),
        ("no alg", Hs::S256, json!({"typ": "JWT"})),
        ("alg as a list", Hs::S256, json!({"alg": ["HS256"]})),
        ("alg RS256", Hs::S256, json!({"alg": "RS256"})),
    ];
    for (name, hs, header) in headers {
        both_refused(
            &target,
            &mut verdicts,
            name,
            &forge::sign(hs, &header, &access, SECRET.as_bytes()),
            &forge::sign(hs, &header, &refresh, SECRET.as_bytes()),
        )
        .await;
    }
    verdicts.finish();
    scene
        .assert_untouched(&target, "alg other than the key's")
        .await;
}

/// The server signs with `algorithm` (a key pair); the attacker signs HS256/384/512
/// with the public key's bytes (PEM, PEM without its final newline, DER, and for
/// Ed25519 the raw 32-byte key) as the HMAC secret.
async fn public_key_as_hmac_secret_is_rejected(algorithm: &str, private: &str, public: &str) {
    let family = format!("HS/{algorithm} confusion");
    let target = Target::start(
        TestDb::sqlite(),
        &[
            ("JWT_ALLAUTH_ALGORITHM", algorithm),
            ("JWT_ALLAUTH_PRIVATE_KEY_FILE", &key_file(private)),
            ("JWT_ALLAUTH_PUBLIC_KEY_FILE", &key_file(public)),
        ],
    )
    .await;
    let scene = Scene::set_up(&target).await;
    assert_eq!(
        forge::decode_json(&scene.victim.access, 0)["alg"],
        algorithm,
        "the server signs with {algorithm}"
    );
    let (access, refresh) = victim_claims(&scene);
    let pem = std::fs::read_to_string(key_file(public)).unwrap();
    let der = STANDARD
        .decode(
            pem.lines()
                .filter(|line| !line.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let mut secrets: Vec<(&str, Vec<u8>)> = vec![
        ("the PEM file", pem.clone().into_bytes()),
        (
            "the PEM without its final newline",
            pem.trim_end().as_bytes().to_vec(),
        ),
        ("the DER key", der.clone()),
    ];
    if algorithm == "EdDSA" {
        secrets.push(("the raw Ed25519 key", der[der.len() - 32..].to_vec()));
    }
    let mut verdicts = Verdicts::new("public key as HMAC secret");
    for (name, secret) in &secrets {
        for hs in [Hs::S256, Hs::S384, Hs::S512] {
            both_refused(
                &target,
                &mut verdicts,
                &format!("{} signed with {name}", hs.alg()),
                &forge::sign_claims(hs, &access, secret),
                &forge::sign_claims(hs, &refresh, secret),
            )
            .await;
        }
        // The header still names the server's algorithm; the signature is an HMAC.
        let header = json!({"alg": algorithm, "typ": "JWT"});
        both_refused(
            &target,
            &mut verdicts,
            &format!("alg {algorithm} with an HMAC under {name}"),
            &forge::sign(Hs::S256, &header, &access, secret),
            &forge::sign(Hs::S256, &header, &refresh, secret),
        )
        .await;
    }
    verdicts.finish();
    scene.assert_untouched(&target, &family).await;
}

#[tokio::test]
async fn hs_rs_confusion_with_the_public_key_as_hmac_secret_is_rejected() {
    public_key_as_hmac_secret_is_rejected("RS256", "rs256-private.pem", "rs256-public.pem").await;
}

#[tokio::test]
async fn hs_eddsa_confusion_with_the_public_key_as_hmac_secret_is_rejected() {
    public_key_as_hmac_secret_is_rejected("EdDSA", "ed-private.pem", "ed-public.pem").await;
}

#[tokio::test]
async fn an_injected_or_unknown_kid_is_rejected() {
    let target = Target::sqlite(&[("JWT_ALLAUTH_KEY_ID", "current")]).await;
    let scene = Scene::set_up(&target).await;
    assert_eq!(
        forge::decode_json(&scene.victim.access, 0)["kid"],
        "current",
        "the server writes its KEY_ID"
    );
    let (access, refresh) = victim_claims(&scene);
    let kids = [
        json!("../../../../../../dev/null"),
        json!("/dev/null"),
        json!("..\\..\\..\\windows\\win.ini"),
        json!("' OR '1'='1"),
        json!("current' --"),
        json!("x' UNION SELECT 'attacker-key' --"),
        json!("current\u{0}"),
        json!("CURRENT"),
        json!("current "),
        json!(""),
        json!("http://127.0.0.1:9/key.pem"),
        json!(1),
        json!(["current"]),
    ];
    // Keys a path traversal or an SQL injection would make the server use, and the
    // server's own secret (an unknown kid must not fall back to the configured key).
    let keys: [(&str, &[u8]); 3] = [
        ("the server's secret", SECRET.as_bytes()),
        ("an empty key (/dev/null)", b""),
        ("the key the SQL selects", b"attacker-key"),
    ];
    let mut verdicts = Verdicts::new("kid injection");
    for kid in &kids {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
        for (name, key) in keys {
            both_refused(
                &target,
                &mut verdicts,
                &format!("kid {kid} signed with {name}"),
                &forge::sign(Hs::S256, &header, &access, key),
                &forge::sign(Hs::S256, &header, &refresh, key),
            )
            .await;
        }
    }
    // No kid, or a null one, does not help an attacker's key either.
    for (name, key) in &keys[1..] {
        for header in [
            json!({"alg": "HS256", "typ": "JWT"}),
            json!({"alg": "HS256", "kid": null}),
        ] {
            both_refused(
                &target,
                &mut verdicts,
                &format!("header {header} signed with {name}"),
                &forge::sign(Hs::S256, &header, &access, key),
                &forge::sign(Hs::S256, &header, &refresh, key),
            )
            .await;
        }
    }
    verdicts.finish();
    scene.assert_untouched(&target, "kid injection").await;
}

#[tokio::test]
async fn a_kid_is_rejected_when_no_key_has_an_id() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let (access, refresh) = victim_claims(&scene);
    let mut verdicts = Verdicts::new("kid without key ids");
    for kid in ["default", "0", "../../../../dev/null"] {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
        both_refused(
            &target,
            &mut verdicts,
            &format!("kid {kid:?} signed with the server's secret"),
            &forge::sign(Hs::S256, &header, &access, SECRET.as_bytes()),
            &forge::sign(Hs::S256, &header, &refresh, SECRET.as_bytes()),
        )
        .await;
    }
    verdicts.finish();
    scene.assert_untouched(&target, "kid without key ids").await;
}

#[tokio::test]
async fn jku_jwk_x5u_and_x5c_headers_are_ignored() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let (access, refresh) = victim_claims(&scene);
    // Where the header tells the server to fetch the attacker's key.
    let key_server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        key_server.local_addr().unwrap()
    );
    let attacker: &[u8] = b"the attacker's own key, published in the header";
    let headers = [
        (
            "jwk",
            json!({"alg": "HS256", "typ": "JWT", "jwk": {"kty": "oct", "k": forge::b64(attacker)}}),
        ),
        ("jku", json!({"alg": "HS256", "typ": "JWT", "jku": url})),
        ("x5u", json!({"alg": "HS256", "typ": "JWT", "x5u": url})),
        (
            "x5c",
            json!({"alg": "HS256", "typ": "JWT", "x5c": [STANDARD.encode(attacker)]}),
        ),
    ];
    let mut verdicts = Verdicts::new("keys in the header");
    for (name, header) in &headers {
        both_refused(
            &target,
            &mut verdicts,
            &format!("{name} header, signed with the attacker's key"),
            &forge::sign(Hs::S256, header, &access, attacker),
            &forge::sign(Hs::S256, header, &refresh, attacker),
        )
        .await;
        // Ignored both ways: with the server's own signature the header changes nothing.
        let genuine = forge::sign(Hs::S256, header, &access, SECRET.as_bytes());
        let answer = target.get_bearer("/whoami/", &genuine).await;
        verdicts.check(
            format!("{name} header, signed with the server's secret [/whoami/]"),
            &answer,
            &Expected::ok(),
        );
    }
    verdicts.finish();
    let fetched = tokio::time::timeout(Duration::from_millis(300), key_server.accept()).await;
    assert!(
        fetched.is_err(),
        "the server connected to the URL of a jku/x5u header"
    );
    scene.assert_untouched(&target, "keys in the header").await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_rejected() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let (access, refresh) = victim_claims(&scene);
    let uppercase = SECRET.to_uppercase();
    let newline = format!("{SECRET}\n");
    let secrets: [(&str, &[u8]); 5] = [
        (
            "another secret",
            b"another deployment's secret, also 32+ bytes long",
        ),
        ("the secret in upper case", uppercase.as_bytes()),
        ("the secret with a newline", newline.as_bytes()),
        ("the secret's first 32 bytes", &SECRET.as_bytes()[..32]),
        ("an empty secret", b""),
    ];
    let mut verdicts = Verdicts::new("another secret");
    for (name, secret) in secrets {
        for hs in [Hs::S256, Hs::S384, Hs::S512] {
            both_refused(
                &target,
                &mut verdicts,
                &format!("{} under {name}", hs.alg()),
                &forge::sign_claims(hs, &access, secret),
                &forge::sign_claims(hs, &refresh, secret),
            )
            .await;
        }
    }
    verdicts.finish();
    scene.assert_untouched(&target, "another secret").await;
}
