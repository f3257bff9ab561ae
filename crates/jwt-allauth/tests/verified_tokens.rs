//! The key ring's cache of verified access tokens: a token is answered from memory only
//! when it is, byte for byte, one the ring's keys accepted, and every claim is checked on
//! every call all the same.
#![allow(clippy::unwrap_used)]

use jwt_allauth::claims::{Claims, ExtraClaims, TokenType};
use jwt_allauth::keys::{Algorithm, KeyPair, KeyRing};
use jwt_allauth::{Settings, TokenCodec, TokenError};
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// A ring signing with a new EdDSA pair named `kid`.
fn ring(kid: &str) -> KeyRing {
    let pair = KeyPair::generate(Algorithm::EdDSA).unwrap();
    KeyRing::new(
        pair.signing_key().unwrap().with_key_id(kid),
        pair.verifying_key().unwrap(),
    )
    .unwrap()
}

fn claims(token_type: TokenType) -> Claims {
    Claims {
        token_type,
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

fn decode(codec: &TokenCodec, token: &str, at: OffsetDateTime) -> Result<Claims, TokenError> {
    codec.decode(token, TokenType::Access, at)
}

#[test]
fn a_token_verified_once_is_remembered_and_still_expires() {
    let codec = TokenCodec::new(ring("k1"), &Settings::default());
    let token = codec.encode(&claims(TokenType::Access)).unwrap();
    assert_eq!(codec.keys().verified_tokens_cached(), 0);

    let first = decode(&codec, &token, now()).unwrap();
    assert_eq!(codec.keys().verified_tokens_cached(), 1);
    let again = decode(&codec, &token, now()).unwrap();
    assert_eq!(again, first);
    assert_eq!(codec.keys().verified_tokens_cached(), 1);

    // Past `exp` + leeway, the remembered token is expired like any other.
    let later = now() + Duration::seconds(300) + Settings::default().leeway;
    assert_eq!(decode(&codec, &token, later), Err(TokenError::Expired));
}

#[test]
fn a_token_that_differs_in_any_byte_is_verified_and_refused() {
    let codec = TokenCodec::new(ring("k1"), &Settings::default());
    let token = codec.encode(&claims(TokenType::Access)).unwrap();
    decode(&codec, &token, now()).unwrap();

    let (header, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    // The signature of the remembered token over another payload.
    let mut forged = claims(TokenType::Access);
    forged.user_id = "1".into();
    forged.role = 0;
    let other = codec.encode(&forged).unwrap();
    let other_payload = other.split('.').nth(1).unwrap();
    let swapped = format!("{header}.{other_payload}.{signature}");
    assert_eq!(decode(&codec, &swapped, now()), Err(TokenError::Invalid));
    // One character of the signature changed.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(decode(&codec, &tampered, now()), Err(TokenError::Invalid));
    // Neither was remembered.
    assert_eq!(codec.keys().verified_tokens_cached(), 1);
}

#[test]
fn a_remembered_token_is_refused_once_its_key_is_gone() {
    let codec = TokenCodec::new(ring("k1"), &Settings::default());
    let token = codec.encode(&claims(TokenType::Access)).unwrap();
    decode(&codec, &token, now()).unwrap();

    codec.replace_keys(ring("k2"));
    assert_eq!(decode(&codec, &token, now()), Err(TokenError::Invalid));
}

#[test]
fn a_ring_given_another_key_does_not_share_what_it_accepts_with_its_clones() {
    let signer = ring("new");
    let verifier = signer.verifying_keys()[0].clone();
    let without = KeyRing::verify_only([]).unwrap();
    let with = without.clone().with_verifying_key(verifier).unwrap();
    let settings = Settings::default();
    let token = TokenCodec::new(signer, &settings)
        .encode(&claims(TokenType::Access))
        .unwrap();

    let with = TokenCodec::new(with, &settings);
    decode(&with, &token, now()).unwrap();
    let without = TokenCodec::new(without, &settings);
    assert_eq!(decode(&without, &token, now()), Err(TokenError::Invalid));
}

#[test]
fn issuer_audience_and_type_are_checked_on_every_call() {
    let keys = ring("k1");
    let open = TokenCodec::new(keys.clone(), &Settings::default());
    let token = open.encode(&claims(TokenType::Access)).unwrap();
    decode(&open, &token, now()).unwrap();

    // A codec on the same ring (and cache) that expects an issuer and an audience.
    let mut strict = Settings::default();
    strict.issuer = Some("https://auth.example".into());
    let strict_codec = TokenCodec::new(keys.clone(), &strict);
    assert_eq!(
        decode(&strict_codec, &token, now()),
        Err(TokenError::Invalid)
    );
    let mut audience = Settings::default();
    audience.audience = Some("api".into());
    let audience_codec = TokenCodec::new(keys, &audience);
    assert_eq!(
        decode(&audience_codec, &token, now()),
        Err(TokenError::Invalid)
    );
    // Wanted as a refresh token, the remembered access token is the wrong type.
    assert_eq!(
        open.decode(&token, TokenType::Refresh, now()),
        Err(TokenError::WrongType)
    );
}

#[test]
fn refresh_tokens_are_never_remembered() {
    let codec = TokenCodec::new(ring("k1"), &Settings::default());
    let token = codec.encode(&claims(TokenType::Refresh)).unwrap();
    codec.decode(&token, TokenType::Refresh, now()).unwrap();
    codec.decode(&token, TokenType::Refresh, now()).unwrap();
    assert_eq!(codec.keys().verified_tokens_cached(), 0);
}

#[test]
fn a_ring_without_a_cache_verifies_every_time() {
    let codec = TokenCodec::new(
        ring("k1").with_verified_token_cache(0),
        &Settings::default(),
    );
    let token = codec.encode(&claims(TokenType::Access)).unwrap();
    decode(&codec, &token, now()).unwrap();
    decode(&codec, &token, now()).unwrap();
    assert_eq!(codec.keys().verified_tokens_cached(), 0);
}

#[test]
fn the_cache_holds_at_most_its_capacity() {
    let codec = TokenCodec::new(
        ring("k1").with_verified_token_cache(64),
        &Settings::default(),
    );
    for n in 0..500 {
        let mut minted = claims(TokenType::Access);
        minted.jti = format!("{n:032x}");
        let token = codec.encode(&minted).unwrap();
        decode(&codec, &token, now()).unwrap();
    }
    let cached = codec.keys().verified_tokens_cached();
    assert!(cached > 0 && cached <= 64, "{cached} tokens cached");
}
