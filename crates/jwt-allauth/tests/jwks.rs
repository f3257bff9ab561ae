//! Public keys as JSON Web Keys, rings that only verify, generated key pairs, and a
//! codec whose ring is replaced while it is in use.
#![allow(clippy::unwrap_used)]

use jwt_allauth::claims::{Claims, ExtraClaims, TokenType};
use jwt_allauth::keys::{Algorithm, Jwk, JwkSet, KeyPair, KeyRing, VerifyingKey};
use jwt_allauth::{Error, KeyError, Settings, TokenCodec};
use serde_json::{Value, json};
use time::OffsetDateTime;

const ASYMMETRIC: [Algorithm; 3] = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn codec(keys: KeyRing) -> TokenCodec {
    TokenCodec::new(keys, &Settings::default())
}

/// A ring signing with a new pair of `algorithm`, its key named `kid`.
fn ring(algorithm: Algorithm, kid: &str) -> KeyRing {
    let pair = KeyPair::generate(algorithm).unwrap();
    KeyRing::new(
        pair.signing_key().unwrap().with_key_id(kid),
        pair.verifying_key().unwrap(),
    )
    .unwrap()
}

fn claims() -> Claims {
    Claims {
        token_type: TokenType::Access,
        exp: now().unix_timestamp() + 300,
        iat: now().unix_timestamp(),
        jti: "0123456789abcdef0123456789abcdef".into(),
        user_id: "7".into(),
        session: Some("fedcba9876543210fedcba9876543210".into()),
        session_iat: Some(now().unix_timestamp()),
        role: 1000,
        email_verified: true,
        iss: None,
        aud: None,
        extra: ExtraClaims::new(),
    }
}

fn access_token(codec: &TokenCodec) -> String {
    codec.encode(&claims()).unwrap()
}

/// The ring's JWKS as the JSON a client reads, and back.
fn published(ring: &KeyRing) -> JwkSet {
    let text = serde_json::to_string(&ring.jwks()).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_published_key_verifies_the_tokens_of_its_ring_and_nothing_else() {
    for algorithm in ASYMMETRIC {
        let signer = codec(ring(algorithm, "k1"));
        let token = access_token(&signer);

        let set = published(&signer.keys());
        assert_eq!(set.keys.len(), 1, "{algorithm}");
        let keys = set
            .keys
            .iter()
            .map(|jwk| VerifyingKey::from_jwk(jwk).unwrap());
        let verifier = codec(KeyRing::verify_only(keys).unwrap());
        let claims = verifier.decode(&token, TokenType::Access, now()).unwrap();
        assert_eq!(claims.user_id, "7", "{algorithm}");

        // A token of another key of the same algorithm, even one named like it, is not.
        let stranger = codec(ring(algorithm, "k1"));
        assert!(
            verifier
                .decode(&access_token(&stranger), TokenType::Access, now())
                .is_err(),
            "{algorithm}"
        );
    }
}

#[test]
fn the_key_set_carries_the_rfc_7517_members_of_each_key_type() {
    let fields = |algorithm| {
        let set = serde_json::to_value(ring(algorithm, "kid-1").jwks()).unwrap();
        let key = set["keys"][0].as_object().unwrap().clone();
        let mut names: Vec<_> = key.keys().cloned().collect();
        names.sort();
        (key, names)
    };
    let (ed, names) = fields(Algorithm::EdDSA);
    assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x"]);
    assert_eq!(
        (&ed["kty"], &ed["crv"], &ed["alg"], &ed["use"], &ed["kid"]),
        (
            &json!("OKP"),
            &json!("Ed25519"),
            &json!("EdDSA"),
            &json!("sig"),
            &json!("kid-1")
        )
    );
    let (ec, names) = fields(Algorithm::ES256);
    assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
    assert_eq!((&ec["kty"], &ec["crv"]), (&json!("EC"), &json!("P-256")));
    let (rsa, names) = fields(Algorithm::RS256);
    assert_eq!(names, ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!((&rsa["kty"], &rsa["e"]), (&json!("RSA"), &json!("AQAB")));
    // 2048 bits of modulus, base64url without padding.
    assert_eq!(rsa["n"].as_str().unwrap().len(), 342);
}

#[test]
fn hmac_secrets_are_never_published() {
    let ring = KeyRing::hmac(Algorithm::HS256, b"a secret of at least thirty-two bytes!")
        .unwrap()
        .with_verifying_key(
            KeyPair::generate(Algorithm::EdDSA)
                .unwrap()
                .verifying_key()
                .unwrap()
                .with_key_id("next"),
        )
        .unwrap();
    let set = serde_json::to_value(ring.jwks()).unwrap();
    assert_eq!(set["keys"].as_array().unwrap().len(), 1);
    assert_eq!(set["keys"][0]["kid"], "next");
    let hmac_only = KeyRing::hmac(Algorithm::HS512, &[7; 64]).unwrap();
    assert_eq!(
        serde_json::to_string(&hmac_only.jwks()).unwrap(),
        r#"{"keys":[]}"#
    );
    assert!(!hmac_only.verifying_keys()[0].is_public());
    assert!(hmac_only.verifying_keys()[0].to_jwk().is_none());
}

#[test]
fn a_key_without_kid_is_published_under_its_rfc_7638_thumbprint() {
    // The example of RFC 7638, section 3.1.
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
    }))
    .unwrap();
    let key = VerifyingKey::from_jwk(&jwk).unwrap();
    assert_eq!(key.key_id(), None);
    let expected = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    assert_eq!(key.thumbprint().as_deref(), Some(expected));
    assert_eq!(
        key.to_jwk().unwrap().common.key_id.as_deref(),
        Some(expected)
    );
}

#[test]
fn keys_that_cannot_verify_here_are_refused_with_the_reason() {
    let ed = serde_json::to_value(ring(Algorithm::EdDSA, "e").jwks().keys[0].clone()).unwrap();
    let ec = serde_json::to_value(ring(Algorithm::ES256, "p").jwks().keys[0].clone()).unwrap();
    let with = |base: &Value, field: &str, value: Value| {
        let mut jwk = base.clone();
        jwk[field] = value;
        jwk
    };
    let cases = [
        (
            "symmetric",
            json!({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}),
        ),
        (
            "symmetric named HS256",
            json!({"kty": "oct", "alg": "HS256", "k": "c2VjcmV0"}),
        ),
        ("for encryption", with(&ed, "use", json!("enc"))),
        ("HMAC alg on a public key", with(&ec, "alg", json!("HS256"))),
        ("alg of another key type", with(&ec, "alg", json!("EdDSA"))),
        ("alg not supported", with(&ec, "alg", json!("ES384"))),
        ("other curve", with(&ec, "crv", json!("P-384"))),
        ("x not a point", with(&ed, "x", json!("AAAA"))),
    ];
    for (case, jwk) in cases {
        let outcome = serde_json::from_value::<Jwk>(jwk)
            .map_err(|err| err.to_string())
            .and_then(|jwk| VerifyingKey::from_jwk(&jwk).map_err(|err| err.to_string()));
        let err = outcome.expect_err(case);
        assert!(
            err.contains("JSON Web Key")
                || err.contains("unknown variant")
                || err.contains("invalid key"),
            "{case}: {err}"
        );
    }
}

#[test]
fn a_ring_that_only_verifies_cannot_sign() {
    let signer = ring(Algorithm::EdDSA, "a");
    let verifier = codec(KeyRing::verify_only(signer.verifying_keys().to_vec()).unwrap());
    assert!(verifier.keys().signing_key().is_none());
    assert!(matches!(
        verifier.encode(&claims()),
        Err(Error::NoSigningKey)
    ));
    let empty = codec(KeyRing::verify_only([]).unwrap());
    assert!(
        empty
            .decode(&access_token(&codec(signer)), TokenType::Access, now())
            .is_err()
    );
    assert!(matches!(
        KeyRing::verify_only([
            KeyPair::generate(Algorithm::EdDSA).unwrap().verifying_key().unwrap().with_key_id("x"),
            KeyPair::generate(Algorithm::ES256).unwrap().verifying_key().unwrap().with_key_id("x"),
        ]),
        Err(KeyError::DuplicateKeyId(kid)) if kid == "x"
    ));
}

#[test]
fn a_token_naming_a_kid_the_ring_lacks_is_told_apart() {
    let ring_a = ring(Algorithm::ES256, "a");
    let ring_b = ring(Algorithm::ES256, "b");
    let of_a = access_token(&codec(ring_a.clone()));
    let of_b = access_token(&codec(ring_b));
    assert!(!ring_a.names_unknown_key(&of_a));
    assert!(ring_a.names_unknown_key(&of_b));
    // No kid, or no header at all: nothing to fetch.
    let no_kid = access_token(&codec(
        KeyPair::generate(Algorithm::ES256)
            .unwrap()
            .key_ring()
            .unwrap(),
    ));
    assert!(!ring_a.names_unknown_key(&no_kid));
    assert!(!ring_a.names_unknown_key("garbage"));
    assert!(!ring_a.names_unknown_key(""));
}

#[test]
fn replacing_the_ring_of_a_codec_changes_every_clone_at_once() {
    let first = ring(Algorithm::EdDSA, "first");
    let second = ring(Algorithm::EdDSA, "second");
    let codec = codec(first.clone());
    let clone = codec.clone();
    let old_token = access_token(&codec);

    // The next ring knows the old key: old tokens still verify, new ones carry its kid.
    clone.replace_keys(
        second
            .with_verifying_key(first.verifying_keys()[0].clone())
            .unwrap(),
    );
    assert!(codec.decode(&old_token, TokenType::Access, now()).is_ok());
    let new_token = access_token(&codec);
    let header = new_token.split('.').next().unwrap();
    assert!(
        String::from_utf8(base64_url(header))
            .unwrap()
            .contains("\"kid\":\"second\""),
        "{header}"
    );
    assert_eq!(codec.keys().jwks().keys.len(), 2);

    // Once the old key is gone, so are its tokens.
    codec.replace_keys(ring(Algorithm::EdDSA, "third"));
    assert!(clone.decode(&old_token, TokenType::Access, now()).is_err());
}

#[test]
fn generated_pairs_read_back_from_their_pem() {
    for algorithm in ASYMMETRIC {
        let pair = KeyPair::generate(algorithm).unwrap();
        assert!(
            pair.private_pem()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert!(!format!("{pair:?}").contains(pair.private_pem()));
        let again = KeyPair::from_pem(
            algorithm,
            pair.private_pem().to_owned(),
            pair.public_pem().to_owned(),
        );
        let token = access_token(&codec(again.key_ring().unwrap()));
        assert!(
            codec(pair.key_ring().unwrap())
                .decode(&token, TokenType::Access, now())
                .is_ok()
        );
        // Two generated pairs are two keys.
        let other = KeyPair::generate(algorithm).unwrap();
        assert!(matches!(
            KeyRing::new(pair.signing_key().unwrap(), other.verifying_key().unwrap()),
            Err(KeyError::KeyPairMismatch)
        ));
    }
    assert!(matches!(
        KeyPair::generate(Algorithm::HS256),
        Err(KeyError::WrongKeyType { .. })
    ));
}

fn base64_url(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}
