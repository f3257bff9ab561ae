//! Micro benchmarks of the token hot paths, all in one group and one run so that their
//! ratios compare like with like (see `BENCHMARKS.md` at the repository root).
//!
//! `floor/hs256` is the least work any verification of the same HS256 access token has
//! to do: one HMAC-SHA256 from a pre-keyed state, base64url decoding of the payload and
//! the signature, a constant-time tag comparison and one `serde_json` parse into
//! [`Claims`]. `verify_access/hs256` is the public API doing the same job plus header
//! and key selection, the expiry, type, issuer and audience checks, and a copy of the
//! token text (with the key ring's cache of verified tokens off, so that the signature is
//! checked every time; `verify_access/hs256_remembered` is the default ring, answering the
//! same token from that cache after its first check); `jsonwebtoken/hs256` and `jsonwebtoken/eddsa` are `jsonwebtoken::decode`
//! as the library called it before, for reference.
//!
//! On a shared machine the speed changes in phases lasting seconds, which moves
//! criterion's figures of benchmarks run one after the other. So before the criterion
//! group, the key ratios are also measured paired: the two functions run in alternating
//! batches of a millisecond or less, and the median of the per-batch ratios is printed.
//!
//! Run with `cargo bench -p jwt-allauth --bench tokens`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use jsonwebtoken::{DecodingKey, Validation};
use jwt_allauth::keys::{Algorithm, KeyRing};
use jwt_allauth::{
    AccessToken, Claims, ExtraClaims, Settings, TokenCodec, TokenType, UserAgentParser,
    UserAttributes,
};
use serde_json::json;
use sha2::Sha256;
use time::OffsetDateTime;

const SECRET: &[u8] = b"a benchmark secret of thirty-two bytes or more";
const ED_PRIVATE: &str = include_str!("../tests/keys/ed-private.pem");
const ED_PUBLIC: &str = include_str!("../tests/keys/ed-public.pem");
const CHROME_DESKTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// A realistic user's JSON form, as `UserAttributes` sees it.
fn user_json() -> serde_json::Value {
    json!({
        "id": 7,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "is_staff": false,
        "is_superuser": false,
        "profile": {
            "organization": {"id": 42, "name": "Analytical Engines Ltd"},
            "locale": "en-GB",
            "teams": [{"id": 3, "name": "core"}, {"id": 9, "name": "billing"}]
        }
    })
}

/// The three attribute paths the benchmarks copy into every token.
fn attributes() -> UserAttributes {
    UserAttributes::from_pairs([
        ("org_id", "profile.organization.id"),
        ("locale", "profile.locale"),
        ("first_team", "profile.teams.0.name"),
    ])
    .unwrap()
}

/// Refresh-token claims as login makes them, with the three attributes.
fn refresh_claims() -> Claims {
    let mut extra = ExtraClaims::new();
    attributes().apply(&user_json(), &mut extra).unwrap();
    Claims {
        token_type: TokenType::Refresh,
        exp: now().unix_timestamp() + 86_400,
        iat: now().unix_timestamp(),
        jti: "0123456789abcdef0123456789abcdef".into(),
        user_id: "7".into(),
        session: Some("fedcba9876543210fedcba9876543210".into()),
        session_iat: Some(now().unix_timestamp()),
        role: 0,
        email_verified: true,
        iss: None,
        aud: None,
        extra,
    }
}

/// A codec whose ring checks every token's signature (no cache of verified tokens), so
/// that the figures are those of a verification.
fn codec(keys: KeyRing) -> TokenCodec {
    TokenCodec::new(keys.with_verified_token_cache(0), &Settings::default())
}

/// The floor: what any HS256 verification of `token` into `Claims` must do.
fn floor_hs256(keyed: &Hmac<Sha256>, token: &str) -> Claims {
    let (message, signature) = token.rsplit_once('.').unwrap();
    let (_, payload) = message.split_once('.').unwrap();
    let mut tag = [0u8; 32];
    let len = URL_SAFE_NO_PAD.decode_slice(signature, &mut tag).unwrap();
    let mut mac = keyed.clone();
    mac.update(message.as_bytes());
    mac.verify_slice(&tag[..len]).unwrap();
    let payload = URL_SAFE_NO_PAD.decode(payload).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// Times `a` and `b` in alternating batches (`b` first every other round) and prints the
/// quartiles of the per-round time ratios `a / b`.
fn paired_ratio<A: FnMut() -> RA, RA, B: FnMut() -> RB, RB>(
    name: &str,
    mut a: A,
    mut b: B,
    batch: u32,
    rounds: usize,
) {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..batch {
            f();
        }
        start.elapsed().as_secs_f64()
    };
    let mut run_a = || {
        black_box(a());
    };
    let mut run_b = || {
        black_box(b());
    };
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            if round % 2 == 0 {
                let ta = time(&mut run_a);
                ta / time(&mut run_b)
            } else {
                let tb = time(&mut run_b);
                time(&mut run_a) / tb
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "paired {name}: median {:.2} (quartiles {:.2}–{:.2}) over {rounds} rounds of {batch}",
        ratios[rounds / 2],
        ratios[rounds / 4],
        ratios[rounds * 3 / 4],
    );
}

fn tokens(c: &mut Criterion) {
    let hs256 = codec(KeyRing::hmac(Algorithm::HS256, SECRET).unwrap());
    // The default ring: a token verified once is answered from its cache.
    let remembered = TokenCodec::new(
        KeyRing::hmac(Algorithm::HS256, SECRET).unwrap(),
        &Settings::default(),
    );
    let eddsa = codec(
        KeyRing::from_pem(
            Algorithm::EdDSA,
            ED_PRIVATE.as_bytes(),
            ED_PUBLIC.as_bytes(),
        )
        .unwrap(),
    );
    let refresh = refresh_claims();
    let hs_token = AccessToken::derive(&hs256, &refresh, now()).unwrap();
    let ed_token = AccessToken::derive(&eddsa, &refresh, now()).unwrap();
    let hs_token = hs_token.as_str().to_owned();
    let ed_token = ed_token.as_str().to_owned();

    // Every path accepts the token and finds the same claims.
    let keyed = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let decoding = DecodingKey::from_secret(SECRET);
    let mut ed_validation = Validation::new(jsonwebtoken::Algorithm::EdDSA);
    ed_validation.validate_exp = false;
    ed_validation.required_spec_claims.clear();
    let ed_decoding = DecodingKey::from_ed_pem(ED_PUBLIC.as_bytes()).unwrap();
    let expected = AccessToken::decode(&hs256, &hs_token, now()).unwrap();
    assert_eq!(&floor_hs256(&keyed, &hs_token), expected.claims());
    assert_eq!(
        &jsonwebtoken::decode::<Claims>(&hs_token, &decoding, &validation)
            .unwrap()
            .claims,
        expected.claims()
    );
    assert_eq!(
        AccessToken::decode(&eddsa, &ed_token, now())
            .unwrap()
            .claims(),
        &jsonwebtoken::decode::<Claims>(&ed_token, &ed_decoding, &ed_validation)
            .unwrap()
            .claims
    );

    // Only under `cargo bench` (not when `cargo test --benches` runs each benchmark once).
    if std::env::args().any(|arg| arg == "--bench") {
        paired_ratio(
            "verify_access/hs256 ÷ floor/hs256",
            || AccessToken::decode(&hs256, black_box(&hs_token), now()).unwrap(),
            || floor_hs256(&keyed, black_box(&hs_token)),
            200,
            1000,
        );
        paired_ratio(
            "jsonwebtoken/hs256 ÷ floor/hs256",
            || jsonwebtoken::decode::<Claims>(black_box(&hs_token), &decoding, &validation),
            || floor_hs256(&keyed, black_box(&hs_token)),
            200,
            1000,
        );
        paired_ratio(
            "verify_access/eddsa ÷ jsonwebtoken/eddsa",
            || AccessToken::decode(&eddsa, black_box(&ed_token), now()).unwrap(),
            || jsonwebtoken::decode::<Claims>(black_box(&ed_token), &ed_decoding, &ed_validation),
            10,
            400,
        );
    }

    let mut group = c.benchmark_group("tokens");
    group.bench_function("verify_access/hs256", |b| {
        b.iter(|| AccessToken::decode(&hs256, black_box(&hs_token), now()).unwrap())
    });
    group.bench_function("verify_access/hs256_remembered", |b| {
        b.iter(|| AccessToken::decode(&remembered, black_box(&hs_token), now()).unwrap())
    });
    group.bench_function("floor/hs256", |b| {
        b.iter(|| floor_hs256(&keyed, black_box(&hs_token)))
    });
    group.bench_function("jsonwebtoken/hs256", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Claims>(black_box(&hs_token), &decoding, &validation).unwrap()
        })
    });
    group.bench_function("verify_access/eddsa", |b| {
        b.iter(|| AccessToken::decode(&eddsa, black_box(&ed_token), now()).unwrap())
    });
    group.bench_function("jsonwebtoken/eddsa", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Claims>(black_box(&ed_token), &ed_decoding, &ed_validation)
                .unwrap()
        })
    });
    group.bench_function("mint/refresh+access", |b| {
        b.iter(|| {
            let refresh_token = hs256.encode(black_box(&refresh)).unwrap();
            let access = AccessToken::derive(&hs256, black_box(&refresh), now()).unwrap();
            (refresh_token, access)
        })
    });
    let attributes = attributes();
    let user = user_json();
    group.bench_function("claims/attributes", |b| {
        b.iter(|| {
            let mut extra = ExtraClaims::new();
            attributes.apply(black_box(&user), &mut extra).unwrap();
            extra
        })
    });
    let parser = UserAgentParser::new().unwrap();
    group.bench_function("user_agent/parse", |b| {
        b.iter(|| parser.parse(black_box(CHROME_DESKTOP)))
    });
    group.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
