//! A small axum application embedding `jwt-allauth`.
//!
//! The application has its own users ([`Accounts`], in memory, argon2id hashes), its own
//! state ([`AppState`]: the library's [`AuthState`] plus an application name) and its
//! own routes, next to the library's routes nested under `/auth`:
//!
//! | Route          | Extractor                | Answer                                   |
//! |----------------|--------------------------|------------------------------------------|
//! | `GET /hello`   | `Option<AuthUser>`       | `hello, guest` or `hello, user 1`        |
//! | `GET /me`      | [`AuthUser`]             | `{"user_id","role"}` from the token      |
//! | `GET /profile` | [`LoadUser<Account>`]    | the full user, loaded from [`Accounts`]  |
//! | `GET /admin`   | [`RequireRole<1000>`]    | 403 unless the caller is staff           |
//! | `/auth/...`    | [`jwt_allauth_axum::router`] | `/auth/login/`, `/auth/refresh/`, ... |
//!
//! [`app`] builds the router from a state; the binary serves it and the tests call it
//! directly.

pub mod accounts;

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::{Json, Router};
use jwt_allauth::claims::ROLE_STAFF;
use jwt_allauth::settings::{ENV_PREFIX, SettingsError, SettingsGroup};
use jwt_allauth::{BoxError, Secret, SessionManager, Settings};
use jwt_allauth_axum::{
    AuthState, AuthUser, Authenticator, HttpSettings, LoadUser, RequireRole, UserLoader,
};
use jwt_allauth_sqlx::SqliteStore;
use serde_json::{Value, json};

pub use accounts::{Account, Accounts, DEMO_STAFF, DEMO_USER};

/// The library's state for this application: sessions in SQLite, users in [`Accounts`].
pub type Auth = AuthState<Accounts>;

/// A secret for trying the example out. Demo only: anyone who reads this file can mint
/// tokens. Set `JWT_ALLAUTH_SECRET_KEY` instead.
pub const DEMO_SECRET: &str = "demo-only secret of jwt-allauth-example-embedded; never deploy it";

/// The application's state: the library's [`AuthState`] and something of its own.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The library's state (sessions, keys, cookie, throttle).
    pub auth: Auth,
    /// The application's name, shown by its routes.
    pub app_name: Arc<str>,
}

// `AuthUser`, `Option<AuthUser>` and `RequireRole` take an `Authenticator`...
impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.auth.authenticator()
    }
}

// ...and `LoadUser<Account>` a `UserLoader<Account>`.
impl FromRef<AppState> for UserLoader<Account> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.user_loader()
    }
}

impl AppState {
    /// Opens the session store on `database_url` (`sqlite::memory:`, or
    /// `sqlite://example.db` for sessions that survive a restart), migrates it, and
    /// builds the state from `settings`, which must name a key (`secret_key`), and the
    /// HTTP settings `http`.
    pub async fn new(
        settings: Settings,
        http: HttpSettings,
        database_url: &str,
        accounts: Accounts,
        app_name: &str,
    ) -> Result<Self, BoxError> {
        let store = SqliteStore::connect(database_url).await?;
        store.migrate().await?;
        let manager = SessionManager::from_settings(settings, store, accounts)?;
        Ok(Self {
            auth: AuthState::new(manager, http)?,
            app_name: app_name.into(),
        })
    }
}

/// The library's defaults adjusted for running locally: `secret_key` set to `secret`,
/// and `cookie_secure` off so that the refresh cookie travels over plain HTTP.
pub fn local_settings(secret: Secret) -> (Settings, HttpSettings) {
    let mut settings = Settings::default();
    settings.secret_key = Some(secret);
    let mut http = HttpSettings::default();
    http.cookie_secure = false;
    (settings, http)
}

/// Overlays the library's settings named by `JWT_ALLAUTH_<NAME>` variables among `vars`
/// (pairs as [`std::env::vars`] gives them) on the groups that own them; other variables
/// are ignored. Then checks the HTTP settings as a whole.
pub fn apply_env_vars(
    settings: &mut Settings,
    http: &mut HttpSettings,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), SettingsError> {
    for (key, value) in vars {
        let Some(name) = key.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let value = value.into();
        if Settings::NAMES.contains(&name) {
            settings.set(name, &value)?;
        } else if HttpSettings::NAMES.contains(&name) {
            http.set(name, &value)?;
        }
    }
    http.validate()
}

/// The application: its own routes and the library's routes under `/auth`.
pub fn app(state: AppState) -> Router {
    let auth_routes = state.auth.router();
    Router::new()
        .route("/hello", get(hello))
        .route("/me", get(me))
        .route("/profile", get(profile))
        .route("/admin", get(admin))
        .nest("/auth", auth_routes)
        .with_state(state)
}

/// Open to everyone; a wrong token is still 401.
async fn hello(caller: Option<AuthUser>) -> String {
    match caller {
        Some(caller) => format!("hello, user {}", caller.user_id()),
        None => "hello, guest".to_owned(),
    }
}

/// The caller, from the access token alone: no database read.
async fn me(caller: AuthUser) -> Json<Value> {
    Json(json!({ "user_id": caller.user_id(), "role": caller.role() }))
}

/// The caller's full user, loaded from [`Accounts`]; 401 if it is gone or inactive.
async fn profile(State(state): State<AppState>, caller: LoadUser<Account>) -> Json<Value> {
    let LoadUser { auth, user } = caller;
    Json(json!({
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_staff": user.is_staff,
        "session": auth.session(),
        "app": state.app_name.as_ref(),
    }))
}

/// Staff only: 403 for everyone else.
async fn admin(
    State(state): State<AppState>,
    RequireRole(caller): RequireRole<ROLE_STAFF>,
) -> String {
    format!(
        "welcome to the {} admin, user {}",
        state.app_name,
        caller.user_id()
    )
}
