//! The published keys: `GET /.well-known/jwks.json` and
//! `GET /.well-known/openid-configuration`.
//!
//! Other services verify our access tokens with the public keys of the first, found
//! through the second from the issuer URL alone (what off-the-shelf JWT middleware, API
//! gateways and other languages' libraries are configured with). Both read the key ring
//! of the [`TokenCodec`] at every request, so a ring replaced at run time
//! ([`TokenCodec::replace_keys`]) is published at once.

use std::fmt;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwt_allauth::TokenCodec;
use jwt_allauth::keys::JwkSet;
use serde::{Deserialize, Serialize};

use crate::error_response::detail;
use crate::routes::method_not_allowed;

/// The path of the JSON Web Key Set.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The path of the OpenID Connect discovery document.
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";

/// How long verifiers may cache the key set (and the discovery document), in seconds:
/// 300. A key is published (standby) for at least this long before it signs, so that
/// every cache knows it by then.
pub const JWKS_MAX_AGE_SECONDS: u64 = 300;

/// The `Cache-Control` of both documents: `public, max-age=300`.
const CACHE_CONTROL: &str = "public, max-age=300";

/// The `detail` of the 404 of the discovery document when no issuer URL is configured.
pub const NO_ISSUER_DETAIL: &str =
    "No issuer URL is configured: set ISSUER or PUBLIC_URL to publish the OpenID configuration.";

/// What the well-known routes publish: the public keys of a [`TokenCodec`]'s ring, and
/// the issuer of its tokens. Cheap to clone.
///
/// The issuer is `ISSUER` when set, else `PUBLIC_URL`; `jwks_uri` is built on
/// `PUBLIC_URL`, else on `ISSUER` when it is an `http(s)` URL. With neither, the
/// discovery document is 404 (`{"detail": ...}`): it is never derived from the
/// request's `Host`, which a client chooses. Set `ISSUER` to the public URL so that
/// tokens carry the `iss` claim that OpenID-style verifiers compare with it.
///
/// ```
/// use axum::Router;
/// use jwt_allauth::keys::{Algorithm, KeyPair};
/// use jwt_allauth::{Settings, TokenCodec};
/// use jwt_allauth_axum::WellKnown;
///
/// # fn main() -> Result<(), jwt_allauth::KeyError> {
/// let mut settings = Settings::default();
/// settings.issuer = Some("https://auth.example.com".into());
/// let codec = TokenCodec::new(KeyPair::generate(Algorithm::EdDSA)?.key_ring()?, &settings);
/// let published = WellKnown::new(codec).with_issuer(settings.issuer.clone());
/// let app: Router = Router::new().merge(published.router());
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct WellKnown {
    codec: TokenCodec,
    issuer: Option<String>,
    public_url: Option<String>,
}

impl fmt::Debug for WellKnown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WellKnown")
            .field("issuer", &self.issuer)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl WellKnown {
    /// Publishes the keys of `codec`'s ring, with no issuer (the discovery document is
    /// then 404).
    pub fn new(codec: TokenCodec) -> Self {
        Self {
            codec,
            issuer: None,
            public_url: None,
        }
    }

    /// Sets the issuer (`ISSUER`, the `iss` claim of the tokens). Defaults to none.
    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        self.issuer = issuer.filter(|issuer| !issuer.is_empty());
        self
    }

    /// Sets the public URL of the service (`PUBLIC_URL`), on which `jwks_uri` is built,
    /// and the issuer when none is set. Defaults to none.
    pub fn with_public_url(mut self, public_url: Option<String>) -> Self {
        self.public_url = public_url.filter(|url| !url.is_empty());
        self
    }

    /// The key set published now: the public keys of the ring (never an HMAC secret).
    pub fn jwks(&self) -> JwkSet {
        self.codec.keys().jwks()
    }

    /// The discovery document published now, `None` with no issuer URL.
    pub fn openid_configuration(&self) -> Option<OpenIdConfiguration> {
        let issuer = self.issuer.clone().or_else(|| self.public_url.clone())?;
        let base = self
            .public_url
            .clone()
            .or_else(|| is_http_url(&issuer).then(|| issuer.clone()))?;
        let mut algorithms: Vec<String> = Vec::new();
        for key in self.codec.keys().verifying_keys() {
            let name = key.algorithm().as_str();
            if key.is_public() && !algorithms.iter().any(|known| known == name) {
                algorithms.push(name.to_owned());
            }
        }
        Some(OpenIdConfiguration {
            issuer,
            jwks_uri: format!("{}{JWKS_PATH}", base.trim_end_matches('/')),
            id_token_signing_alg_values_supported: algorithms,
            subject_types_supported: vec!["public".to_owned()],
            response_types_supported: vec!["token".to_owned()],
        })
    }

    /// `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration` with
    /// this state given (see [`well_known_routes`]).
    pub fn router<AppState>(&self) -> Router<AppState>
    where
        AppState: Clone + Send + Sync + 'static,
    {
        well_known_routes::<Self>().with_state(self.clone())
    }
}

fn is_http_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}

/// The OpenID Connect discovery document (OpenID Connect Discovery 1.0 §3), reduced to
/// what a verifier of access tokens reads: the issuer, where its keys are, and their
/// algorithms. The server is not an OAuth authorization server, so there is no
/// `authorization_endpoint` or `token_endpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenIdConfiguration {
    /// `ISSUER`, else `PUBLIC_URL`.
    pub issuer: String,
    /// The URL of the key set: `PUBLIC_URL` (else the issuer) followed by
    /// `/.well-known/jwks.json`.
    pub jwks_uri: String,
    /// The algorithms of the published keys (`EdDSA`, `ES256`, `RS256`); empty for a
    /// service that signs with an HMAC secret only.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `["public"]`: the same user id for every verifier.
    pub subject_types_supported: Vec<String>,
    /// `["token"]`: bearer access tokens.
    pub response_types_supported: Vec<String>,
}

/// A JSON Web Key Set (RFC 7517 §5), as documented in the OpenAPI document: the
/// handler writes [`JwkSet`].
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct JsonWebKeySet {
    /// The public keys: `kid`, `alg`, `use: "sig"` and the key's parameters (`OKP`:
    /// `crv`, `x`; `EC`: `crv`, `x`, `y`; `RSA`: `n`, `e`).
    keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`, reading a
/// [`WellKnown`] from the application state through `FromRef`. Both are open (no token)
/// and answer `Cache-Control: public, max-age=300`.
pub fn well_known_routes<AppState>() -> Router<AppState>
where
    WellKnown: FromRef<AppState>,
    AppState: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            JWKS_PATH,
            get(jwks::<AppState>).fallback(method_not_allowed),
        )
        .route(
            OPENID_CONFIGURATION_PATH,
            get(openid_configuration::<AppState>).fallback(method_not_allowed),
        )
}

/// `body` as JSON, cacheable by anyone for [`JWKS_MAX_AGE_SECONDS`].
fn cacheable(body: impl Serialize) -> Response {
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    response
}

/// The public keys that verify our tokens.
///
/// 200 with the RFC 7517 key set of every public key that may verify a live token: the
/// signing key, standby keys (published before they sign) and previous keys (until
/// their last token expires). HMAC secrets are never published: a service that signs
/// with one answers `{"keys":[]}`.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = JWKS_PATH,
    tag = "keys",
    responses(
        (status = 200, description = "The JSON Web Key Set, `Cache-Control: public, \
            max-age=300`.", body = JsonWebKeySet, headers(
            ("Cache-Control" = String, description = "`public, max-age=300`."),
        )),
    ),
))]
pub(crate) async fn jwks<AppState>(State(published): State<AppState>) -> Response
where
    WellKnown: FromRef<AppState>,
{
    cacheable(WellKnown::from_ref(&published).jwks())
}

/// The OpenID Connect discovery document, for verifiers configured with the issuer URL.
///
/// 200 with `issuer`, `jwks_uri` and the algorithms of the published keys; 404
/// `{"detail":"No issuer URL is configured: ..."}` when neither `ISSUER` nor
/// `PUBLIC_URL` is set.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = OPENID_CONFIGURATION_PATH,
    tag = "keys",
    responses(
        (status = 200, description = "The discovery document, `Cache-Control: public, \
            max-age=300`.", body = OpenIdConfiguration, headers(
            ("Cache-Control" = String, description = "`public, max-age=300`."),
        )),
        (status = 404, description = "Neither `ISSUER` nor `PUBLIC_URL` is configured.",
            body = crate::payloads::Detail),
    ),
))]
pub(crate) async fn openid_configuration<AppState>(State(published): State<AppState>) -> Response
where
    WellKnown: FromRef<AppState>,
{
    match WellKnown::from_ref(&published).openid_configuration() {
        Some(document) => cacheable(document),
        None => detail(StatusCode::NOT_FOUND, NO_ISSUER_DETAIL),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use jwt_allauth::Settings;
    use jwt_allauth::keys::{Algorithm, KeyPair, KeyRing};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    async fn get_json(router: &Router, path: &str) -> (StatusCode, Option<String>, Value) {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let cache = response
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|value| value.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, cache, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn an_hmac_ring_publishes_no_key_and_a_replaced_ring_is_published_at_once() {
        let ring = KeyRing::hmac(Algorithm::HS256, &[7; 32]).unwrap();
        let codec = TokenCodec::new(ring, &Settings::default());
        let router: Router = WellKnown::new(codec.clone())
            .with_public_url(Some("https://auth.example.com/".into()))
            .router();
        let (status, cache, body) = get_json(&router, JWKS_PATH).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cache.as_deref(), Some("public, max-age=300"));
        assert_eq!(body, json!({"keys": []}));
        let (_, _, document) = get_json(&router, OPENID_CONFIGURATION_PATH).await;
        assert_eq!(
            document,
            json!({
                "issuer": "https://auth.example.com/",
                "jwks_uri": "https://auth.example.com/.well-known/jwks.json",
                "id_token_signing_alg_values_supported": [],
                "subject_types_supported": ["public"],
                "response_types_supported": ["token"],
            })
        );

        let pair = KeyPair::generate(Algorithm::ES256).unwrap();
        codec.replace_keys(pair.key_ring().unwrap());
        let (_, _, body) = get_json(&router, JWKS_PATH).await;
        let keys = body["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["alg"], "ES256");
        assert_eq!(keys[0]["use"], "sig");
        assert!(keys[0].get("d").is_none());
        let (_, _, document) = get_json(&router, OPENID_CONFIGURATION_PATH).await;
        assert_eq!(
            document["id_token_signing_alg_values_supported"],
            json!(["ES256"])
        );
    }

    #[tokio::test]
    async fn the_issuer_wins_and_no_issuer_url_is_404() {
        let ring = KeyPair::generate(Algorithm::EdDSA)
            .unwrap()
            .key_ring()
            .unwrap();
        let codec = TokenCodec::new(ring, &Settings::default());
        let router: Router = WellKnown::new(codec.clone())
            .with_issuer(Some("https://issuer.example.com".into()))
            .router();
        let (status, _, document) = get_json(&router, OPENID_CONFIGURATION_PATH).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(document["issuer"], "https://issuer.example.com");
        assert_eq!(
            document["jwks_uri"],
            "https://issuer.example.com/.well-known/jwks.json"
        );
        assert_eq!(
            document["id_token_signing_alg_values_supported"],
            json!(["EdDSA"])
        );

        // An issuer that is not a URL names no place for the key set.
        let router: Router = WellKnown::new(codec.clone())
            .with_issuer(Some("my-app".into()))
            .router();
        let (status, _, body) = get_json(&router, OPENID_CONFIGURATION_PATH).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({"detail": NO_ISSUER_DETAIL}));
        let router: Router = WellKnown::new(codec).router();
        let (status, _, _) = get_json(&router, OPENID_CONFIGURATION_PATH).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
