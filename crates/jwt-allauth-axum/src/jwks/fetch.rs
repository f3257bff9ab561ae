//! One fetch of a key set: the HTTP client, the request, and the keys read from the
//! answer.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::ACCEPT;
use axum::http::{Request, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jwt_allauth::keys::{Jwk, KeyRing, VerifyingKey};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::settings::RemoteKeySetBuilder;
use super::{JwksError, cache_control};

/// The HTTP client of a key set.
pub(super) type JwksClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// What a successful fetch gives.
pub(super) struct Fetched {
    /// The usable keys, as a ring that only verifies.
    pub(super) ring: KeyRing,
    /// The answer's `max-age` (see [`cache_control::max_age`]).
    pub(super) max_age: Option<Duration>,
    /// One line per key skipped, saying which and why (logged by the caller).
    pub(super) skipped: Vec<String>,
}

/// The JWKS URL, checked: `https`, or `http` to a loopback host unless plain http is
/// allowed.
pub(super) fn checked_url(settings: &RemoteKeySetBuilder) -> Result<Uri, JwksError> {
    let bad_url = || JwksError::BadUrl {
        url: settings.url.clone(),
    };
    let url: Uri = settings.url.parse().map_err(|_| bad_url())?;
    if url.host().is_none_or(str::is_empty) {
        return Err(bad_url());
    }
    match url.scheme_str() {
        Some("https") => Ok(url),
        Some("http") if settings.allow_plain_http || is_loopback(&url) => Ok(url),
        Some("http") => Err(JwksError::PlainHttp {
            url: settings.url.clone(),
        }),
        _ => Err(bad_url()),
    }
}

/// Whether the URL's host is a loopback address or `localhost`.
fn is_loopback(url: &Uri) -> bool {
    let Some(host) = url.host() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// The HTTP client of a key set: HTTP/1.1 over rustls with the `ring` provider and the
/// operating system's trust store, with the connection timeout of the settings. It
/// follows no redirect, reads no proxy setting and keeps no cookie; and it installs
/// nothing process-wide.
pub(super) fn client(settings: &RemoteKeySetBuilder) -> Result<JwksClient, JwksError> {
    // `ring` rather than rustls' default aws-lc-rs, which builds a C library. rustls
    // deprecates it for its lack of post-quantum key exchange, which matters for secrets
    // recorded now and decrypted later: a key set is public, only its integrity matters.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| JwksError::Client(error.into()))?;
    let tls = rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier(tls)
        .map_err(|error| JwksError::Client(error.into()))?
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(settings.connect_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Fetches and reads the key set at `url`, in at most `timeout`.
pub(super) async fn fetch(
    client: &JwksClient,
    url: &Uri,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Fetched, JwksError> {
    tokio::time::timeout(timeout, fetch_unbounded(client, url, max_bytes))
        .await
        .unwrap_or_else(|_| {
            Err(JwksError::Timeout {
                url: url.to_string(),
                after: timeout,
            })
        })
}

async fn fetch_unbounded(
    client: &JwksClient,
    url: &Uri,
    max_bytes: usize,
) -> Result<Fetched, JwksError> {
    let request_failed = |source: Box<dyn std::error::Error + Send + Sync>| JwksError::Request {
        url: url.to_string(),
        source,
    };
    let request = Request::get(url.clone())
        .header(ACCEPT, "application/json")
        .body(Empty::new())
        .map_err(|error| request_failed(error.into()))?;
    let response = client
        .request(request)
        .await
        .map_err(|error| request_failed(error.into()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(JwksError::Status {
            url: url.to_string(),
            status,
        });
    }
    let max_age = cache_control::max_age(response.headers());
    let body = Limited::new(response.into_body(), max_bytes)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<http_body_util::LengthLimitError>() {
                JwksError::TooLarge {
                    url: url.to_string(),
                    limit: max_bytes,
                }
            } else {
                request_failed(error)
            }
        })?
        .to_bytes();
    let (keys, skipped) = read_key_set(&body).map_err(|source| JwksError::NotAKeySet {
        url: url.to_string(),
        source,
    })?;
    if keys.is_empty() {
        return Err(JwksError::NoUsableKey {
            url: url.to_string(),
        });
    }
    let ring = KeyRing::verify_only(keys).map_err(|_| JwksError::NoUsableKey {
        url: url.to_string(),
    })?;
    Ok(Fetched {
        ring,
        max_age,
        skipped,
    })
}

/// The JSON form of a key set, each key left unparsed so that one key this crate cannot
/// read does not spoil the others.
#[derive(Deserialize)]
struct RawKeySet<'a> {
    #[serde(borrow)]
    keys: Vec<&'a RawValue>,
}

/// The keys of a JWKS document that verify here, and a line for each one skipped: a key
/// that is not a JSON Web Key jsonwebtoken reads, one
/// [`VerifyingKey::from_jwk`] refuses, or a second key with a `kid` already seen.
fn read_key_set(body: &[u8]) -> Result<(Vec<VerifyingKey>, Vec<String>), serde_json::Error> {
    let set: RawKeySet<'_> = serde_json::from_slice(body)?;
    let mut keys = Vec::with_capacity(set.keys.len());
    let mut skipped = Vec::new();
    let mut kids = HashSet::new();
    for (index, raw) in set.keys.into_iter().enumerate() {
        let key = serde_json::from_str::<Jwk>(raw.get())
            .map_err(|error| format!("not a JSON Web Key this library reads ({error})"))
            .and_then(|jwk| VerifyingKey::from_jwk(&jwk).map_err(|error| error.to_string()));
        let key = key.and_then(|key| match key.key_id() {
            Some(kid) if !kids.insert(kid.to_owned()) => {
                Err(format!("a second key with `kid` {kid:?}"))
            }
            _ => Ok(key),
        });
        match key {
            Ok(key) => keys.push(key),
            Err(reason) => skipped.push(format!("key {index} ({}): {reason}", describe(raw))),
        }
    }
    Ok((keys, skipped))
}

/// A short, public description of a key for a log line: its `kid`, `kty` and `alg`, if
/// any (never its parameters).
fn describe(raw: &RawValue) -> String {
    #[derive(Deserialize)]
    struct Names {
        kid: Option<String>,
        kty: Option<String>,
        alg: Option<String>,
    }
    match serde_json::from_str::<Names>(raw.get()) {
        Ok(names) => {
            let clip = |text: Option<String>| {
                let text = text.unwrap_or_else(|| "-".to_owned());
                text.chars().take(64).collect::<String>()
            };
            format!(
                "kid {:?}, kty {:?}, alg {:?}",
                clip(names.kid),
                clip(names.kty),
                clip(names.alg)
            )
        }
        Err(_) => "not an object".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use jwt_allauth::keys::{Algorithm, KeyPair};

    use super::*;

    #[test]
    fn unusable_keys_are_skipped_and_usable_ones_kept() {
        let pair = KeyPair::generate(Algorithm::EdDSA).unwrap();
        let good = pair.verifying_key().unwrap().with_key_id("good");
        let good = serde_json::to_value(good.to_jwk().unwrap()).unwrap();
        let mut enc = good.clone();
        enc["use"] = "enc".into();
        enc["kid"] = "enc".into();
        let body = serde_json::json!({"keys": [
            good,
            enc,
            {"kty": "oct", "k": "c2VjcmV0", "kid": "oct", "alg": "HS256"},
            {"kty": "OKP", "crv": "X25519", "x": "AAAA", "kid": "x25519"},
            {"kty": "AKP", "alg": "ML-DSA-44", "pub": "AAAA", "kid": "pq"},
            "garbage",
            good.clone(),
        ]});
        let (keys, skipped) = read_key_set(body.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key_id(), Some("good"));
        assert_eq!(skipped.len(), 6, "{skipped:#?}");
        assert!(skipped[5].contains("a second key"), "{}", skipped[5]);
        assert!(skipped.iter().all(|line| !line.contains(pair.public_pem())));
    }

    #[test]
    fn a_document_without_keys_is_not_a_key_set() {
        assert!(read_key_set(b"{}").is_err());
        assert!(read_key_set(b"<html>").is_err());
        assert!(read_key_set(br#"{"keys": {}}"#).is_err());
        assert_eq!(read_key_set(br#"{"keys": []}"#).unwrap().0.len(), 0);
    }

    #[test]
    fn plain_http_is_for_loopback_hosts_unless_allowed() {
        let check = |url: &str| checked_url(&RemoteKeySetBuilder::new(url));
        assert!(check("https://issuer.example/.well-known/jwks.json").is_ok());
        assert!(check("http://127.0.0.1:8000/.well-known/jwks.json").is_ok());
        assert!(check("http://[::1]:8000/jwks").is_ok());
        assert!(check("http://localhost/jwks").is_ok());
        assert!(matches!(
            check("http://issuer.example/jwks"),
            Err(JwksError::PlainHttp { .. })
        ));
        assert!(matches!(
            check("ftp://issuer.example/jwks"),
            Err(JwksError::BadUrl { .. })
        ));
        assert!(matches!(check("not a url"), Err(JwksError::BadUrl { .. })));
        let allowed =
            RemoteKeySetBuilder::new("http://issuer.example/jwks").dangerous_allow_plain_http();
        assert!(checked_url(&allowed).is_ok());
    }
}
