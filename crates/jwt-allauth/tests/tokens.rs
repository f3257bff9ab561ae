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
        let alg = ring.signing_key().unwrap().algorithm();
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
fn hmac_secrets_under_32_bytes_need_a_dangerous_constructor() {
    let short = b"thirty-one bytes, one too short";
    assert_eq!(short.len(), 31);
    let refused = |result: Result<(), jwt_allauth::KeyError>| {
        assert!(
            matches!(
                result,
                Err(jwt_allauth::KeyError::ShortSecret { len: 31, min: 32 })
            ),
            "{result:?}"
        );
    };
    refused(KeyRing::hmac(Algorithm::HS256, short).map(drop));
    refused(SigningKey::hmac(Algorithm::HS384, short).map(drop));
    refused(VerifyingKey::hmac(Algorithm::HS512, short).map(drop));
    let mut settings = Settings::default();
    settings.secret_key = Some(jwt_allauth::Secret::new(
        std::str::from_utf8(short).unwrap(),
    ));
    refused(KeyRing::from_settings(&settings).map(drop));
    // The error names the length, never the secret.
    let message = KeyRing::hmac(Algorithm::HS256, short)
        .unwrap_err()
        .to_string();
    assert!(!message.contains("thirty-one"), "{message}");

    // Opting in: the dangerous constructors, of a ring or from settings.
    let ring = KeyRing::dangerous_hmac_short_secret(Algorithm::HS256, short).unwrap();
    let codec = codec_with(ring, &Settings::default());
    let token = codec.encode(&claims(TokenType::Access)).unwrap();
    assert!(codec.decode(&token, TokenType::Access, now()).is_ok());
    assert!(KeyRing::dangerous_from_settings_with_short_secret(&settings).is_ok());
    assert!(KeyRing::hmac(Algorithm::HS256, &[7; 32]).is_ok());
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

/// Signs the exact bytes `b64(header).b64(payload)` with HS256 and `secret`.
fn hs256_raw(header: &str, payload: &str, secret: &[u8]) -> String {
    signed_raw(header, payload, &hs256_signer(secret))
}

/// Signs the exact bytes `b64(header).b64(payload)` with `sign`.
fn signed_raw(header: &str, payload: &str, sign: &dyn Fn(&str) -> String) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = sign(&message);
    format!("{message}.{signature}")
}

/// Signs a message with HS256, returning the signature part.
fn hs256_signer(secret: &[u8]) -> impl Fn(&str) -> String {
    move |message| {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// Signs a message with a PEM private key, returning the signature part.
fn pem_signer(alg: Algorithm, private: &str) -> impl Fn(&str) -> String {
    let (key, alg) = match alg {
        Algorithm::EdDSA => (
            EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
            jsonwebtoken::Algorithm::EdDSA,
        ),
        Algorithm::ES256 => (
            EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
            jsonwebtoken::Algorithm::ES256,
        ),
        _ => (
            EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
            jsonwebtoken::Algorithm::RS256,
        ),
    };
    move |message| jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).unwrap()
}

/// `KeyRing::verify` as it was before the direct path: `jsonwebtoken::decode` with every
/// key the header selects (by algorithm, and by `kid` when the header has one); then what
/// the library refuses besides (issue 10, finding 9): a header with `crit` or `b64`, and an
/// `nbf` that is not an integer or is later than [`now`].
fn jsonwebtoken_accepts(
    keys: &[(
        jsonwebtoken::Algorithm,
        Option<&str>,
        jsonwebtoken::DecodingKey,
    )],
    token: &str,
) -> bool {
    if token.len() > jwt_allauth::keys::MAX_TOKEN_BYTES {
        return false;
    }
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return false;
    };
    for (alg, kid, key) in keys {
        if *alg != header.alg || header.kid.as_deref().is_some_and(|h| Some(h) != *kid) {
            continue;
        }
        let mut validation = jsonwebtoken::Validation::new(*alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.required_spec_claims.clear();
        match jsonwebtoken::decode::<Claims>(token, key, &validation) {
            Ok(data) => return header_and_nbf_allowed(token, &data.claims),
            Err(err)
                if matches!(
                    err.kind(),
                    jsonwebtoken::errors::ErrorKind::InvalidSignature
                ) =>
            {
                continue;
            }
            Err(_) => return false,
        }
    }
    false
}

/// Whether a token that `jsonwebtoken::decode` accepted has no `crit` or `b64` header
/// field (in any form, `null` included), and no `nbf` claim or an integer one no later
/// than [`now`].
fn header_and_nbf_allowed(token: &str, claims: &Claims) -> bool {
    let header: serde_json::Map<String, Value> = token
        .split('.')
        .next()
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|json| serde_json::from_slice(&json).ok())
        .unwrap();
    let extension = header.contains_key("crit") || header.contains_key("b64");
    let nbf_allowed = match claims.extra.get("nbf") {
        None => true,
        Some(nbf) => nbf
            .as_i64()
            .is_some_and(|nbf| nbf <= now().unix_timestamp()),
    };
    !extension && nbf_allowed
}

/// Whether the library's verification accepted the signature, header and payload (an
/// expired or wrongly typed token got past them).
fn library_accepts(codec: &TokenCodec, token: &str) -> bool {
    !matches!(
        AccessToken::decode(codec, token, now()),
        Err(TokenError::Invalid)
    )
}

/// Token variants around a correctly signed `header.payload`: every header text (naming
/// `alg` where a correct header would) with the good payload, every payload text with the
/// good header, and mangled encodings.
fn tricky_tokens(alg: &str, good_header: &str, sign: &dyn Fn(&str) -> String) -> Vec<String> {
    let good_payload = serde_json::to_string(&claims(TokenType::Access)).unwrap();
    let body = good_payload.trim_start_matches('{').trim_end_matches('}');
    let headers = [
        good_header,
        r#"{"typ":"JWT","alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"HS256"}"#,
        " {\"alg\" : \"HS256\"}\n",
        r#"{"alg":"HS\u0032\u0035\u0036"}"#,
        r#"{"alg":"hs256"}"#,
        r#"{"alg":"HS256 "}"#,
        r#"{"alg":"none"}"#,
        r#"{"alg":"None"}"#,
        r#"{"alg":"NONE"}"#,
        r#"{"alg":"HS384"}"#,
        r#"{"alg":"HS512"}"#,
        r#"{"alg":"RS256"}"#,
        r#"{"alg":"PS256"}"#,
        r#"{"alg":"EdDSA"}"#,
        r#"{"alg":{"HS256":null}}"#,
        r#"{"alg":["HS256"]}"#,
        r#"{"alg":null}"#,
        r#"{"alg":"HS256","alg":"HS256"}"#,
        r#"{"alg":"HS256","kid":null}"#,
        r#"{"alg":"HS256","kid":5}"#,
        r#"{"alg":"HS256","kid":"2026"}"#,
        r#"{"alg":"HS256","kid":"2025"}"#,
        r#"{"alg":"HS256","kid":"2027"}"#,
        r#"{"alg":"HS256","kid":"2026","kid":"2026"}"#,
        r#"{"alg":"HS256","typ":5}"#,
        r#"{"alg":"HS256","typ":null}"#,
        r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#,
        r#"{"alg":"HS256","crit":["exp"]}"#,
        r#"{"alg":"HS256","crit":"exp"}"#,
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":null}"#,
        r#"{"alg":"HS256","\u0063rit":["x"]}"#,
        r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
        r#"{"alg":"HS256","b64":false}"#,
        r#"{"alg":"HS256","b64":true}"#,
        r#"{"alg":"HS256","b64":null}"#,
        r#"{"alg":"HS256","jwk":"x"}"#,
        r#"{"alg":"HS256","jku":"https://attacker.invalid/"}"#,
        r#"{"alg":"HS256","x5c":"not a list"}"#,
        r#"{"alg":"HS256","custom":{"nested":[1,2,{"a":null}]}}"#,
        r#"{"alg":"HS256","custom":1,"custom":2}"#,
        r#"{"alg":"HS256"}x"#,
        r#"{"alg":"HS256"},"#,
        "{}",
        "[]",
        "null",
        r#""HS256""#,
        "",
        "\u{feff}{\"alg\":\"HS256\"}",
    ];
    let payloads = [
        good_payload.clone(),
        format!(" {good_payload}\n"),
        format!("{good_payload}x"),
        format!("{good_payload}{{}}"),
        format!("{{{body},\"sub\":\"x\"}}"),
        format!("{{{body},\"sub\":5}}"),
        format!("{{{body},\"sub\":null}}"),
        format!("{{{body},\"sub\":[]}}"),
        format!("{{{body},\"sub\":[1]}}"),
        format!("{{{body},\"sub\":{{}}}}"),
        format!("{{{body},\"sub\":{{\"a\":1}},\"more\":2}}"),
        format!("{{{body},\"sub\":\"a\",\"sub\":\"b\"}}"),
        format!("{{\"sub\":[\"a\"],{body}}}"),
        format!("{{{body},\"nbf\":1}}"),
        format!("{{{body},\"nbf\":-1}}"),
        format!("{{{body},\"nbf\":1.5}}"),
        format!("{{{body},\"nbf\":\"1\"}}"),
        format!("{{{body},\"nbf\":[]}}"),
        format!("{{{body},\"nbf\":[1]}}"),
        format!("{{{body},\"nbf\":{{}}}}"),
        format!("{{{body},\"nbf\":{{\"a\":1}}}}"),
        format!("{{{body},\"nbf\":1,\"nbf\":2}}"),
        format!("{{{body},\"nbf\":1.0}}"),
        format!("{{{body},\"nbf\":1e3}}"),
        format!("{{{body},\"nbf\":null}}"),
        format!("{{{body},\"nbf\":1800000000}}"),
        format!("{{{body},\"nbf\":1800000001}}"),
        format!("{{{body},\"nbf\":18446744073709551615}}"),
        format!("{{{body},\"exp\":1900000000}}"),
        format!("{{{body},\"iss\":\"a\",\"iss\":\"a\"}}"),
        format!("{{{body},\"iss\":[\"a\"]}}"),
        format!("{{{body},\"aud\":[\"a\"]}}"),
        format!("{{{body},\"aud\":null}}"),
        format!("{{{body},\"org_id\":1}}"),
        format!(
            "{{{body},\"deep\":{}1{}}}",
            "[".repeat(120),
            "]".repeat(120)
        ),
        format!(
            "{{{body},\"deep\":{}1{}}}",
            "[".repeat(130),
            "]".repeat(130)
        ),
        "{}".into(),
        "[]".into(),
        "null".into(),
        "\"claims\"".into(),
        "1".into(),
        String::new(),
    ];
    let mut tokens = Vec::new();
    for header in headers {
        let header = header.replace("HS256", alg);
        tokens.push(signed_raw(&header, &good_payload, sign));
    }
    for payload in &payloads {
        tokens.push(signed_raw(good_header, payload, sign));
    }
    let good = signed_raw(good_header, &good_payload, sign);
    let parts: Vec<&str> = good.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    // The signature's last character carries 4 unused bits: set one of them.
    let last = s.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    let sloppy = alphabet.chars().nth(index ^ 1).unwrap();
    let sloppy_signature = format!("{}{sloppy}", &s[..s.len() - 1]);
    for mangled in [
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}=.{s}"),
        format!("{h}.{p}.{s}="),
        format!("{h}.{p}.{s}=="),
        format!(" {good}"),
        format!("{good} "),
        format!("{good}\n"),
        format!("{h} .{p}.{s}"),
        format!("{h}.{p}.{} {}", &s[..10], &s[10..]),
        format!("{h}.{p}.{}", s.replace('-', "+").replace('_', "/")),
        format!("{h}.{p}.{sloppy_signature}"),
        format!("{h}.{p}.{s}."),
        format!("{h}.{p}.{s}.{s}"),
        format!(".{h}.{p}.{s}"),
        format!("{h}..{p}.{s}"),
        format!("{h}.{p}"),
        format!("{h}.{p}."),
        format!("{h}..{s}"),
        format!(".{p}.{s}"),
        format!("{h}.{p}.{}", &s[..s.len() - 1]),
        format!("{h}.{p}.{s}{}", &s[..2]),
        format!("{h}.{p}.{s}{s}"),
        format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode([0u8; 200])),
        good.clone(),
    ] {
        tokens.push(mangled);
    }
    tokens
}

#[test]
fn direct_verification_accepts_exactly_what_jsonwebtoken_accepted() {
    let good_header = r#"{"typ":"JWT","alg":"HS256"}"#;
    let secret_key = || jsonwebtoken::DecodingKey::from_secret(SECRET);
    let tokens = tricky_tokens("HS256", good_header, &hs256_signer(SECRET));
    let mut accepted = 0;
    for token in &tokens {
        let expected = jsonwebtoken_accepts(
            &[(jsonwebtoken::Algorithm::HS256, None, secret_key())],
            token,
        );
        assert_eq!(library_accepts(&hs256(), token), expected, "{token:?}");
        accepted += usize::from(expected);
    }
    assert!(accepted > 10 && accepted < tokens.len() / 2, "{accepted}");

    // A ring selecting by `kid`: "2026" signs, "2025" is a previous key.
    let old_secret = b"the old secret, thirty-two bytes long";
    let ring = KeyRing::new(
        SigningKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_key_id("2026"),
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    )
    .unwrap()
    .with_verifying_key(
        VerifyingKey::hmac(Algorithm::HS256, old_secret)
            .unwrap()
            .with_key_id("2025"),
    )
    .unwrap();
    let codec = codec_with(ring, &Settings::default());
    let keys = [
        (jsonwebtoken::Algorithm::HS256, Some("2026"), secret_key()),
        (
            jsonwebtoken::Algorithm::HS256,
            Some("2025"),
            jsonwebtoken::DecodingKey::from_secret(old_secret),
        ),
    ];
    for secret in [SECRET, old_secret] {
        let kid_header = r#"{"typ":"JWT","alg":"HS256","kid":"2026"}"#;
        for token in tricky_tokens("HS256", kid_header, &hs256_signer(secret)) {
            assert_eq!(
                library_accepts(&codec, &token),
                jsonwebtoken_accepts(&keys, &token),
                "{token:?}"
            );
        }
    }

    // Public-key rings: tokens signed with the private key, and HMAC tokens signed with
    // the public key text.
    for (alg, private, public) in [
        (Algorithm::EdDSA, ED_PRIVATE, ED_PUBLIC),
        (
            Algorithm::ES256,
            include_str!("keys/es256-private.pem"),
            include_str!("keys/es256-public.pem"),
        ),
        (
            Algorithm::RS256,
            include_str!("keys/rs256-private.pem"),
            include_str!("keys/rs256-public.pem"),
        ),
    ] {
        let codec = codec_with(
            KeyRing::from_pem(alg, private.as_bytes(), public.as_bytes()).unwrap(),
            &Settings::default(),
        );
        let decoding = match alg {
            Algorithm::EdDSA => jsonwebtoken::DecodingKey::from_ed_pem(public.as_bytes()),
            Algorithm::ES256 => jsonwebtoken::DecodingKey::from_ec_pem(public.as_bytes()),
            _ => jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()),
        }
        .unwrap();
        let jwt_alg =
            jsonwebtoken::decode_header(codec.encode(&claims(TokenType::Access)).unwrap())
                .unwrap()
                .alg;
        let keys = [(jwt_alg, None, decoding)];
        let genuine = codec.encode(&claims(TokenType::Access)).unwrap();
        let (message, signature) = genuine.rsplit_once('.').unwrap();
        let signature_len = URL_SAFE_NO_PAD.decode(signature).unwrap().len();
        let good_header = format!(r#"{{"typ":"JWT","alg":"{alg}"}}"#);
        let mut tokens = tricky_tokens(alg.as_str(), &good_header, &pem_signer(alg, private));
        tokens.extend(tricky_tokens(
            "HS256",
            r#"{"typ":"JWT","alg":"HS256"}"#,
            &hs256_signer(public.as_bytes()),
        ));
        tokens.push(genuine.clone());
        for len in [signature_len, signature_len - 1, signature_len + 1, 64, 0] {
            tokens.push(format!(
                "{message}.{}",
                URL_SAFE_NO_PAD.encode(vec![0u8; len])
            ));
        }
        let mut accepted = 0;
        for token in &tokens {
            let expected = jsonwebtoken_accepts(&keys, token);
            assert_eq!(library_accepts(&codec, token), expected, "{alg}: {token:?}");
            accepted += usize::from(expected);
        }
        assert!(accepted > 10, "{alg}: {accepted}");
        assert!(library_accepts(&codec, &genuine));
    }
}

#[test]
fn padding_whitespace_and_non_object_payloads_are_rejected() {
    let codec = hs256();
    let header = r#"{"typ":"JWT","alg":"HS256"}"#;
    let payload = serde_json::to_string(&claims(TokenType::Access)).unwrap();
    let good = hs256_raw(header, &payload, SECRET);
    assert!(AccessToken::decode(&codec, &good, now()).is_ok());
    let parts: Vec<&str> = good.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let mut rejected = vec![
        // Padding, even where the length would allow it.
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}=.{s}"),
        format!("{h}.{p}.{s}="),
        // Whitespace around or inside the token.
        format!(" {good}"),
        format!("{good}\n"),
        format!("{h}.{p} .{s}"),
        format!("{h}.{p}.{}\t{}", &s[..5], &s[5..]),
        // Standard base64 instead of base64url.
        format!("{h}.{p}.{}+", &s[..s.len() - 1]),
    ];
    // Correctly signed HS256 tokens whose payload is not a claims object.
    for payload in ["[]", "null", "1", "\"x\"", "", "{}", "[{\"exp\":1}]"] {
        rejected.push(hs256_raw(header, payload, SECRET));
    }
    // Correctly signed, but with a header that is not one JSON object naming a known
    // algorithm exactly.
    for header in [
        r#"{"alg":"hs256"}"#,
        r#"{"alg":" HS256"}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"HS256"} {}"#,
        "[\"HS256\"]",
    ] {
        rejected.push(hs256_raw(header, &payload, SECRET));
    }
    for token in rejected {
        assert_eq!(
            AccessToken::decode(&codec, &token, now()).unwrap_err(),
            TokenError::Invalid,
            "{token:?}"
        );
    }
}

/// The key ring the settings describe, as a codec with those settings.
fn codec_from_settings(settings: &Settings) -> Result<TokenCodec, jwt_allauth::KeyError> {
    Ok(codec_with(KeyRing::from_settings(settings)?, settings))
}

#[test]
fn key_rotation_through_settings_keeps_old_tokens_and_signs_with_the_new_key() {
    let old_secret = "the old secret, thirty-two bytes long";
    let new_secret = "the new secret, also thirty-two bytes long";
    let mut before = Settings::default();
    before.secret_key = Some(jwt_allauth::Secret::new(old_secret));
    let before = codec_from_settings(&before).unwrap();
    let old_token = before.encode(&claims(TokenType::Refresh)).unwrap();

    // During the rotation: the new key signs (with its kid), the old one still verifies.
    let mut during = Settings::default();
    during.secret_key = Some(jwt_allauth::Secret::new(new_secret));
    during.key_id = Some("2026".into());
    during.previous_secret_key = Some(jwt_allauth::Secret::new(old_secret));
    let during = codec_from_settings(&during).unwrap();
    assert!(RefreshToken::decode(&during, &old_token, now()).is_ok());
    let new_token = during.encode(&claims(TokenType::Refresh)).unwrap();
    assert_eq!(header_of(&new_token)["kid"], "2026");
    assert_eq!(
        RefreshToken::decode(&before, &new_token, now()).unwrap_err(),
        TokenError::Invalid,
        "the old ring does not know the new key"
    );

    // After it: the old key is gone, its tokens are refused.
    let mut after = Settings::default();
    after.secret_key = Some(jwt_allauth::Secret::new(new_secret));
    after.key_id = Some("2026".into());
    let after = codec_from_settings(&after).unwrap();
    assert!(RefreshToken::decode(&after, &new_token, now()).is_ok());
    assert_eq!(
        RefreshToken::decode(&after, &old_token, now()).unwrap_err(),
        TokenError::Invalid
    );
}

#[test]
fn key_rotation_can_change_the_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("ed-private.pem");
    let public = dir.path().join("ed-public.pem");
    std::fs::write(&private, ED_PRIVATE).unwrap();
    std::fs::write(&public, ED_PUBLIC).unwrap();

    let hs = hs256();
    let old_token = hs.encode(&claims(TokenType::Access)).unwrap();
    let mut settings = Settings::default();
    settings.algorithm = Algorithm::EdDSA;
    settings.private_key_file = Some(private);
    settings.public_key_file = Some(public);
    settings.key_id = Some("ed-2026".into());
    settings.previous_algorithm = Some(Algorithm::HS256);
    settings.previous_secret_key = Some(jwt_allauth::Secret::new(
        std::str::from_utf8(SECRET).unwrap(),
    ));
    let codec = codec_from_settings(&settings).unwrap();
    assert!(AccessToken::decode(&codec, &old_token, now()).is_ok());
    let new_token = codec.encode(&claims(TokenType::Access)).unwrap();
    assert_eq!(header_of(&new_token)["alg"], "EdDSA");
    assert!(AccessToken::decode(&codec, &new_token, now()).is_ok());
}

#[test]
fn an_incomplete_or_clashing_previous_key_is_a_start_up_error() {
    let mut settings = Settings::default();
    settings.secret_key = Some(jwt_allauth::Secret::new(
        "the new secret, thirty-two bytes long",
    ));
    settings.previous_key_id = Some("2025".into());
    let err = KeyRing::from_settings(&settings).unwrap_err();
    assert!(err.to_string().contains("PREVIOUS_SECRET_KEY"), "{err}");

    settings.previous_algorithm = Some(Algorithm::RS256);
    let err = KeyRing::from_settings(&settings).unwrap_err();
    assert!(
        err.to_string().contains("PREVIOUS_PUBLIC_KEY_FILE"),
        "{err}"
    );

    settings.previous_algorithm = None;
    settings.previous_secret_key = Some(jwt_allauth::Secret::new("the old secret"));
    settings.key_id = Some("2025".into());
    assert!(matches!(
        KeyRing::from_settings(&settings),
        Err(jwt_allauth::KeyError::DuplicateKeyId(_))
    ));
}

/// Issue 10, finding 9: a `crit` header names extensions the verifier must understand
/// (RFC 7515 section 4.1.11); this library understands none, so any `crit`, even an empty
/// list, refuses the token, with every key type.
#[test]
fn finding_9_crit_header_is_refused() {
    let payload = serde_json::to_string(&claims(TokenType::Access)).unwrap();
    let ed = codec_with(
        KeyRing::from_pem(
            Algorithm::EdDSA,
            ED_PRIVATE.as_bytes(),
            ED_PUBLIC.as_bytes(),
        )
        .unwrap(),
        &Settings::default(),
    );
    let hs = hs256();
    let (hs_sign, ed_sign) = (
        hs256_signer(SECRET),
        pem_signer(Algorithm::EdDSA, ED_PRIVATE),
    );
    for (codec, alg, sign) in [
        (&hs, "HS256", &hs_sign as &dyn Fn(&str) -> String),
        (&ed, "EdDSA", &ed_sign),
    ] {
        let good = signed_raw(&format!(r#"{{"alg":"{alg}"}}"#), &payload, sign);
        assert!(AccessToken::decode(codec, &good, now()).is_ok(), "{alg}");
        for crit in [
            r#"["exp"]"#,
            r#"["b64"]"#,
            r#"["x-unknown-extension"]"#,
            "[]",
        ] {
            let header = format!(r#"{{"alg":"{alg}","typ":"JWT","crit":{crit}}}"#);
            let token = signed_raw(&header, &payload, sign);
            assert_eq!(
                AccessToken::decode(codec, &token, now()).unwrap_err(),
                TokenError::Invalid,
                "{header}"
            );
        }
    }
}

/// Issue 10, finding 9: `b64` (RFC 7797, unencoded payload) changes what the signature
/// covers; a verifier that does not implement it must refuse the token, whatever its value.
#[test]
fn finding_9_b64_header_is_refused() {
    let codec = hs256();
    let payload = serde_json::to_string(&claims(TokenType::Access)).unwrap();
    for header in [
        r#"{"alg":"HS256","b64":false}"#,
        r#"{"alg":"HS256","b64":true}"#,
        r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#,
    ] {
        let token = hs256_raw(header, &payload, SECRET);
        assert_eq!(
            AccessToken::decode(&codec, &token, now()).unwrap_err(),
            TokenError::Invalid,
            "{header}"
        );
    }
}

/// Issue 10, finding 9: `nbf` (RFC 7519 section 4.1.5) is an integer no later than now
/// plus the leeway; a token not yet valid, or whose `nbf` is not an integer, is invalid.
#[test]
fn finding_9_nbf_in_the_future_or_not_an_integer_is_refused() {
    let codec = hs256();
    let mut leeway = Settings::default();
    leeway.leeway = std::time::Duration::from_secs(30);
    let lenient = codec_with(KeyRing::hmac(Algorithm::HS256, SECRET).unwrap(), &leeway);
    let now_s = now().unix_timestamp();
    let with_nbf = |nbf: Value| {
        let mut payload = serde_json::to_value(claims(TokenType::Access)).unwrap();
        payload["nbf"] = nbf;
        hs256_sign(&payload)
    };
    for nbf in [json!(now_s), json!(now_s - 1), json!(0), json!(-1)] {
        let token = with_nbf(nbf.clone());
        assert!(AccessToken::decode(&codec, &token, now()).is_ok(), "{nbf}");
        assert!(
            AccessToken::decode(&lenient, &token, now()).is_ok(),
            "{nbf}"
        );
    }
    // In the future: refused, unless within the leeway.
    for (nbf, within_leeway) in [
        (now_s + 1, true),
        (now_s + 30, true),
        (now_s + 31, false),
        (i64::MAX, false),
    ] {
        let token = with_nbf(json!(nbf));
        assert_eq!(
            AccessToken::decode(&codec, &token, now()).unwrap_err(),
            TokenError::Invalid,
            "nbf {nbf}"
        );
        assert_eq!(
            AccessToken::decode(&lenient, &token, now()).is_ok(),
            within_leeway,
            "nbf {nbf} with a leeway of 30 s"
        );
    }
    // Not an integer.
    for nbf in [
        json!(1.5),
        json!(1.0),
        json!(1e3),
        json!(u64::MAX),
        json!("1"),
        json!(null),
        json!(true),
        json!([1]),
        json!({"a": 1}),
    ] {
        let token = with_nbf(nbf.clone());
        assert_eq!(
            AccessToken::decode(&codec, &token, now()).unwrap_err(),
            TokenError::Invalid,
            "nbf {nbf}"
        );
    }
    // A refresh token the same way, through its own decoder.
    let mut payload = serde_json::to_value(claims(TokenType::Refresh)).unwrap();
    payload["nbf"] = json!(now_s + 3600);
    assert_eq!(
        RefreshToken::decode(&codec, &hs256_sign(&payload), now()).unwrap_err(),
        TokenError::Invalid
    );
}
