//! axum integration for [`jwt_allauth`]: extractors, rejections, the refresh cookie and
//! the routers of the wire contract.
//!
//! - [`AuthState`] holds the [`SessionManager`](jwt_allauth::SessionManager), the
//!   [`HttpSettings`] (cookie, CSRF, client IP, throttle), the User-Agent parser, the client-IP resolver, the [`LoginThrottle`], the
//!   [`RefreshCookie`] and a [`Clock`]. Applications embed it in their own state.
//! - Extractors: [`AuthUser`] (stateless, from the Bearer access token),
//!   `Option<AuthUser>` (routes open to everyone), [`LoadUser`] (also loads the user)
//!   and [`RequireRole`] (a minimum role). They take their configuration from the state
//!   through `FromRef`: [`Authenticator`] for `AuthUser` and `RequireRole`,
//!   [`UserLoader`] for `LoadUser`.
//! - Rejections are named types with the contract's status and body
//!   ([`AuthRejection`], [`PermissionDenied`], [`RefreshRejection`], [`BodyRejection`],
//!   [`FieldErrors`], [`ApiError`]); every 401 carries `WWW-Authenticate: Bearer
//!   realm="api"`, and no body echoes a token or a password.
//! - [`router`] serves `/login/`, `/refresh/`, `/logout/`, `/logout-all/`, `/user/`,
//!   `/password/change/`, `/whoami/`, `/sessions/` and `/sessions/{session}/`, over
//!   the application's [`AccountStore`].
//! - [`WellKnown`] publishes the public keys (`/.well-known/jwks.json`) and the OpenID
//!   discovery document (`/.well-known/openid-configuration`) that other services verify
//!   our access tokens with ([`AuthState::well_known`] for an `AuthState`'s keys).
//! - The bodies the routes read and answer are named types ([`LoginRequest`],
//!   [`Tokens`], [`Detail`], [`ErrorBody`], [`SessionInfo`], ...).
//! - [`Authenticator::verify_only`] and, with the `jwks` feature,
//!   `Authenticator::from_jwks` over a `jwks::RemoteKeySet` verify access tokens in a
//!   service with no store and no database (a resource server), from keys given in code
//!   or read from the issuer's JWKS URL.
//! - With the `openapi` feature, `openapi()` returns the OpenAPI 3.1 document of
//!   [`router`], generated with utoipa from the handlers and those types.
//!
//! # CSRF
//!
//! In cookie mode (`REFRESH_TOKEN_AS_COOKIE`, the default) a browser attaches the refresh
//! cookie to any request for `/refresh/` and `/logout/`, including one a page of another
//! site makes it send. When the refresh token comes from the cookie, those two routes
//! therefore check where the request comes from:
//!
//! 1. `Sec-Fetch-Site: cross-site` is refused unless the `Origin` is listed in
//!    `CSRF_TRUSTED_ORIGINS`;
//! 2. otherwise, an `Origin` header is refused unless it is the request's own origin (its
//!    host and port equal the `Host` header, whatever the scheme) or is listed in
//!    `CSRF_TRUSTED_ORIGINS` (exact match; `Origin: null` is never trusted);
//! 3. a request with neither header (curl, mobile apps, server-to-server calls) is
//!    allowed.
//!
//! A refused request is 403 `{"detail":"CSRF check failed: cross-site
//! request.","code":"csrf_failed"}`, and nothing is rotated or deleted. A front end served
//! from another origin than the API (`https://app.example.com` calling
//! `https://api.example.com`, even on the same site) must be listed in
//! `CSRF_TRUSTED_ORIGINS`. Behind a proxy, the `Host` header the application sees must be
//! the one the browser sent. Body mode (`REFRESH_TOKEN_AS_COOKIE` off) is not checked: a
//! page of another site cannot read the token to put it in a body.
//!
//! # Example
//!
//! An application state embedding the [`AuthState`], the library's routes, and a handler
//! of the application taking an [`AuthUser`]:
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::extract::{FromRef, State};
//! use axum::routing::get;
//! use axum::Router;
//! use jwt_allauth::{Secret, SessionManager, Settings};
//! use jwt_allauth_axum::{AuthState, AuthUser, Authenticator, HttpSettings, UserLoader};
//! use jwt_allauth_sqlx::SqliteStore;
//! # use jwt_allauth::{User, UserStore, UserStoreError};
//! # use jwt_allauth_axum::{AccountStore, PasswordChange, Profile, ProfileUpdate};
//! #
//! # /// The application's users (here: none).
//! # #[derive(Clone)]
//! # struct Accounts;
//! # struct Account;
//! # impl User for Account {
//! #     fn id(&self) -> String { "1".into() }
//! #     fn is_active(&self) -> bool { true }
//! #     fn email_verified(&self) -> bool { true }
//! #     fn to_json(&self) -> serde_json::Value { serde_json::json!({"id": 1}) }
//! # }
//! # impl UserStore for Accounts {
//! #     type User = Account;
//! #     async fn load_user(&self, _: &str) -> Result<Option<Account>, UserStoreError> { Ok(None) }
//! # }
//! # impl AccountStore for Accounts {
//! #     async fn authenticate(&self, _: &str, _: &str) -> Result<Option<Account>, UserStoreError> { Ok(None) }
//! #     fn profile(&self, _: &Account) -> Profile { Profile::default() }
//! #     async fn update_profile(&self, _: &str, _: ProfileUpdate) -> Result<Option<Profile>, UserStoreError> { Ok(None) }
//! #     async fn change_password(&self, _: &str, _: &str, _: &str) -> Result<PasswordChange, UserStoreError> {
//! #         Ok(PasswordChange::UserNotFound)
//! #     }
//! # }
//!
//! type Auth = AuthState<Accounts>;
//!
//! #[derive(Clone)]
//! struct AppState {
//!     auth: Auth,
//!     greeting: Arc<str>,
//! }
//!
//! // For `AuthUser`, `Option<AuthUser>` and `RequireRole`.
//! impl FromRef<AppState> for Authenticator {
//!     fn from_ref(state: &AppState) -> Self {
//!         state.auth.authenticator()
//!     }
//! }
//!
//! // For `LoadUser<Account>`.
//! impl FromRef<AppState> for UserLoader<Account> {
//!     fn from_ref(state: &AppState) -> Self {
//!         state.auth.user_loader()
//!     }
//! }
//!
//! async fn hello(State(state): State<AppState>, caller: AuthUser) -> String {
//!     format!("{}, user {} (role {})", state.greeting, caller.user_id(), caller.role())
//! }
//!
//! async fn app() -> Result<Router, jwt_allauth::BoxError> {
//!     let mut settings = Settings::default();
//!     settings.secret_key = Some(Secret::new("a long random secret, 32 bytes or more"));
//!     let mut http = HttpSettings::default();
//!     http.collect_user_agent = false;
//!     let store = SqliteStore::connect("sqlite::memory:").await?;
//!     store.migrate().await?;
//!     let manager = SessionManager::from_settings(settings, store, Accounts)?;
//!     let state = AppState {
//!         auth: AuthState::new(manager, http)?,
//!         greeting: "hello".into(),
//!     };
//!     Ok(Router::new()
//!         .route("/hello", get(hello))
//!         .nest("/auth", state.auth.router())
//!         .with_state(state))
//!     // Serve it with `axum::serve(listener,
//!     // app.into_make_service_with_connect_info::<std::net::SocketAddr>())` so that the
//!     // client IP is known.
//! }
//! # tokio::runtime::Builder::new_current_thread()
//! #     .enable_all()
//! #     .build()
//! #     .expect("runtime")
//! #     .block_on(async {
//! #         use tower::ServiceExt;
//! #         let response = app()
//! #             .await
//! #             .expect("app")
//! #             .oneshot(axum::http::Request::get("/hello").body(axum::body::Body::empty()).expect("request"))
//! #             .await
//! #             .expect("response");
//! #         assert_eq!(response.status(), 401);
//! #     });
//! ```

mod account;
mod account_flows;
pub mod account_settings;
mod api_error;
mod authenticator;
mod client;
mod clock;
mod cookie;
pub mod counters;
mod csrf;
mod error_response;
mod extract;
mod fields;
pub mod http_settings;
#[cfg(feature = "jwks")]
pub mod jwks;
pub mod known_devices;
mod mailer;
#[cfg(feature = "openapi")]
mod openapi;
mod pages;
mod password_permits;
pub mod password_rules;
mod payloads;
mod rejection;
mod routes;
mod state;
mod throttle;

pub use account::{AccountStore, PasswordChange, Profile, ProfileUpdate};
pub use account_flows::{AccountFlows, AccountMail, NewAccount, Registered};
pub use account_settings::AccountSettings;
pub use api_error::ApiError;
pub use authenticator::Authenticator;
pub use client::ClientInfo;
pub use clock::Clock;
pub use cookie::RefreshCookie;
pub use error_response::WWW_AUTHENTICATE;
pub use extract::{AuthUser, CurrentUser, LoadUser, RequireRole, UserLoader};
pub use fields::{BodyRejection, CharField, FieldErrors, Fields};
pub use http_settings::HttpSettings;
pub use mailer::{ComposedMail, Mailer};
#[cfg(feature = "openapi")]
pub use openapi::{BEARER_SCHEME, openapi};
pub use pages::html_page;
pub use password_permits::{PasswordPermit, PasswordPermits};
pub use password_rules::{PasswordProblem, PasswordRules};
pub use payloads::{
    Detail, ErrorBody, ErrorCode, LoginRequest, OthersRevoked, PasswordChangeRequest,
    PasswordChanged, PasswordResetDone, PasswordResetRequest, PasswordSetNewRequest,
    RefreshRequest, RegistrationRequest, SessionInfo, TokenErrorBody, TokenErrorMessage, Tokens,
    VerifyEmailRequest,
};
pub use rejection::{AuthRejection, PermissionDenied, RefreshRejection, RoleRejection};
pub use routes::well_known::{
    JWKS_MAX_AGE_SECONDS, JWKS_PATH, NO_ISSUER_DETAIL, OPENID_CONFIGURATION_PATH,
    OpenIdConfiguration, WellKnown, well_known_routes,
};
pub use routes::{
    account_flow_routes, account_routes, method_not_allowed, router, session_routes, token_routes,
};
pub use state::{AccountLimits, AuthState};
pub use throttle::{
    ClientBucket, DEFAULT_MAX_TRACKED, EMAIL_WINDOW_SECONDS, IP_WINDOW_SECONDS, LoginAttempt,
    LoginThrottle, RateLimitError, RateLimiter, ThrottleError, Throttled,
};
