//! The jwt-allauth server: the HTTP API of `jwt-allauth` over SQLite or PostgreSQL, with
//! a built-in users table, and the `jwt-allauth` command line to run and administer it.
//!
//! [`app`] builds the whole HTTP application from an [`AppState`]; it is the seam tests
//! use (with `tower::ServiceExt::oneshot` or a real listener). The binary's `serve`
//! command loads the settings, connects, migrates, then serves [`app`] with the peer
//! address available (`ConnectInfo<SocketAddr>`) through [`connections::serve`], which
//! times out slow request heads and idle connections and caps how many are open.

pub mod account_page;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connections;
pub mod db;
pub mod error;
pub mod file_limit;
pub mod guard;
pub mod health;
pub mod import;
pub mod keyfile;
pub mod keys;
pub mod limits;
pub mod mail;
pub mod monitoring;
pub mod openapi;
pub mod passwords;
pub mod request_log;
pub mod revocations;
pub mod users;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, COOKIE, PROXY_AUTHORIZATION, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jwt_allauth::{BoxError, KeyError, SessionManager};
use jwt_allauth_axum::{AuthState, PasswordPermits, WellKnown};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::account_page::AccountPage;
use crate::config::Config;
use crate::db::Database;
use crate::guard::RequestGuardLayer;
pub use crate::limits::HEADER_LIMIT;
use crate::mail::{AccountMailer, Outbox, Templates};
pub use crate::openapi::{OPENAPI_PATH, openapi};
use crate::passwords::Passwords;
use crate::users::Users;

/// The session manager of the server: the library's store on the server's database, and
/// the built-in users table.
pub type Manager = SessionManager<Users>;

/// The state of the axum crate's routes and extractors, for the server's store and users.
pub type Auth = AuthState<Users>;

/// Why the application state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The configured signing keys cannot be used.
    #[error("the signing keys cannot be used")]
    Keys(#[source] KeyError),
    /// The User-Agent parser could not be built (broken vendored rules).
    #[error("the User-Agent parser cannot be built")]
    UserAgentParser(#[source] BoxError),
    /// The mail templates cannot be loaded (`EMAIL_TEMPLATES_DIR`).
    #[error(transparent)]
    MailTemplates(#[from] crate::mail::TemplateError),
    /// The account page cannot be rendered.
    #[error(transparent)]
    AccountPage(#[from] crate::account_page::AccountPageError),
}

/// Everything the HTTP application needs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database (for `/ready/`).
    pub db: Database,
    /// The users table.
    pub users: Users,
    /// The mail outbox, whose worker `serve` runs.
    pub outbox: Outbox,
    /// The axum crate's state: the session manager, the User-Agent parser, the client-IP
    /// resolver, the login throttle, the refresh cookie and the clock.
    pub auth: Auth,
    /// The published keys: the session manager's ring, `ISSUER` and `PUBLIC_URL` as
    /// configured (with neither, no discovery document: it is never guessed from `BIND`).
    pub well_known: WellKnown,
    /// The account-security page (`/account/`), rendered once.
    pub account_page: AccountPage,
}

impl AppState {
    /// The state for `config` on `db`, with the key ring the settings describe
    /// ([`config::signing_keys`]): an HMAC algorithm needs `SECRET_KEY` (see
    /// [`config::ensure_signing_key`]). The database must be migrated. Building the
    /// User-Agent parser is slow when `COLLECT_USER_AGENT` is on.
    pub fn new(config: Config, db: Database, passwords: Passwords) -> Result<Self, StateError> {
        let keys = config::signing_keys(&config).map_err(StateError::Keys)?;
        Self::with_keys(config, db, passwords, keys)
    }

    /// Like [`new`](Self::new), signing and verifying with `keys` (what `serve` builds
    /// from the settings and the database's keys, see [`keys::KeySource`]).
    pub fn with_keys(
        config: Config,
        db: Database,
        passwords: Passwords,
        keys: jwt_allauth::KeyRing,
    ) -> Result<Self, StateError> {
        // The routers hand out turns at password checks fairly between clients, as many
        // at a time as the hashing pool runs.
        let turns = PasswordPermits::new(passwords.permits());
        let templates = Templates::load(config.mail.email_templates_dir.as_deref())?;
        let public_url = config.public_url();
        let outbox = Outbox::new(db.clone());
        let users = Users::new(db.clone(), passwords).with_outbox(outbox.clone());
        let mailer = AccountMailer::new(Arc::new(templates), public_url.clone());
        let new_device_email = config.mail.new_device_email_enabled();
        let configured_public_url = config.accounts.public_url.clone();
        let mut accounts = config.accounts.clone();
        accounts.public_url = Some(public_url);
        let revocations = revocations::revocation_set(&config);
        let manager = SessionManager::new(config.tokens, keys, db.session_store(), users.clone());
        let manager = match revocations {
            Some(set) => manager.with_revocations(set),
            None => manager,
        };
        let auth = AuthState::new(manager, config.http)
            .map_err(StateError::UserAgentParser)?
            .with_password_permits(turns)
            .with_account_settings(accounts)
            .with_mailer(mailer);
        // On PostgreSQL the throttle and the rate limits count in the database, across
        // every instance; on SQLite in this process.
        let auth = match db.attempt_counters() {
            Some(counters) => auth.with_attempt_counters(counters),
            None => auth,
        };
        let auth = match new_device_email {
            true => auth.with_known_devices(users.clone()),
            false => auth,
        };
        let well_known = WellKnown::new(auth.manager().codec().clone())
            .with_issuer(auth.settings().issuer.clone())
            .with_public_url(configured_public_url);
        Ok(Self {
            db,
            users,
            outbox,
            auth,
            well_known,
            account_page: AccountPage::render()?,
        })
    }

    /// The session manager.
    pub fn manager(&self) -> &Manager {
        self.auth.manager()
    }
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// Headers whose values are never logged: credentials in both directions.
pub const SENSITIVE_HEADERS: [HeaderName; 4] =
    [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, SET_COOKIE];

/// The largest request body read: 64 KiB. A larger one is answered 413
/// `{"detail":"Request body too large."}`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How long a request may take: 30 s. A slower one is answered 503
/// `{"detail":"Request timed out."}`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The security headers set on every response that does not set them itself:
/// `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy:
/// no-referrer` and `Cache-Control: no-store` (nothing the API answers may be cached,
/// except the published keys, whose routes say `public, max-age=300` themselves).
pub const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (X_FRAME_OPTIONS, "DENY"),
    (REFERRER_POLICY, "no-referrer"),
    (CACHE_CONTROL, "no-store"),
];

/// The HTTP application: `/health/`, `/ready/`, `/openapi.json` (the [`openapi()`]
/// document), every route of the wire contract (`jwt_allauth_axum::router`), the
/// published keys (`/.well-known/jwks.json`, `/.well-known/openid-configuration`) and
/// the account page ([`account_page`], in cookie mode), with
/// request logging that never records bodies, query strings, tokens, cookies or
/// passwords, the [`SECURITY_HEADERS`], a [`BODY_LIMIT`], a [`HEADER_LIMIT`] and a
/// [`REQUEST_TIMEOUT`]; requests are counted by route once a metrics recorder is installed
/// ([`monitoring::RequestRecording`]). `/metrics` is not here: `serve` serves it on
/// `METRICS_BIND` only.
pub async fn app(state: AppState) -> Router {
    let sensitive: Arc<[HeaderName]> = Arc::new(SENSITIVE_HEADERS);
    let security_header = |(name, value): (HeaderName, &'static str)| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    let [nosniff, frame, referrer, cache] = SECURITY_HEADERS.map(security_header);
    // One stack of layers: each `Router::layer` call would box the routes once more, and
    // every request would clone each box. The first layer is the outermost.
    let middleware = ServiceBuilder::new()
        // Marks Authorization and Cookie before anything can log them.
        .layer(SetSensitiveRequestHeadersLayer::from_shared(Arc::clone(
            &sensitive,
        )))
        // Marks Set-Cookie as sensitive, for any layer added outside this stack.
        .layer(SetSensitiveResponseHeadersLayer::from_shared(sensitive))
        // The innermost sets its header first: the answers list them in the order of
        // SECURITY_HEADERS.
        .layer(cache)
        .layer(referrer)
        .layer(frame)
        .layer(nosniff)
        // Also counts requests by route and status, and their duration (nothing unless
        // METRICS_BIND is set), and writes each request's log line.
        .layer(RequestGuardLayer::new(HEADER_LIMIT, REQUEST_TIMEOUT))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let api = state
        .auth
        .router()
        .merge(state.auth.account_flow_router())
        .merge(state.well_known.router())
        .merge(
            state
                .account_page
                .clone()
                .router(state.auth.http_settings().refresh_token_as_cookie),
        );
    health::router(state.db.clone(), state.manager().revocations().cloned())
        .merge(openapi::openapi_router())
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(jwt_allauth_axum::method_not_allowed)
        .layer(middleware)
}

/// `path` as request logs show it: the key and token segments of the account links
/// replaced by their names, so that no log line holds a live link.
pub fn log_path(path: &str) -> std::borrow::Cow<'_, str> {
    const LINKS: [(&str, &str); 3] = [
        (
            "/password/reset/confirm/",
            "/password/reset/confirm/{uidb64}/{token}/",
        ),
        (
            "/registration/verification/",
            "/registration/verification/{key}/",
        ),
        ("/sessions/not-me/", "/sessions/not-me/{key}/"),
    ];
    for (prefix, pattern) in LINKS {
        if path.starts_with(prefix) {
            return std::borrow::Cow::Borrowed(pattern);
        }
    }
    std::borrow::Cow::Borrowed(path)
}

/// `router` answering 503 `{"detail":"Request timed out."}` to a request that takes over
/// `limit`.
#[cfg(test)]
fn with_timeout(router: Router, limit: Duration) -> Router {
    router.layer(RequestGuardLayer::new(usize::MAX, limit))
}

/// 404 `{"detail":"Not found."}`.
async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"detail": "Not found."})),
    )
        .into_response()
}

/// Installs the `tracing` subscriber on stderr, filtered by `RUST_LOG` (e.g.
/// `RUST_LOG=debug,sqlx=warn`), else by `default_filter`.
pub fn init_tracing(default_filter: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_slow_request_is_503_after_the_timeout() {
        let router = Router::new()
            .route(
                "/slow/",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route("/fast/", get(|| async { "ok" }));
        let router = with_timeout(router, Duration::from_millis(50));
        let call = |path: &'static str| {
            let router = router.clone();
            async move {
                let request = Request::get(path).body(Body::empty()).expect("request");
                let response = router.oneshot(request).await.expect("infallible");
                let status = response.status();
                let bytes = axum::body::to_bytes(response.into_body(), 1024)
                    .await
                    .expect("body");
                (status, bytes)
            }
        };
        let (status, body) = call("/slow/").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(&body[..], br#"{"detail":"Request timed out."}"#);
        let (status, body) = call("/fast/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], b"ok");
    }
}
