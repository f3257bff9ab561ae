//! Arbitrary text as a token, through `AccessToken::decode` and `RefreshToken::decode`
//! with three key rings: HS256, an HS256 key rotation selecting keys by `kid` (with
//! `iss` and `aud` required) and EdDSA.
//!
//! Checks that nothing panics, and that every ring answers exactly what the reference
//! model answers (`jsonwebtoken::decode` with the keys the header selects, then the
//! codec's `exp`, `token_type`, `iss` and `aud` checks; see `src/reference.rs`): a token
//! is accepted only if its signature, checked by jsonwebtoken over its first two
//! segments, is good, and the claims are those jsonwebtoken decoded. Also that no token
//! decodes as both access and refresh, and that a decoded token keeps its exact text.
//!
//! Input bytes that are not UTF-8 are decoded lossily (the verifiers take `&str`; the
//! axum layer refuses non-UTF-8 tokens before them). The seeds are valid and tampered
//! tokens for the test keys; `token_signed` reaches the payload parser more often.
#![no_main]

use std::sync::LazyLock;

use jwt_allauth_fuzz::reference::check_token;
use jwt_allauth_fuzz::rings::{self, Ring};
use libfuzzer_sys::fuzz_target;

static RINGS: LazyLock<Vec<Ring>> = LazyLock::new(rings::all);

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    check_token(&RINGS, &token);
});
