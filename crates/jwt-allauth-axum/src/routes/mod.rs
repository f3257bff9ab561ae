//! The routers: `/login/`, `/refresh/`, `/logout/`, `/logout-all/`, `/user/`,
//! `/password/change/`, `/whoami/`, `/sessions/` and `/sessions/{session}/`.

pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod password;
pub(crate) mod refresh;
pub(crate) mod sessions;
pub(crate) mod user;
pub(crate) mod whoami;

use std::marker::PhantomData;

use axum::Router;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use jwt_allauth::store::{PurposeTokenStore, SessionStore};
use jwt_allauth::{ClaimsExtension, TokenPair};
use serde::Serialize;
use time::OffsetDateTime;

use crate::account::AccountStore;
use crate::api_error::ApiError;
use crate::cookie::set_cookie_header;
use crate::error_response::detail;
use crate::extract::{AuthUser, LoadUser};
use crate::fields::{CharField, FieldErrors, Fields};
use crate::payloads::{RefreshRequest, Tokens};
use crate::rejection::AuthRejection;
use crate::state::AuthState;

// The paths of the routes, shared by the routers and the OpenAPI document.
pub(crate) const LOGIN: &str = "/login/";
pub(crate) const REFRESH: &str = "/refresh/";
pub(crate) const LOGOUT: &str = "/logout/";
pub(crate) const LOGOUT_ALL: &str = "/logout-all/";
pub(crate) const USER: &str = "/user/";
pub(crate) const PASSWORD_CHANGE: &str = "/password/change/";
pub(crate) const WHOAMI: &str = "/whoami/";
pub(crate) const SESSIONS: &str = "/sessions/";
pub(crate) const SESSION: &str = "/sessions/{session}/";

/// Every route of the wire contract: [`token_routes`], [`account_routes`] and
/// [`session_routes`] merged.
///
/// The handlers take the [`AuthState`] from the application state `AppState` through
/// `FromRef`. Paths end with a slash; a wrong method is 405 `{"detail":"Method \"GET\" not
/// allowed."}` with an `Allow` header. Bodies may be JSON or form-encoded (see
/// [`Fields`](crate::Fields)). The refresh token travels in the cookie
/// (`REFRESH_TOKEN_AS_COOKIE`, the default) or in the bodies (`refresh`).
pub fn router<S, A, E, AppState>() -> Router<AppState>
where
    S: SessionStore + PurposeTokenStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
    AuthState<S, A, E>: FromRef<AppState>,
    AppState: Clone + Send + Sync + 'static,
{
    token_routes::<S, A, E, AppState>()
        .merge(account_routes::<S, A, E, AppState>())
        .merge(session_routes::<S, A, E, AppState>())
}

/// `POST /login/`, `POST /refresh/`, `POST /logout/` and `POST /logout-all/`.
pub fn token_routes<S, A, E, AppState>() -> Router<AppState>
where
    S: SessionStore + PurposeTokenStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
    AuthState<S, A, E>: FromRef<AppState>,
    AppState: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            LOGIN,
            post(login::login::<S, A, E>).fallback(method_not_allowed),
        )
        .route(
            REFRESH,
            post(refresh::refresh::<S, A, E>).fallback(method_not_allowed),
        )
        .route(
            LOGOUT,
            post(logout::logout::<S, A, E>).fallback(method_not_allowed),
        )
        .route(
            LOGOUT_ALL,
            post(logout::logout_all::<S, A, E>).fallback(method_not_allowed),
        )
}

/// `GET|PATCH|PUT /user/`, `POST /password/change/` and `GET /whoami/`.
pub fn account_routes<S, A, E, AppState>() -> Router<AppState>
where
    S: SessionStore + PurposeTokenStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
    AuthState<S, A, E>: FromRef<AppState>,
    AppState: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            USER,
            get(user::get_user::<S, A, E>)
                .patch(user::update_user::<S, A, E>)
                .put(user::update_user::<S, A, E>)
                .fallback(method_not_allowed),
        )
        .route(
            PASSWORD_CHANGE,
            post(password::change_password::<S, A, E>).fallback(method_not_allowed),
        )
        .route(
            WHOAMI,
            get(whoami::whoami::<S, A, E>).fallback(method_not_allowed),
        )
}

/// `GET /sessions/` and `DELETE /sessions/{session}/`.
pub fn session_routes<S, A, E, AppState>() -> Router<AppState>
where
    S: SessionStore + PurposeTokenStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
    AuthState<S, A, E>: FromRef<AppState>,
    AppState: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            SESSIONS,
            get(sessions::list_sessions::<S, A, E>).fallback(method_not_allowed),
        )
        .route(
            SESSION,
            delete(sessions::delete_session::<S, A, E>).fallback(method_not_allowed),
        )
}

/// 405 `{"detail":"Method \"<METHOD>\" not allowed."}`; axum adds the `Allow` header.
pub async fn method_not_allowed(method: Method) -> Response {
    detail(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Method \"{method}\" not allowed."),
    )
}

/// Marks which `AuthState<S, A, E>` an internal extractor reads, without owning one.
type Backend<S, A, E> = PhantomData<fn() -> (S, A, E)>;

/// The caller of a route, authenticated with the `AuthState<S, A, E>` of the state.
pub(crate) struct Caller<S, A, E> {
    pub(crate) user: AuthUser,
    _backend: Backend<S, A, E>,
}

impl<S, A, E, AppState> FromRequestParts<AppState> for Caller<S, A, E>
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
    AuthState<S, A, E>: FromRef<AppState>,
    AppState: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthState::<S, A, E>::from_ref(state)
            .authenticator()
            .authenticate_parts(parts)
            .await?
            .ok_or(AuthRejection::MissingCredentials)?;
        Ok(Self {
            user,
            _backend: PhantomData,
        })
    }
}

/// The caller of a route and their user, loaded with the `AuthState<S, A, E>`.
pub(crate) struct Account<S, A: AccountStore, E> {
    pub(crate) loaded: LoadUser<A::User>,
    _backend: Backend<S, A, E>,
}

impl<S, A, E, AppState> FromRequestParts<AppState> for Account<S, A, E>
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
    AuthState<S, A, E>: FromRef<AppState>,
    AppState: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let loaded = AuthState::<S, A, E>::from_ref(state)
            .user_loader()
            .load_parts(parts)
            .await?;
        Ok(Self {
            loaded,
            _backend: PhantomData,
        })
    }
}

/// The answer of a login, rotation or password change: the body `make` builds from the
/// [`Tokens`] (`{"access"}` and the refresh cookie, or in body mode
/// `{"access","refresh"}`), with `Cache-Control: no-store`.
pub(crate) fn tokens_response<S, A, E, B>(
    state: &AuthState<S, A, E>,
    pair: &TokenPair,
    now: OffsetDateTime,
    make: impl FnOnce(Tokens) -> B,
) -> Result<Response, ApiError>
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
    B: Serialize,
{
    let in_cookie = state.settings().refresh_token_as_cookie;
    let tokens = Tokens {
        access: pair.access.as_str().to_owned(),
        refresh: (!in_cookie).then(|| pair.refresh.as_str().to_owned()),
    };
    let body = axum::Json(make(tokens));
    let mut response = if in_cookie {
        let cookie =
            set_cookie_header(&state.cookie().set(&pair.refresh, now)).ok_or_else(|| {
                tracing::error!(
                    "the refresh cookie cannot be written as a header (check COOKIE_*)"
                );
                ApiError::Internal
            })?;
        ([(header::SET_COOKIE, cookie)], body).into_response()
    } else {
        body.into_response()
    };
    // Tokens must not be cached (RFC 6749 section 5.1).
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The [`RefreshRequest`] in the body of a request, when the refresh token travels in
/// bodies (`REFRESH_TOKEN_AS_COOKIE` off).
pub(crate) async fn refresh_request(request: Request) -> Result<RefreshRequest, ApiError> {
    let fields = Fields::from_request(request, &()).await?;
    let mut errors = FieldErrors::new();
    let refresh = fields
        .char_field("refresh", CharField::required(), &mut errors)
        .ok_or(errors)?;
    Ok(RefreshRequest { refresh })
}

/// The CSRF check of a request whose refresh token came from the cookie: 403
/// `csrf_failed` for a cross-site browser request (see the crate documentation).
pub(crate) fn check_csrf<S, A, E>(
    state: &AuthState<S, A, E>,
    headers: &HeaderMap,
) -> Result<(), ApiError>
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    if crate::csrf::allows(headers, &state.settings().csrf_trusted_origins) {
        Ok(())
    } else {
        tracing::warn!("cross-site request refused by the CSRF check");
        Err(ApiError::CsrfFailed)
    }
}

/// `response` with the refresh cookie cleared, in cookie mode.
pub(crate) fn clear_cookie<S, A, E>(state: &AuthState<S, A, E>, mut response: Response) -> Response
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    if state.settings().refresh_token_as_cookie
        && let Some(cookie) = set_cookie_header(&state.cookie().clear())
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
