//! Fuzzed JOSE headers and payloads, correctly signed, through the token verifiers.
//!
//! The input is a header text and a payload text separated by the first newline; each is
//! base64url-encoded and the pair is signed with every test key (the HS256 secret, the
//! rotation's old secret and the Ed25519 key) whatever `alg` the header names. The
//! signature is then good for some ring, so the header parser (`alg` in any case, `kid`
//! selection, `none`, `crit` and `b64`, unknown or duplicate fields) and the payload parser
//! (claim types, duplicates, `exp` and `nbf` limits, the lenient `sub`/`nbf` parse) are
//! reached on every run.
//!
//! Checks, like `token_decode`, that every ring decodes each token exactly as the
//! reference model does (`jsonwebtoken::decode` with the selected keys, then the codec's
//! claim checks), as access and as refresh token; and that nothing panics.
#![no_main]

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use jwt_allauth_fuzz::reference::check_token;
use jwt_allauth_fuzz::rings::{self, Ring};
use libfuzzer_sys::fuzz_target;

static RINGS: LazyLock<Vec<Ring>> = LazyLock::new(rings::all);
static SIGNERS: LazyLock<Vec<(EncodingKey, jsonwebtoken::Algorithm)>> =
    LazyLock::new(rings::signers);

fuzz_target!(|data: &[u8]| {
    let (header, payload) = match data.iter().position(|&b| b == b'\n') {
        Some(newline) => (&data[..newline], &data[newline + 1..]),
        None => (data, &b""[..]),
    };
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    for (key, algorithm) in SIGNERS.iter() {
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, *algorithm)
            .expect("the test keys sign any message");
        check_token(&RINGS, &format!("{message}.{signature}"));
    }
});
