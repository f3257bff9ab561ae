//! Token format and verification, through the public API.
#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use jwt_allauth::keys::{Algorithm, KeyRing, SigningKey, VerifyingKey};
use jwt_allauth::{
    AccessToken, Claims, ExtraClaims, RefreshToken, Settings, TokenCodec, TokenError, TokenType,
};
use serde_json::{Value, json};
use time::OffsetDateTime;

const SECRET: &[u8] = b"test secret of thirty-two bytes or more!";
const ED_PRIVATE: &str = include_str!("keys/ed-private.pem");
const ED_PUBLIC: &str = include_str!("keys/ed-public.pem");

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn codec_with(keys: KeyRing, settings: &Settings) -> TokenCodec {
    TokenCodec::new(keys, settings)
}

fn hs256() -> TokenCodec {
    codec_with(
        KeyRing::hmac(Algorithm::HS256, SECRET).unwrap(),
        &Settings::default(),
    )
}

fn claims(token_type: TokenType) -> Claims {
    let mut extra = ExtraClaims::new();
    extra.insert("org_id", 42).unwrap();
    Claims {
        token_type,
        exp: now().unix_timestamp() + 300,
        iat: now().unix_timestamp(),
        jti: "0123456789abcdef0123456789abcdef".into(),
        user_id: "7".into(),
        session: Some("fedcba9876543210fedcba9876543210".into()),
        session_iat: Some(now().unix_timestamp() - 60),
        role: 1000,
        email_verified: true,
        iss: None,
        aud: None,
        extra,
    }
}

fn payload_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Builds `header.payload.signature` from raw JSON, signed with `sign` over the first two
/// parts.
fn raw_token(header: &Value, payload: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn hs256_sign(payload: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        payload,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

#[test]
fn claim_names_and_json_types_match_the_contract() {
    let codec = hs256();
    let token = codec.encode(&claims(TokenType::Refresh)).unwrap();
    assert_eq!(header_of(&token), json!({"alg": "HS256", "typ": "JWT"}));
    let payload = payload_of(&token);
    let object = payload.as_object().unwrap();
    let mut names: Vec<_> = object.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "email_verified",
            "exp",
            "iat",
            "jti",
            "org_id",
            "role",
            "session",
            "session_iat",
            "token_type",
            "user_id"
        ]
    );
    assert_eq!(payload["token_type"], "refresh");
    assert!(payload["exp"].is_i64() && payload["iat"].is_i64() && payload["session_iat"].is_i64());
    assert!(payload["user_id"].is_string(), "user_id is a string");
    assert_eq!(payload["user_id"], "7");
    assert!(payload["role"].is_i64());
    assert!(payload["email_verified"].is_boolean());
    assert_eq!(payload["org_id"], 42);
}

#[test]
fn access_token_copies_refresh_claims_but_gets_fresh_type_times_and_jti() {
    let codec = hs256();
    let refresh = claims(TokenType::Refresh);
    let later = now() + time::Duration::seconds(10);
    let access = AccessToken::derive(&codec, &refresh, later).unwrap();
    let a = access.claims();
    assert_eq!(a.token_type, TokenType::Access);
    assert_eq!(a.iat, later.unix_timestamp());
    assert_eq!(
        a.exp,
        later.unix_timestamp() + 30 * 60,
        "default access lifetime is 30 minutes"
    );
    assert_ne!(a.jti, refresh.jti);
    assert_eq!(a.jti.len(), 32);
    assert!(
        a.jti
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(
        (
            &a.user_id,
            &a.session,
            a.session_iat,
            a.role,
            a.email_verified,
            &a.extra
        ),
        (
            &refresh.user_id,
            &refresh.session,
            refresh.session_iat,
            refresh.role,
            refresh.email_verified,
            &refresh.extra
        )
    );
    let verified = AccessToken::decode(&codec, access.as_str(), later).unwrap();
    assert_eq!(verified.claims(), a);
}

#[test]
fn access_token_exp_is_capped_at_the_session_deadline() {
    let mut settings = Settings::default();
    settings.session_lifetime = Some(std::time::Duration::from_secs(120));
    let codec = codec_with(KeyRing::hmac(Algorithm::HS256, SECRET).unwrap(), &settings);
    let refresh = claims(TokenType::Refresh); // session started 60 s ago
    let access = AccessToken::derive(&codec, &refresh, now()).unwrap();
    assert_eq!(access.claims().exp, refresh.session_iat.unwrap() + 120);
}

#[test]
fn wrong_token_type_is_rejected_both_ways() {
    let codec = hs256();
    let refresh = codec.encode(&claims(TokenType::Refresh)).unwrap();
    let access = codec.encode(&claims(TokenType::Access)).unwrap();
    assert_eq!(
        AccessToken::decode(&codec, &refresh, now()).unwrap_err(),
        TokenError::WrongType
    );
    assert_eq!(
        RefreshToken::decode(&codec, &access, now()).unwrap_err(),
        TokenError::WrongType
    );
    assert!(RefreshToken::decode(&codec, &refresh, now()).is_ok());
}

#[test]
fn expired_tokens_are_rejected_and_leeway_is_honoured() {
    let codec = hs256();
    let token = codec.encode(&claims(TokenType::Access)).unwrap();
    let exp = now() + time::Duration::seconds(300);
    assert!(AccessToken::decode(&codec, &token, exp - time::Duration::seconds(1)).is_ok());
    assert_eq!(
        AccessToken::decode(&codec, &token, exp).unwrap_err(),
        TokenError::Expired
    );

    let mut settings = Settings::default();
    settings.leeway = std::time::Duration::from_secs(30);
    let lenient = codec_with(KeyRing::hmac(Algorithm::HS256, SECRET).unwrap(), &settings);
    assert!(AccessToken::decode(&lenient, &token, exp + time::Duration::seconds(29)).is_ok());
    assert_eq!(
        AccessToken::decode(&lenient, &token, exp + time::Duration::seconds(30)).unwrap_err(),
        TokenError::Expired
    );
}

#[test]
fn exp_and_iat_must_be_integers() {
    let codec = hs256();
    let good = serde_json::to_value(claims(TokenType::Access)).unwrap();
    for (field, value) in [
        ("exp", json!("1800000300")),
        ("exp", json!(1800000300.5)),
        ("exp", json!(null)),
        ("exp", json!(u64::MAX)),
        ("iat", json!("1800000000")),
    ] {
        let mut payload = good.clone();
        payload[field] = value.clone();
        let token = hs256_sign(&payload);
        assert_eq!(
            AccessToken::decode(&codec, &token, now()).unwrap_err(),
            TokenError::Invalid,
            "{field} = {value}"
        );
    }
    assert!(AccessToken::decode(&codec, &hs256_sign(&good), now()).is_ok());
}

#[test]
fn missing_required_claims_are_rejected() {
    let codec = hs256();
    let good = serde_json::to_value(claims(TokenType::Access)).unwrap();
    for field in [
        "token_type",
        "exp",
        "iat",
        "jti",
        "user_id",
        "role",
        "email_verified",
    ] {
        let mut payload = good.clone();
        payload.as_object_mut().unwrap().remove(field);
        let token = hs256_sign(&payload);
        assert_eq!(
            AccessToken::decode(&codec, &token, now()).unwrap_err(),
            TokenError::Invalid,
            "without {field}"
        );
    }
}

#[test]
fn alg_none_in_any_case_is_rejected() {
    let codec = hs256();
    let payload = serde_json::to_value(claims(TokenType::Access)).unwrap();
    for alg in ["none", "None", "NONE", "nOnE"] {
        for signature in [&b""[..], b"x"] {
            let token = raw_token(&json!({"alg": alg, "typ": "JWT"}), &payload, signature);
            assert_eq!(
                AccessToken::decode(&codec, &token, now()).unwrap_err(),
                TokenError::Invalid,
                "alg {alg}"
            );
        }
        let unsigned = raw_token(&json!({"alg": alg}), &payload, b"");
        let unsigned = unsigned.trim_end_matches('.');
        assert_eq!(
            AccessToken::decode(&codec, unsigned, now()).unwrap_err(),
            TokenError::Invalid
        );
    }
}

#[test]
fn public_key_used_as_hmac_secret_is_rejected() {
    let pairs = [
        (Algorithm::EdDSA, ED_PRIVATE, ED_PUBLIC),
        (
            Algorithm::RS256,
            include_str!("keys/rs256-private.pem"),
            include_str!("keys/rs256-public.pem"),
        ),
        (
            Algorithm::ES256,
            include_str!("keys/es256-private.pem"),
            include_str!("keys/es256-public.pem"),
        ),
    ];
    for (alg, private, public) in pairs {
        let codec = codec_with(
            KeyRing::from_pem(alg, private.as_bytes(), public.as_bytes()).unwrap(),
            &Settings::default(),
        );
        let genuine = codec.encode(&claims(TokenType::Access)).unwrap();
        assert_eq!(header_of(&genuine)["alg"], alg.as_str());
        assert!(AccessToken::decode(&codec, &genuine, now()).is_ok());
        // The attacker signs with HMAC, using the public key text as the secret.
        for hs in [
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::Algorithm::HS384,
            jsonwebtoken::Algorithm::HS512,
        ] {
            let forged = jsonwebtoken::encode(
                &Header::new(hs),
                &claims(TokenType::Access),
                &EncodingKey::from_secret(public.as_bytes()),
            )
            .unwrap();
            assert_eq!(
                AccessToken::decode(&codec, &forged, now()).unwrap_err(),
                TokenError::Invalid,
                "{alg} vs {hs:?}"
            );
        }
    }
}

#[test]
fn tampered_payload_and_signature_are_rejected() {
    let codec = hs256();
    let token = codec.encode(&claims(TokenType::Access)).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload = payload_of(&token);
    payload["role"] = json!(9999);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap()),
        parts[2]
    );
    assert_eq!(
        AccessToken::decode(&codec, &tampered, now()).unwrap_err(),
        TokenError::Invalid
    );

    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[0] ^= 1;
    let bad_signature = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );
    assert_eq!(
        AccessToken::decode(&codec, &bad_signature, now()).unwrap_err(),
        TokenError::Invalid
    );

    for garbage in [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b",
        &format!("{token}.extra"),
        &format!("{}.{}", parts[0], parts[1]),
        "!!!.###.$$$",
    ] {
        assert_eq!(
            AccessToken::decode(&codec, garbage, now()).unwrap_err(),
            TokenError::Invalid,
            "{garbage:?}"
        );
    }
    let oversized = format!("{}.{}.{}", parts[0], "A".repeat(70_000), parts[2]);
    assert_eq!(
        AccessToken::decode(&codec, &oversized, now()).unwrap_err(),
        TokenError::Invalid
    );
}

#[test]
fn token_from_another_secret_is_rejected() {
    let other = codec_with(
        KeyRing::hmac(Algorithm::HS256, b"another secret, also long enough....").unwrap(),
        &Settings::default(),
    );
    let token = other.encode(&claims(TokenType::Access)).unwrap();
    assert_eq!(
        AccessToken::decode(&hs256(), &token, now()).unwrap_err(),
        TokenError::Invalid
    );
}

#[test]
fn key_ids_select_keys_and_unknown_kids_are_rejected() {
    let old = SigningKey::hmac(Algorithm::HS256, b"the old secret, thirty-two bytes long")
        .unwrap()
        .with_key_id("2025");
    let new = SigningKey::hmac(Algorithm::HS256, SECRET)
        .unwrap()
        .with_key_id("2026");
    let old_codec = codec_with(
        KeyRing::new(
            old,
            VerifyingKey::hmac(Algorithm::HS256, b"the old secret, thirty-two bytes long").unwrap(),
        )
        .unwrap(),
        &Settings::default(),
    );
    let ring = KeyRing::new(new, VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .unwrap()
        .with_verifying_key(
            VerifyingKey::hmac(Algorithm::HS256, b"the old secret, thirty-two bytes long")
                .unwrap()
                .with_key_id("2025"),
        )
        .unwrap();
    let codec = codec_with(ring, &Settings::default());

    let fresh = codec.encode(&claims(TokenType::Access)).unwrap();
    assert_eq!(header_of(&fresh)["kid"], "2026");
    assert!(AccessToken::decode(&codec, &fresh, now()).is_ok());
    let from_old_key = old_codec.encode(&claims(TokenType::Access)).unwrap();
    assert!(
        AccessToken::decode(&codec, &from_old_key, now()).is_ok(),
        "previous key still verifies"
    );

    let payload = serde_json::to_value(claims(TokenType::Access)).unwrap();
    for kid in ["2027", "../../etc/passwd", "' OR 1=1 --", ""] {
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.into());
        let token =
            jsonwebtoken::encode(&header, &payload, &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(
            AccessToken::decode(&codec, &token, now()).unwrap_err(),
            TokenError::Invalid,
            "kid {kid:?}"
        );
    }
}

#[test]
fn keys_from_the_header_are_ignored() {
    let codec = hs256();
    let payload = serde_json::to_value(claims(TokenType::Access)).unwrap();
    let attacker_secret = b"attacker's own secret, 32 bytes long";
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.jku = Some("https://attacker.invalid/jwks.json".into());
    header.x5u = Some("https://attacker.invalid/cert.pem".into());
    let token = jsonwebtoken::encode(
        &header,
        &payload,
        &EncodingKey::from_secret(attacker_secret),
    )
    .unwrap();
    assert_eq!(
        AccessToken::decode(&codec, &token, now()).unwrap_err(),
        TokenError::Invalid
    );
}

#[test]
fn every_supported_algorithm_signs_and_verifies() {
    let (es_private, es_public) = (
        include_str!("keys/es256-private.pem"),
        include_str!("keys/es256-public.pem"),
    );
    let (rs_private, rs_public) = (
        include_str!("keys/rs256-private.pem"),
        include_str!("keys/rs256-public.pem"),
    );
    let rings = [
        KeyRing::hmac(Algorithm::HS256, SECRET).unwrap(),
        KeyRing::hmac(Algorithm::HS384, SECRET).unwrap(),
        KeyRing::hmac(Algorithm::HS512, SECRET).unwrap(),
        KeyRing::from_pem(
            Algorithm::EdDSA,
            ED_PRIVATE.as_bytes(),
            ED_PUBLIC.as_bytes(),
        )
        .unwrap(),
        KeyRing::from_pem(
            Algorithm::ES256,
            es_private.as_bytes(),
            es_public.as_bytes(),
        )
        .unwrap(),
        KeyRing::from_pem(
            Algorithm::RS256,
            rs_private.as_bytes(),
            rs_public.as_bytes(),
        )
        .unwrap(),
    ];
    for ring in rings {
        let alg = ring.signing_key().algorithm();
        let codec = codec_with(ring, &Settings::default());
        let token = codec.encode(&claims(TokenType::Access)).unwrap();
        assert_eq!(header_of(&token)["alg"], alg.as_str());
        let decoded = AccessToken::decode(&codec, &token, now()).unwrap();
        assert_eq!(decoded.claims(), &claims(TokenType::Access), "{alg}");
        // Deterministic signatures: re-signing the same claims gives the same token, which
        // the reuse interval relies on.
        assert_eq!(
            codec.encode(&claims(TokenType::Access)).unwrap(),
            token,
            "{alg} is deterministic"
        );
    }
}

#[test]
fn mismatched_key_pair_fails_when_the_ring_is_built() {
    let err = KeyRing::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        VerifyingKey::hmac(Algorithm::HS256, b"a different secret entirely!!!!!!!").unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(err, jwt_allauth::KeyError::KeyPairMismatch),
        "{err:?}"
    );
    assert!(
        SigningKey::hmac(Algorithm::RS256, SECRET).is_err(),
        "a secret is no RSA key"
    );
    assert!(SigningKey::from_pem(Algorithm::RS256, b"not a pem").is_err());
    assert!(SigningKey::hmac(Algorithm::HS256, b"").is_err());
}

#[test]
fn issuer_and_audience_are_set_and_required_when_configured() {
    let mut settings = Settings::default();
    settings.issuer = Some("https://auth.example".into());
    settings.audience = Some("api".into());
    let codec = codec_with(KeyRing::hmac(Algorithm::HS256, SECRET).unwrap(), &settings);
    let mut with = claims(TokenType::Access);
    with.iss = settings.issuer.clone();
    with.aud = settings.audience.clone();
    assert!(AccessToken::decode(&codec, &codec.encode(&with).unwrap(), now()).is_ok());
    let without = claims(TokenType::Access);
    assert_eq!(
        AccessToken::decode(&codec, &codec.encode(&without).unwrap(), now()).unwrap_err(),
        TokenError::Invalid
    );
    with.aud = Some("other".into());
    assert_eq!(
        AccessToken::decode(&codec, &codec.encode(&with).unwrap(), now()).unwrap_err(),
        TokenError::Invalid
    );
}

#[test]
fn debug_output_never_contains_secrets_or_tokens() {
    let codec = hs256();
    let access = AccessToken::derive(&codec, &claims(TokenType::Refresh), now()).unwrap();
    let debug = format!("{access:?} {codec:?}");
    assert!(!debug.contains(access.as_str()));
    assert!(!debug.contains(std::str::from_utf8(SECRET).unwrap()));
    assert!(debug.contains("redacted"));
}
