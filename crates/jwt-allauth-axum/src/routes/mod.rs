//! The routers: `/login/`, `/refresh/`, `/logout/`, `/logout-all/`, `/user/`,
//! `/password/change/`, `/whoami/`, `/sessions/`, `/sessions/{session}/` and
//! `/sessions/revoke-others/`; and the
//! published keys, `/.well-known/jwks.json` and `/.well-known/openid-configuration`
//! ([`well_known`]).

pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod new_sign_in;
pub(crate) mod password;
pub(crate) mod password_reset;
pub(crate) mod refresh;
pub(crate) mod registration;
pub(crate) mod reset_pages;
pub(crate) mod sessions;
pub(crate) mod user;
pub(crate) mod well_known;
pub(crate) mod whoami;

use std::marker::PhantomData;

use axum::Router;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use jwt_allauth::TokenPair;
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
pub(crate) const SESSIONS_REVOKE_OTHERS: &str = "/sessions/revoke-others/";
pub(crate) const SESSIONS_NOT_ME: &str = "/sessions/not-me/{key}/";
pub(crate) const PASSWORD_RESET: &str = "/password/reset/";
pub(crate) const PASSWORD_RESET_CONFIRM: &str = "/password/reset/confirm/{uidb64}/{token}/";
pub(crate) const PASSWORD_RESET_SET_NEW: &str = "/password/reset/set-new/";
pub(crate) const PASSWORD_RESET_FORM: &str = "/password/reset/default/";
pub(crate) const PASSWORD_RESET_COMPLETE: &str = "/password/reset/complete/";
pub(crate) const REGISTRATION: &str = "/registration/";
pub(crate) const REGISTRATION_VERIFICATION: &str = "/registration/verification/{key}/";
pub(crate) const REGISTRATION_VERIFY_EMAIL: &str = "/registration/verify-email/";
pub(crate) const REGISTRATION_RESEND: &str = "/registration/resend-verification/";
pub(crate) const REGISTRATION_VERIFIED: &str = "/registration/verified/";

/// Every route of the wire contract: [`token_routes`], [`account_routes`] and
/// [`session_routes`] merged.
///
/// The handlers take the [`AuthState`] from the application state `AppState` through
/// `FromRef`. Paths end with a slash; a wrong method is 405 `{"detail":"Method \"GET\" not
/// allowed."}` with an `Allow` header. Bodies may be JSON or form-encoded (see
/// [`Fields`](crate::Fields)). The refresh token travels in the cookie
/// (`REFRESH_TOKEN_AS_COOKIE`, the default) or in the bodies (`refresh`).
pub fn router<A, AppState>() -> Router<AppState>
where
    A: AccountStore + 'static,
    AuthState<A>: FromRef<AppState>,
    AppState: Clone + Send + Sync + 'static,
{
    token_routes::<A, AppState>()
        .merge(account_routes::<A, AppState>())
        .merge(session_routes::<A, AppState>())
}

/// The account flows over the application's [`AccountFlows`](crate::AccountFlows):
/// the password reset (`/password/reset/...`), sign-up and e-mail verification
/// (`/registration/...`), and the "This wasn't me" link of the new sign-in mail
/// (`GET|POST /sessions/not-me/{key}/`, see [`crate::known_devices`]).
pub fn account_flow_routes<A, AppState>() -> Router<AppState>
where
    A: crate::AccountFlows + 'static,
    AuthState<A>: FromRef<AppState>,
    AppState: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            PASSWORD_RESET,
            post(password_reset::request_password_reset::<A>).fallback(method_not_allowed),
        )
        .route(
            PASSWORD_RESET_CONFIRM,
            get(password_reset::confirm_password_reset::<A>).fallback(method_not_allowed),
        )
        .route(
            PASSWORD_RESET_SET_NEW,
            post(password_reset::set_new_password::<A>).fallback(method_not_allowed),
        )
        .route(
            PASSWORD_RESET_FORM,
            get(reset_pages::reset_form::<A>).fallback(method_not_allowed),
        )
        .route(
            PASSWORD_RESET_COMPLETE,
            get(reset_pages::reset_complete::<A>).fallback(method_not_allowed),
        )
        .route(
            REGISTRATION,
            post(registration::register::<A>).fallback(method_not_allowed),
        )
        .route(
            REGISTRATION_VERIFICATION,
            get(registration::verification_page::<A>)
                .post(registration::confirm_verification::<A>)
                .fallback(method_not_allowed),
        )
        .route(
            REGISTRATION_VERIFY_EMAIL,
            post(registration::verify_email::<A>).fallback(method_not_allowed),
        )
        .route(
            REGISTRATION_RESEND,
            post(registration::resend_verification::<A>).fallback(method_not_allowed),
        )
        .route(
            REGISTRATION_VERIFIED,
            get(registration::verified_page::<A>).fallback(method_not_allowed),
        )
        .route(
            SESSIONS_NOT_ME,
            get(new_sign_in::not_me_page::<A>)
                .post(new_sign_in::not_me::<A>)
                .fallback(method_not_allowed),
        )
}

/// `POST /login/`, `POST /refresh/`, `POST /logout/` and `POST /logout-all/`.
pub fn token_routes<A, AppState>() -> Router<AppState>
where
    A: AccountStore + 'static,
    AuthState<A>: FromRef<AppState>,
    AppState: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(LOGIN, post(login::login::<A>).fallback(method_not_allowed))
        .route(
            REFRESH,
            post(refresh::refresh::<A>).fallback(method_not_allowed),
        )
        .route(
            LOGOUT,
            post(logout::logout::<A>).fallback(method_not_allowed),
        )
        .route(
            LOGOUT_ALL,
            post(logout::logout_all::<A>).fallback(method_not_allowed),
        )
}

/// `GET|PATCH|PUT /user/`, `POST /password/change/` and `GET /whoami/`.
pub fn account_routes<A, AppState>() -> Router<AppState>
where
    A: AccountStore + 'static,
    AuthState<A>: FromRef<AppState>,
    AppState: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            USER,
            get(user::get_user::<A>)
                .patch(user::update_user::<A>)
                .put(user::update_user::<A>)
                .fallback(method_not_allowed),
        )
        .route(
            PASSWORD_CHANGE,
            post(password::change_password::<A>).fallback(method_not_allowed),
        )
        .route(
            WHOAMI,
            get(whoami::whoami::<A>).fallback(method_not_allowed),
        )
}

/// `GET /sessions/`, `DELETE /sessions/{session}/` and `POST /sessions/revoke-others/`.
pub fn session_routes<A, AppState>() -> Router<AppState>
where
    A: AccountStore + 'static,
    AuthState<A>: FromRef<AppState>,
    AppState: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            SESSIONS,
            get(sessions::list_sessions::<A>).fallback(method_not_allowed),
        )
        .route(
            SESSION,
            delete(sessions::delete_session::<A>).fallback(method_not_allowed),
        )
        .route(
            SESSIONS_REVOKE_OTHERS,
            post(sessions::revoke_other_sessions::<A>).fallback(method_not_allowed),
        )
}

/// 405 `{"detail":"Method \"<METHOD>\" not allowed."}`; axum adds the `Allow` header.
pub async fn method_not_allowed(method: Method) -> Response {
    detail(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Method \"{method}\" not allowed."),
    )
}

/// Marks which `AuthState<A>` an internal extractor reads, without owning one.
type Backend<A> = PhantomData<fn() -> (A,)>;

/// The caller of a route, authenticated with the `AuthState<A>` of the state.
pub(crate) struct Caller<A> {
    pub(crate) user: AuthUser,
    _backend: Backend<A>,
}

impl<A, AppState> FromRequestParts<AppState> for Caller<A>
where
    A: AccountStore + 'static,
    AuthState<A>: FromRef<AppState>,
    AppState: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthState::<A>::from_ref(state)
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

/// The caller of a route and their user, loaded with the `AuthState<A>`.
pub(crate) struct Account<A: AccountStore> {
    pub(crate) loaded: LoadUser<A::User>,
    _backend: Backend<A>,
}

impl<A, AppState> FromRequestParts<AppState> for Account<A>
where
    A: AccountStore + 'static,
    AuthState<A>: FromRef<AppState>,
    AppState: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let loaded = AuthState::<A>::from_ref(state)
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
pub(crate) fn tokens_response<A, B>(
    state: &AuthState<A>,
    pair: &TokenPair,
    now: OffsetDateTime,
    make: impl FnOnce(Tokens) -> B,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
    B: Serialize,
{
    let in_cookie = state.http_settings().refresh_token_as_cookie;
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
pub(crate) fn check_csrf<A>(state: &AuthState<A>, headers: &HeaderMap) -> Result<(), ApiError>
where
    A: AccountStore + 'static,
{
    if crate::csrf::allows(headers, &state.http_settings().csrf_trusted_origins) {
        Ok(())
    } else {
        tracing::warn!("cross-site request refused by the CSRF check");
        Err(ApiError::CsrfFailed)
    }
}

/// `response` with the refresh cookie cleared, in cookie mode.
pub(crate) fn clear_cookie<A>(state: &AuthState<A>, mut response: Response) -> Response
where
    A: AccountStore + 'static,
{
    if state.http_settings().refresh_token_as_cookie
        && let Some(cookie) = set_cookie_header(&state.cookie().clear())
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `mail` for `user`, written by the state's [`Mailer`](crate::Mailer); `None`, logged,
/// when there is no mailer or it fails (the flows then send nothing, and answer as
/// always).
pub(crate) fn compose_mail<A>(
    state: &AuthState<A>,
    user: &A::User,
    mail: &crate::AccountMail,
) -> Option<crate::ComposedMail>
where
    A: AccountStore + 'static,
{
    let Some(mailer) = state.mailer() else {
        tracing::error!(
            mail = mail.subject(),
            "no mailer is configured: mail not sent"
        );
        return None;
    };
    match mailer.compose(mail, &state.manager().users().profile(user)) {
        Ok(composed) => Some(composed),
        Err(error) => {
            tracing::error!(mail = mail.subject(), %error, "the mail cannot be written: not sent");
            None
        }
    }
}
