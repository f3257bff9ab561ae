//! A reference model of [`TokenCodec::decode`](jwt_allauth::TokenCodec::decode) built on
//! `jsonwebtoken::decode`.
//!
//! `KeyRing` verifies tokens itself and documents that it accepts exactly the tokens that
//! `jsonwebtoken::decode` accepted with the keys the header selects (by `alg`, and by
//! `kid` when the header has one) and no claim validation, less those whose header has a
//! `crit` or `b64` field (in any form). This is that older path, as
//! `crates/jwt-allauth/tests/tokens.rs` writes it, followed by the codec's documented
//! claim checks: `nbf` when present (an integer no later than now plus the leeway), `exp`
//! against the leeway, then `token_type`, then `iss` and `aud` when configured.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_allauth::keys::MAX_TOKEN_BYTES;
use jwt_allauth::{Claims, TokenError, TokenType};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::rings::Ring;

/// The claims of `token` if `jsonwebtoken::decode` accepts it with one of the ring's keys
/// that its header selects.
pub fn verified_claims(ring: &Ring, token: &str) -> Option<Claims> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let header = jsonwebtoken::decode_header(token).ok()?;
    if names_an_extension(token) {
        return None;
    }
    for model in &ring.model {
        let other_kid = header
            .kid
            .as_deref()
            .is_some_and(|kid| Some(kid) != model.key_id);
        if model.algorithm != header.alg || other_kid {
            continue;
        }
        let mut validation = jsonwebtoken::Validation::new(model.algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.required_spec_claims.clear();
        match jsonwebtoken::decode::<Claims>(token, &model.key, &validation) {
            Ok(data) => return Some(data.claims),
            Err(err)
                if matches!(
                    err.kind(),
                    jsonwebtoken::errors::ErrorKind::InvalidSignature
                ) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Whether the JSON object of the token's header (which `jsonwebtoken::decode_header`
/// accepted) has a `crit` or `b64` field, whatever its value.
fn names_an_extension(token: &str) -> bool {
    token
        .split('.')
        .next()
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|json| serde_json::from_slice::<Map<String, Value>>(&json).ok())
        .is_some_and(|header| header.contains_key("crit") || header.contains_key("b64"))
}

/// What `TokenCodec::decode(token, expected, now)` must answer.
pub fn expected_decode(
    ring: &Ring,
    token: &str,
    expected: TokenType,
    now: OffsetDateTime,
) -> Result<Claims, TokenError> {
    claim_checks(ring, verified_claims(ring, token), expected, now)
}

/// The codec's claim checks on the claims of a verified token (`None`: not verified).
fn claim_checks(
    ring: &Ring,
    verified: Option<Claims>,
    expected: TokenType,
    now: OffsetDateTime,
) -> Result<Claims, TokenError> {
    let claims = verified.ok_or(TokenError::Invalid)?;
    let leeway = i64::try_from(ring.settings.leeway.as_secs()).unwrap_or(i64::MAX);
    if let Some(nbf) = claims.extra.get("nbf") {
        match nbf.as_i64() {
            Some(nbf) if nbf <= now.unix_timestamp().saturating_add(leeway) => {}
            _ => return Err(TokenError::Invalid),
        }
    }
    if claims.exp <= now.unix_timestamp().saturating_sub(leeway) {
        return Err(TokenError::Expired);
    }
    if claims.token_type != expected {
        return Err(TokenError::WrongType);
    }
    if ring.settings.issuer.is_some() && claims.iss != ring.settings.issuer {
        return Err(TokenError::Invalid);
    }
    if ring.settings.audience.is_some() && claims.aud != ring.settings.audience {
        return Err(TokenError::Invalid);
    }
    Ok(claims)
}

/// Checks the access and refresh decoding of `token` by every ring against the model,
/// and that a token decodes as at most one of the two types.
///
/// # Panics
///
/// When the library and the model disagree: that is the finding.
pub fn check_token(rings: &[Ring], token: &str) {
    let now = crate::rings::now();
    for ring in rings {
        let verified = verified_claims(ring, token);
        let access = jwt_allauth::AccessToken::decode(&ring.codec, token, now);
        let refresh = jwt_allauth::RefreshToken::decode(&ring.codec, token, now);
        let access_claims = access.as_ref().map(|t| t.claims().clone()).map_err(|e| *e);
        let refresh_claims = refresh.as_ref().map(|t| t.claims().clone()).map_err(|e| *e);
        assert_eq!(
            access_claims,
            claim_checks(ring, verified.clone(), TokenType::Access, now),
            "access decoding by the {} ring differs from jsonwebtoken's for {token:?}",
            ring.name
        );
        assert_eq!(
            refresh_claims,
            claim_checks(ring, verified, TokenType::Refresh, now),
            "refresh decoding by the {} ring differs from jsonwebtoken's for {token:?}",
            ring.name
        );
        assert!(
            access.is_err() || refresh.is_err(),
            "{token:?} decodes as both types"
        );
        if let Ok(access) = &access {
            assert_eq!(access.as_str(), token, "an access token keeps its text");
        }
        if let Ok(refresh) = &refresh {
            assert_eq!(refresh.as_str(), token, "a refresh token keeps its text");
        }
    }
}
