//! A JWKS server that counts its fetches, issuers of tokens, and the resource service.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONNECTION, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use jwt_allauth::keys::{Algorithm, KeyPair, KeyRing};
use jwt_allauth::{Claims, ExtraClaims, Settings, TokenCodec, TokenType};
use jwt_allauth_axum::jwks::RemoteKeySet;
use jwt_allauth_axum::{AuthUser, Authenticator, Clock, RequireRole};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// What the JWKS server answers.
#[derive(Clone)]
pub enum Answer {
    /// 200 with this JSON body and, if set, `Cache-Control: public, max-age=N`.
    Json { body: Value, max_age: Option<u64> },
    /// This status, with a JSON error body.
    Status(StatusCode),
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 after this long (longer than the client's timeout).
    Slow(Duration),
}

impl Answer {
    /// The key set of `issuers`, with no `max-age`.
    pub fn keys(issuers: &[&Issuer]) -> Self {
        Self::keys_with_max_age(issuers, None)
    }

    /// The key set of `issuers`, with `max-age` if set.
    pub fn keys_with_max_age(issuers: &[&Issuer], max_age: Option<u64>) -> Self {
        let keys: Vec<Value> = issuers.iter().map(|issuer| issuer.jwk()).collect();
        Self::Json {
            body: json!({ "keys": keys }),
            max_age,
        }
    }
}

struct Served {
    answer: Mutex<Answer>,
    fetches: AtomicUsize,
}

/// A JWKS server on 127.0.0.1. Every answer says `Connection: close`, so that stopping
/// the server leaves no open connection behind: it is then down (connection refused).
pub struct JwksServer {
    url: String,
    served: Arc<Served>,
    task: JoinHandle<()>,
}

async fn serve_jwks(State(served): State<Arc<Served>>) -> Response {
    served.fetches.fetch_add(1, Ordering::SeqCst);
    let answer = served.answer.lock().unwrap().clone();
    let mut response = match answer {
        Answer::Json { body, max_age } => {
            let mut response =
                ([(CONTENT_TYPE, "application/json")], body.to_string()).into_response();
            if let Some(max_age) = max_age {
                response.headers_mut().insert(
                    CACHE_CONTROL,
                    format!("public, max-age={max_age}").parse().unwrap(),
                );
            }
            response
        }
        Answer::Status(status) => (status, r#"{"detail":"broken"}"#).into_response(),
        Answer::Garbage => "<html>this is not a key set</html>".into_response(),
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            r#"{"keys":[]}"#.into_response()
        }
    };
    response
        .headers_mut()
        .insert(CONNECTION, "close".parse().unwrap());
    response
}

impl JwksServer {
    pub async fn start(answer: Answer) -> Self {
        let served = Arc::new(Served {
            answer: Mutex::new(answer),
            fetches: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .with_state(Arc::clone(&served));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { url, served, task }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn set(&self, answer: Answer) {
        *self.served.answer.lock().unwrap() = answer;
    }

    /// How many requests the server has answered (or begun to).
    pub fn fetches(&self) -> usize {
        self.served.fetches.load(Ordering::SeqCst)
    }

    /// Stops listening: connections are refused from now on.
    pub async fn stop(&self) {
        self.task.abort();
        while !self.task.is_finished() {
            tokio::task::yield_now().await;
        }
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A key pair with a `kid` that signs access tokens, as the jwt-allauth server does.
pub struct Issuer {
    pub kid: String,
    pub pair: KeyPair,
    codec: TokenCodec,
}

impl Issuer {
    pub fn new(kid: &str) -> Self {
        Self::with_algorithm(kid, Algorithm::EdDSA)
    }

    pub fn with_algorithm(kid: &str, algorithm: Algorithm) -> Self {
        let pair = KeyPair::generate(algorithm).unwrap();
        let ring = KeyRing::new(
            pair.signing_key().unwrap().with_key_id(kid),
            pair.verifying_key().unwrap(),
        )
        .unwrap();
        Self {
            kid: kid.to_owned(),
            codec: TokenCodec::new(ring, &Settings::default()),
            pair,
        }
    }

    /// The public key as a JSON Web Key, as the issuer publishes it.
    pub fn jwk(&self) -> Value {
        let key = self.pair.verifying_key().unwrap().with_key_id(&self.kid);
        serde_json::to_value(key.to_jwk().unwrap()).unwrap()
    }

    /// A valid access token of user 7 with `role`.
    pub fn token(&self, role: i64) -> String {
        self.codec.encode(&claims(role)).unwrap()
    }

    /// A token with this exact JOSE header, signed with this issuer's private key.
    pub fn token_with_header(&self, header: &Value) -> String {
        let key =
            jsonwebtoken::EncodingKey::from_ed_pem(self.pair.private_pem().as_bytes()).unwrap();
        sign(header, &key, jsonwebtoken::Algorithm::EdDSA)
    }
}

/// Access-token claims of user 7, valid for an hour.
pub fn claims(role: i64) -> Claims {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Claims {
        token_type: TokenType::Access,
        exp: now + 3600,
        iat: now,
        jti: "0123456789abcdef0123456789abcdef".into(),
        user_id: "7".into(),
        session: Some("fedcba9876543210fedcba9876543210".into()),
        session_iat: Some(now),
        role,
        email_verified: true,
        iss: None,
        aud: None,
        extra: ExtraClaims::new(),
    }
}

/// The header and payload of a token, base64url-encoded and joined.
pub fn signing_input(header: &Value) -> String {
    let payload = serde_json::to_vec(&claims(0)).unwrap();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload)
    )
}

/// A token with `header`, signed with `key` under `algorithm` whatever the header says.
pub fn sign(
    header: &Value,
    key: &jsonwebtoken::EncodingKey,
    algorithm: jsonwebtoken::Algorithm,
) -> String {
    let message = signing_input(header);
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, algorithm).unwrap();
    format!("{message}.{signature}")
}

/// A random `kid`.
pub fn random_kid() -> String {
    use rand::Rng;
    let bytes: [u8; 12] = rand::thread_rng().r#gen();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The routes of a resource service verifying with `keys`: `/me` (`AuthUser`), `/maybe`
/// (`Option<AuthUser>`), `/staff` (`RequireRole<1000>`).
pub fn service(keys: RemoteKeySet) -> Router {
    async fn me(caller: AuthUser) -> String {
        format!("user {}", caller.user_id())
    }
    async fn maybe(caller: Option<AuthUser>) -> String {
        match caller {
            Some(caller) => format!("user {}", caller.user_id()),
            None => "stranger".to_owned(),
        }
    }
    async fn staff(caller: RequireRole<1000>) -> String {
        format!("staff {}", caller.user_id())
    }
    Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/staff", get(staff))
        .with_state(Authenticator::from_jwks(keys, Clock::system()))
}

/// A `GET` of `path` with `Authorization: Bearer <token>` if given: status, the
/// `WWW-Authenticate` header, and the body as text.
pub async fn get_with(
    app: &Router,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

/// The status of `GET /me` with `token`.
pub async fn me_status(app: &Router, token: &str) -> StatusCode {
    get_with(app, "/me", Some(token)).await.0
}

/// The contract's 401 body for a token that does not verify.
pub fn invalid_token_body() -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{
            "token_class": "AccessToken",
            "token_type": "access",
            "message": "Token is invalid",
        }],
    })
}

/// Asserts that `GET /me` with `token` is the contract's 401 for an invalid token.
pub async fn assert_refused(app: &Router, token: &str, what: &str) {
    let (status, challenge, body) = get_with(app, "/me", Some(token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer realm="api""#),
        "{what}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, invalid_token_body(), "{what}");
}

/// Polls `condition` every 20 ms until it holds or `deadline` passes; whether it held.
pub async fn eventually(deadline: Duration, mut condition: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if condition().await {
            return true;
        }
        if start.elapsed() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
