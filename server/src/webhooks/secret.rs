//! [`WebhookSecret`]: the key webhook messages are signed with (`WEBHOOK_SECRET`).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The shortest key accepted, in bytes (the Standard Webhooks specification recommends
/// 24 to 64 random bytes).
pub const MIN_SECRET_BYTES: usize = 16;

/// The signing key of the webhooks: `whsec_` followed by the key in standard base64, as
/// the Standard Webhooks specification writes it (`whsec_` and
/// `openssl rand -base64 32`). Its `Debug` never shows the key, and no error message
/// quotes it.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

/// Why a `WEBHOOK_SECRET` is refused. The messages never contain the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSecretError {
    /// It does not start with `whsec_`.
    #[error(
        "expected `whsec_` followed by a base64 key (e.g. whsec_ and the output of `openssl rand -base64 32`)"
    )]
    NoPrefix,
    /// What follows `whsec_` is not standard base64.
    #[error("the key after `whsec_` is not valid standard base64")]
    NotBase64,
    /// The key is too short.
    #[error("the key after `whsec_` is {0} bytes long; at least 16 random bytes are needed")]
    TooShort(usize),
}

impl WebhookSecret {
    /// Reads `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, WebhookSecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(WebhookSecretError::NoPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| WebhookSecretError::NotBase64)?;
        if key.len() < MIN_SECRET_BYTES {
            return Err(WebhookSecretError::TooShort(key.len()));
        }
        Ok(Self { key })
    }

    /// The `webhook-signature` header of a message: `v1,` and the base64 HMAC-SHA256 of
    /// `{id}.{timestamp}.{body}` under the key.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length: `new_from_slice` cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl PartialEq for WebhookSecret {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.key.ct_eq(&other.key).into()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(\"[redacted]\")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn refuses_what_is_not_a_standard_webhooks_secret_without_quoting_it() {
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").err(),
            Some(WebhookSecretError::NoPrefix)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!").err(),
            Some(WebhookSecretError::NotBase64)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_c2hvcnQ=").err(),
            Some(WebhookSecretError::TooShort(5))
        );
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        assert!(!format!("{secret:?}").contains("MfKQ"));
    }
}
