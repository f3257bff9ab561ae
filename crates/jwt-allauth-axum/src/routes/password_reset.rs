//! The password reset flow: `POST /password/reset/` (a reset link by mail, with one
//! answer whether or not the account exists) and the link's `GET`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_allauth::email::email_key;
use jwt_allauth::tokens::ResetCapability;
use jwt_allauth::{DeviceInfo, User};
use time::OffsetDateTime;

use crate::account_flows::{AccountFlows, AccountMail};
use crate::api_error::ApiError;
use crate::client::ClientInfo;
use crate::error_response::{counters_fault, user_store_fault};
use crate::fields::{CharField, FieldErrors, Fields};
use crate::payloads::Detail;
use crate::payloads::PasswordResetDone;
use crate::rejection::RefreshRejection;
use crate::state::AuthState;
use crate::throttle::{ClientBucket, RateLimitError, Throttled};

/// The purpose of reset tokens.
pub(crate) const PASSWORD_RESET: &str = "password_reset";

/// The cookie of the reset capability.
pub const RESET_CAPABILITY_COOKIE: &str = "password_reset_access_token";

/// The cookie of the CSRF token `set-new` compares with its `X-CSRFToken` header.
pub const CSRF_COOKIE: &str = "csrftoken";

/// The longest life of a reset capability: one hour.
const CAPABILITY_LIFETIME: time::Duration = time::Duration::hours(1);

/// What the reset link answers when its token is unknown, used, replaced or expired.
pub(crate) const INVALID_LINK: &str = "The password reset link was invalid, possibly because \
    it has already been used. Please request a new password reset.";

/// The answer to every well-formed request that is not throttled.
pub(crate) const RESET_SENT: &str = "Password reset e-mail has been sent.";

/// Ask for a password reset link by mail.
///
/// `POST /password/reset/` `{"email"}` (JSON or form): 200
/// `{"detail":"Password reset e-mail has been sent."}` for every well-formed address,
/// 400 for a missing or malformed one, 429 past `RESET_REQUESTS_PER_ADDRESS` or
/// `RESET_REQUESTS_PER_IP`.
///
/// The answer is given before the account is even looked up: finding it, minting the
/// token and queueing the mail run in a task of their own, so the answer and its timing
/// are the same whether or not the address has an account. A mail goes only to an
/// active account, and at most `MAILS_PER_ADDRESS` per address (past it, the answer is
/// unchanged and no mail is sent).
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::PASSWORD_RESET,
    tag = "account",
    request_body(
        description = "The account's e-mail address.",
        content(
            (crate::payloads::PasswordResetRequest = "application/json"),
            (crate::payloads::PasswordResetRequest = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "`{\"detail\":\"Password reset e-mail has been sent.\"}` \
            for every well-formed address, whether or not it has an account; the mail \
            (to an active account only) is queued after the answer.", body = Detail),
        (status = 400, description = "A missing or malformed `email`, or a body that cannot \
            be parsed.", body = crate::openapi::BadRequest),
        (status = 413, description = crate::openapi::TOO_LARGE, body = Detail),
        (status = 415, description = crate::openapi::UNSUPPORTED, body = Detail),
        (status = 429, description = "`throttled`: too many reset requests for this address \
            (`RESET_REQUESTS_PER_ADDRESS`) or from this client (`RESET_REQUESTS_PER_IP`).",
            body = crate::payloads::ErrorBody, headers(
            ("Retry-After" = u64, description = "Seconds to wait."),
        )),
    ),
))]
pub(crate) async fn request_password_reset<A>(
    State(state): State<AuthState<A>>,
    client: ClientInfo,
    fields: Fields,
) -> Result<Response, ApiError>
where
    A: AccountFlows + 'static,
{
    let mut errors = FieldErrors::new();
    let Some(email) = fields.email_field("email", &mut errors) else {
        return Err(errors.into());
    };
    let now = state.now();
    let key = email_key(&email);
    let limits = state.account_limits();
    let throttled = |error| match error {
        RateLimitError::Exceeded(wait) => ApiError::ResetThrottled(Throttled::after(wait)),
        RateLimitError::Unavailable(error) => {
            ApiError::from(counters_fault(&error, "password reset rate limit"))
        }
    };
    limits
        .reset_requests_per_address
        .hit(&key, now)
        .await
        .map_err(throttled)?;
    let ip = state.client_ip(&client);
    let bucket = ip
        .map(|ip| ClientBucket::of(ip).address().to_string())
        .unwrap_or_default();
    limits
        .reset_requests_per_ip
        .hit(&bucket, now)
        .await
        .map_err(throttled)?;

    let device = state.device_info(&client);
    let task = state.clone();
    tokio::spawn(async move { send_reset_mail(task, email, key, device, now).await });
    Ok(Json(Detail::new(RESET_SENT)).into_response())
}

/// Finds the account and, if it is active and the address is under
/// `MAILS_PER_ADDRESS`, stores a reset token with its mail. Failures are logged.
async fn send_reset_mail<A>(
    state: AuthState<A>,
    email: String,
    key: String,
    device: DeviceInfo,
    now: OffsetDateTime,
) where
    A: AccountFlows + 'static,
{
    let accounts = state.manager().users();
    let user = match accounts.find_by_email(&email).await {
        Ok(Some(user)) if user.is_active() => user,
        Ok(_) => return,
        Err(error) => {
            user_store_fault(&error, "password reset request");
            return;
        }
    };
    if state
        .account_limits()
        .mails_per_address
        .hit(&key, now)
        .await
        .is_err()
    {
        tracing::info!("password reset mail not sent: MAILS_PER_ADDRESS reached");
        return;
    }
    let Some(public_url) = state.account_settings().public_url.as_deref() else {
        tracing::error!("password reset mail not sent: PUBLIC_URL is not configured");
        return;
    };
    let user_id = user.id();
    let (token, row) = state
        .manager()
        .new_purpose_token(&user_id, PASSWORD_RESET, &device, now);
    let link = format!(
        "{public_url}/password/reset/confirm/{}/{}/",
        URL_SAFE_NO_PAD.encode(user_id.as_bytes()),
        token.as_str()
    );
    let Some(mail) = super::compose_mail(&state, &user, &AccountMail::PasswordReset { link })
    else {
        return;
    };
    if let Err(error) = accounts.store_token_and_mail(&user, &row, mail).await {
        user_store_fault(&error, "password reset request");
    }
}

/// `GET /password/reset/confirm/{uidb64}/{token}/`: checks the link **without consuming
/// it** (a mail scanner opening it burns nothing). A live link answers 302 to
/// `PASSWORD_RESET_REDIRECT`, or to the built-in `/password/reset/default/` form, setting
/// the capability cookie `password_reset_access_token` (HttpOnly, `SameSite=Lax`, `Path=/`,
/// `Secure` unless `COOKIE_SECURE` is off, for at most one hour and never past the link's
/// own expiry) and a readable `csrftoken` cookie. Any other link answers 200 with an HTML
/// page saying it is no longer valid.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = super::PASSWORD_RESET_CONFIRM,
    tag = "account",
    params(
        ("uidb64" = String, Path, description = "The user id, URL-safe base64 without padding."),
        ("token" = String, Path, description = "The reset token of the mail."),
    ),
    responses(
        (status = 302, description = "A live link: to `PASSWORD_RESET_REDIRECT` or the \
            built-in form, with the capability and CSRF cookies. The link is not used up.",
            headers(
                ("Location" = String, description = "The form."),
                ("Set-Cookie" = String, description = "`password_reset_access_token` \
                    (HttpOnly, at most 1 hour) and `csrftoken`."),
            )),
        (status = 200, description = "An unknown, used, replaced or expired link: an HTML \
            page saying so.", content_type = "text/html"),
    ),
))]
pub(crate) async fn confirm_password_reset<A>(
    State(state): State<AuthState<A>>,
    Path((uidb64, token)): Path<(String, String)>,
) -> Response
where
    A: AccountFlows + 'static,
{
    let now = state.now();
    let user_id = URL_SAFE_NO_PAD
        .decode(uidb64.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let live = match &user_id {
        Some(user_id) => {
            state
                .manager()
                .purpose_token_is_live(user_id, PASSWORD_RESET, &token, now)
                .await
        }
        None => Ok(false),
    };
    let user_id = match (live, user_id) {
        (Ok(true), Some(user_id)) => user_id,
        (Ok(_), _) => {
            return crate::pages::page(
                StatusCode::OK,
                "Password reset",
                &format!("<p>{}</p>", crate::pages::escape(INVALID_LINK)),
            );
        }
        (Err(error), _) => {
            return ApiError::from(crate::error_response::server_fault(
                &error,
                "password reset link",
            ))
            .into_response();
        }
    };
    let lifetime = state
        .manager()
        .settings()
        .purpose_token_lifetime_for(PASSWORD_RESET);
    let lifetime = time::Duration::try_from(lifetime)
        .unwrap_or(CAPABILITY_LIFETIME)
        .min(CAPABILITY_LIFETIME);
    let expires_at = now + lifetime;
    let capability =
        match ResetCapability::mint(state.manager().codec(), &user_id, &token, now, expires_at) {
            Ok(capability) => capability,
            Err(error) => {
                return ApiError::from(crate::error_response::server_fault(
                    &error,
                    "password reset capability",
                ))
                .into_response();
            }
        };
    let secure = state.http_settings().cookie_secure;
    let capability = Cookie::build((RESET_CAPABILITY_COOKIE, capability))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(lifetime)
        .build();
    let csrf = Cookie::build((CSRF_COOKIE, jwt_allauth::random::url_safe_secret()))
        .secure(secure)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(lifetime)
        .build();
    let location = match (
        &state.account_settings().password_reset_redirect,
        &state.account_settings().public_url,
    ) {
        (Some(redirect), _) => redirect.clone(),
        (None, Some(public_url)) => format!("{public_url}{}", super::PASSWORD_RESET_FORM),
        (None, None) => super::PASSWORD_RESET_FORM.to_owned(),
    };
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    for cookie in [capability, csrf] {
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The mismatch message of `set-new`, with Django's typographic apostrophe (U+2019).
const SET_NEW_MISMATCH: &str = "The two password fields didn\u{2019}t match.";

/// The value of the cookie `name` in `headers`, if any.
fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name && !cookie.value().is_empty())
        .map(|cookie| cookie.value().to_owned())
}

/// 401 `{"detail":"Authentication credentials were not provided."}` with
/// `WWW-Authenticate: Cookie`: no valid capability.
fn no_capability() -> Response {
    let mut response = crate::error_response::error_response(
        StatusCode::UNAUTHORIZED,
        "Authentication credentials were not provided.",
        None,
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Cookie"));
    response
}

/// 403 `{"detail":"CSRF Failed: <reason>"}`, as Django REST framework words it.
fn csrf_failed(reason: &str) -> Response {
    crate::error_response::error_response(
        StatusCode::FORBIDDEN,
        &format!("CSRF Failed: {reason}"),
        None,
    )
}

/// `POST /password/reset/set-new/`: the capability cookie, `X-CSRFToken` equal to the
/// `csrftoken` cookie, and `new_password1`/`new_password2`.
///
/// A missing or invalid capability is 401 with `WWW-Authenticate: Cookie`; a missing or
/// wrong CSRF token 403; a mismatch or a weak password 400 under `new_password2`, and
/// **nothing is consumed**: the user fixes the typo and retries. Then, in one
/// transaction ([`AccountFlows::reset_password`]): the reset token is consumed, the
/// password set, the address marked verified, every session and purpose token deleted,
/// and the "Your password was changed" mail queued; a capability whose token was used
/// or replaced meanwhile is 401 `token_not_valid`. Finally one new session is opened:
/// 200 `{"access","detail":"Password reset."}` with the refresh cookie (body mode:
/// `refresh` too), and the capability cookie cleared.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::PASSWORD_RESET_SET_NEW,
    tag = "account",
    params(
        ("X-CSRFToken" = String, Header, description = "The value of the `csrftoken` cookie."),
    ),
    request_body(
        description = "The new password, twice. Needs the `password_reset_access_token` and \
            `csrftoken` cookies the reset link set.",
        content(
            (crate::payloads::PasswordSetNewRequest = "application/json"),
            (crate::payloads::PasswordSetNewRequest = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "Reset: every earlier session and purpose token is \
            deleted, the address verified, one new session opened; the capability cookie is \
            cleared.", body = PasswordResetDone, headers(
            ("Set-Cookie" = String, description = "The refresh cookie in cookie mode, and the \
                capability cookie cleared."),
        )),
        (status = 400, description = "`new_password2` not matching or breaking the password \
            rules, a missing or blank field, or a body that cannot be parsed. Nothing is used \
            up.", body = crate::openapi::BadRequest),
        (status = 401, description = "No valid capability cookie (`WWW-Authenticate: \
            Cookie`), or a capability whose link was used or replaced (`token_not_valid`).",
            body = crate::payloads::ErrorBody),
        (status = 403, description = "`CSRF Failed: ...`: the `X-CSRFToken` header is missing \
            or differs from the `csrftoken` cookie.", body = Detail),
        (status = 413, description = crate::openapi::TOO_LARGE, body = Detail),
        (status = 415, description = crate::openapi::UNSUPPORTED, body = Detail),
    ),
))]
pub(crate) async fn set_new_password<A>(
    State(state): State<AuthState<A>>,
    client: ClientInfo,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response
where
    A: AccountFlows + 'static,
{
    let now = state.now();
    let capability = cookie_value(&headers, RESET_CAPABILITY_COOKIE)
        .and_then(|cookie| ResetCapability::verify(state.manager().codec(), &cookie, now).ok());
    let Some(capability) = capability else {
        return no_capability();
    };
    let Some(csrf_cookie) = cookie_value(&headers, CSRF_COOKIE) else {
        return csrf_failed("CSRF cookie not set.");
    };
    let Some(csrf_header) = headers
        .get("x-csrftoken")
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
    else {
        return csrf_failed("CSRF token missing.");
    };
    let same: bool =
        subtle::ConstantTimeEq::ct_eq(csrf_header.as_bytes(), csrf_cookie.as_bytes()).into();
    if !same {
        return csrf_failed("CSRF token incorrect.");
    }
    match set_new(&state, &client, &headers, &body, &capability, now).await {
        Ok(response) | Err(response) => response,
    }
}

/// The rest of `set-new`, once the capability and the CSRF token are checked.
async fn set_new<A>(
    state: &AuthState<A>,
    client: &ClientInfo,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    capability: &ResetCapability,
    now: OffsetDateTime,
) -> Result<Response, Response>
where
    A: AccountFlows + 'static,
{
    let fields = Fields::parse(headers, body).map_err(IntoResponse::into_response)?;
    let rules = CharField::password().max_length(super::password::PASSWORD_MAX_LENGTH);
    let mut errors = FieldErrors::new();
    let new1 = fields.char_field("new_password1", rules, &mut errors);
    let new2 = fields.char_field("new_password2", rules, &mut errors);
    let (Some(new1), Some(new2)) = (new1, new2) else {
        return Err(ApiError::from(errors).into_response());
    };
    if new1 != new2 {
        return Err(
            ApiError::from(FieldErrors::single("new_password2", SET_NEW_MISMATCH)).into_response(),
        );
    }
    let accounts = state.manager().users();
    let fault = |error: &jwt_allauth::UserStoreError| {
        ApiError::from(user_store_fault(error, "password reset")).into_response()
    };
    let user = match accounts.load_user(capability.user_id()).await {
        Ok(Some(user)) if user.is_active() => user,
        Ok(_) => return Err(ApiError::Refresh(RefreshRejection::InvalidOrExpired).into_response()),
        Err(error) => return Err(fault(&error)),
    };
    let email = accounts.profile(&user).email;
    let problems = state.password_rules().check(&new1, &email);
    if !problems.is_empty() {
        let mut errors = FieldErrors::new();
        for problem in &problems {
            errors.add("new_password2", &problem.to_string());
        }
        return Err(ApiError::from(errors).into_response());
    }
    let Some(notice) = super::compose_mail(state, &user, &AccountMail::PasswordChanged) else {
        return Err(ApiError::Internal.into_response());
    };
    let reset = accounts
        .reset_password(
            capability.user_id(),
            &capability.token_hash(),
            &new1,
            notice,
            now,
        )
        .await;
    let user = match reset {
        Ok(Some(user)) => user,
        Ok(None) => {
            return Err(ApiError::Refresh(RefreshRejection::InvalidOrExpired).into_response());
        }
        Err(error) => return Err(fault(&error)),
    };
    let device = state.device_info(client);
    let pair = state
        .manager()
        .open_session(&user, &device, now)
        .await
        .map_err(|error| {
            ApiError::from(crate::error_response::server_fault(
                &error,
                "password reset",
            ))
            .into_response()
        })?;
    let mut response = super::tokens_response(state, &pair, now, |tokens| PasswordResetDone {
        tokens,
        detail: "Password reset.".to_owned(),
    })
    .map_err(IntoResponse::into_response)?;
    let cleared = Cookie::build((RESET_CAPABILITY_COOKIE, ""))
        .http_only(true)
        .secure(state.http_settings().cookie_secure)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::ZERO)
        .build();
    if let Ok(value) = HeaderValue::from_str(&cleared.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
