//! Forging tokens the way an attacker (or a buggy issuer) would: any header, any payload
//! text, signed with any HMAC key or not at all.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::{Sha256, Sha384, Sha512};

/// Base64url without padding, as JWS segments are written.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The `index`th segment of a token (0 header, 1 payload, 2 signature).
pub fn segment(token: &str, index: usize) -> &str {
    token.split('.').nth(index).expect("a JWS segment")
}

/// The decoded JSON of a token's header (0) or payload (1).
pub fn decode_json(token: &str, index: usize) -> Map<String, Value> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment(token, index))
        .expect("base64url segment");
    match serde_json::from_slice(&bytes).expect("JSON segment") {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// The payload (claims) of a token.
pub fn claims(token: &str) -> Map<String, Value> {
    decode_json(token, 1)
}

/// An HMAC algorithm of the JOSE header.
#[derive(Debug, Clone, Copy)]
pub enum Hs {
    /// HS256.
    S256,
    /// HS384.
    S384,
    /// HS512.
    S512,
}

impl Hs {
    /// The `alg` value.
    pub fn alg(self) -> &'static str {
        match self {
            Hs::S256 => "HS256",
            Hs::S384 => "HS384",
            Hs::S512 => "HS512",
        }
    }

    /// The MAC of `message` under `key`.
    pub fn mac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
            let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC takes any key");
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Hs::S256 => run::<Hmac<Sha256>>(key, message),
            Hs::S384 => run::<Hmac<Sha384>>(key, message),
            Hs::S512 => run::<Hmac<Sha512>>(key, message),
        }
    }
}

/// `header_text.payload_text` (each base64url-encoded as given, byte for byte) signed
/// with `alg` under `key`.
pub fn sign_text(alg: Hs, header_text: &str, payload_text: &str, key: &[u8]) -> String {
    let message = format!("{}.{}", b64(header_text), b64(payload_text));
    let signature = alg.mac(key, message.as_bytes());
    format!("{message}.{}", b64(signature))
}

/// `header.payload` signed with `alg` under `key`.
pub fn sign(alg: Hs, header: &Value, payload: &Value, key: &[u8]) -> String {
    sign_text(alg, &header.to_string(), &payload.to_string(), key)
}

/// `payload` signed with `alg` under `key`, with the header `{"alg":..., "typ":"JWT"}`.
pub fn sign_claims(alg: Hs, payload: &Value, key: &[u8]) -> String {
    sign(alg, &json!({"alg": alg.alg(), "typ": "JWT"}), payload, key)
}

/// `header.payload.` followed by `signature` (possibly empty): an unsigned token.
pub fn unsigned(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string()),
        b64(payload.to_string())
    )
}

/// `token`'s claims changed by `change`, re-signed with HS256 under `key`.
pub fn resign(token: &str, key: &[u8], change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut payload = claims(token);
    change(&mut payload);
    sign_claims(Hs::S256, &Value::Object(payload), key)
}
