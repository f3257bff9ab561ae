//! Sign-up and e-mail verification: `POST /registration/`, the verification link
//! (`GET` shows a page, `POST` confirms), `POST /registration/verify-email/`,
//! `POST /registration/resend-verification/` and the `/registration/verified/` page.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_allauth::email::email_key;
use jwt_allauth::tokens::GenericToken;
use jwt_allauth::{DeviceInfo, User};
use time::OffsetDateTime;

use crate::account_flows::{AccountFlows, AccountMail, NewAccount, Registered};
use crate::account_settings::{EmailVerification, Registration};
use crate::api_error::ApiError;
use crate::client::ClientInfo;
use crate::error_response::{counters_fault, server_fault, user_store_fault};
use crate::fields::{CharField, FieldErrors, Fields};
use crate::pages::{escape, page};
use crate::payloads::Detail;
use crate::state::AuthState;
use crate::throttle::{ClientBucket, RateLimitError, Throttled};

/// The purpose of verification tokens.
pub(crate) const EMAIL_VERIFICATION: &str = "email_verification";

/// The answer of a sign-up under `mandatory` and of a resend.
pub(crate) const VERIFICATION_SENT: &str = "Verification e-mail sent.";

/// The longest first or last name, in characters.
const NAME_MAX_LENGTH: usize = 150;

/// The longest password, in characters.
const PASSWORD_MAX_LENGTH: usize = 128;

/// The message of an address taken under `optional` and `none`.
const TAKEN: &str = "A user is already registered with this e-mail address.";

/// The mismatch of the two passwords, with an ASCII apostrophe as the Django library.
const MISMATCH: &str = "The two password fields didn't match.";

/// A verification key: the user id (URL-safe base64) and the token, joined by a dot
/// (which neither contains).
fn verification_key(user_id: &str, token: &str) -> String {
    format!("{}.{token}", URL_SAFE_NO_PAD.encode(user_id.as_bytes()))
}

/// The user id and the token of a verification key.
fn parse_key(key: &str) -> Option<(String, String)> {
    let (uid, token) = key.split_once('.')?;
    let user_id = String::from_utf8(URL_SAFE_NO_PAD.decode(uid).ok()?).ok()?;
    (!token.is_empty()).then(|| (user_id, token.to_owned()))
}

/// The verification link of `key`: `EMAIL_VERIFICATION_URL` with `{key}`, else
/// `{PUBLIC_URL}/registration/verification/<key>/`.
fn verification_link<A: AccountFlows + 'static>(state: &AuthState<A>, key: &str) -> Option<String> {
    let settings = state.account_settings();
    match (&settings.email_verification_url, &settings.public_url) {
        (Some(template), _) => Some(template.replace("{key}", key)),
        (None, Some(base)) => Some(format!("{base}/registration/verification/{key}/")),
        (None, None) => None,
    }
}

/// Mints a verification token for `user` and stores it with its `Welcome!` mail, if the
/// address is under `MAILS_PER_ADDRESS`. Failures are logged.
async fn send_verification<A>(
    state: &AuthState<A>,
    user: &A::User,
    device: &DeviceInfo,
    now: OffsetDateTime,
) where
    A: AccountFlows + 'static,
{
    let accounts = state.manager().users();
    let key = email_key(&accounts.profile(user).email);
    if state
        .account_limits()
        .mails_per_address
        .hit(&key, now)
        .await
        .is_err()
    {
        tracing::info!("verification mail not sent: MAILS_PER_ADDRESS reached");
        return;
    }
    let user_id = user.id();
    let (token, row) = state
        .manager()
        .new_purpose_token(&user_id, EMAIL_VERIFICATION, device, now);
    let Some(link) = verification_link(state, &verification_key(&user_id, token.as_str())) else {
        tracing::error!("verification mail not sent: PUBLIC_URL is not configured");
        return;
    };
    let Some(mail) = super::compose_mail(state, user, &AccountMail::Verification { link }) else {
        return;
    };
    if let Err(error) = accounts.store_token_and_mail(user, &row, mail).await {
        user_store_fault(&error, "verification mail");
    }
}

/// Queues the `You already have an account` mail to the owner of a taken address, if it
/// is under `MAILS_PER_ADDRESS`.
async fn send_account_exists<A>(state: &AuthState<A>, user: &A::User, now: OffsetDateTime)
where
    A: AccountFlows + 'static,
{
    let accounts = state.manager().users();
    let key = email_key(&accounts.profile(user).email);
    if state
        .account_limits()
        .mails_per_address
        .hit(&key, now)
        .await
        .is_err()
    {
        return;
    }
    let reset_page = state.account_settings().password_reset_request_url.clone();
    let Some(mail) = super::compose_mail(state, user, &AccountMail::AccountExists { reset_page })
    else {
        return;
    };
    if let Err(error) = accounts.queue_mail(user, mail).await {
        user_store_fault(&error, "account exists mail");
    }
}

/// 429 past `SIGNUPS_PER_IP`.
fn signup_throttled(error: RateLimitError) -> ApiError {
    match error {
        RateLimitError::Exceeded(wait) => ApiError::SignupThrottled(Throttled::after(wait)),
        RateLimitError::Unavailable(error) => counters_fault(&error, "sign-up rate limit").into(),
    }
}

/// `POST /registration/` `{"email","password1","password2","first_name","last_name"}`
/// (JSON or form). `REGISTRATION=closed` answers 404.
///
/// Field errors are 400, keyed as the Django library keys them; the mismatch of the two
/// passwords is reported only once every field is valid. Then, by `EMAIL_VERIFICATION`:
///
/// - `mandatory`: 201 `{"detail":"Verification e-mail sent."}` and nothing else, whether
///   the address is free or taken: the account is created (or an earlier sign-up that
///   was never verified nor used is replaced), hashed and mailed in a task of its own,
///   so the answer and its timing say nothing of the address. The owner of a taken
///   address gets `You already have an account`.
/// - `optional`: 201 with the tokens of a new session (`email_verified` false) and a
///   `Welcome!` mail; `none`: the same with the address taken as verified and no mail. A
///   taken address is 400 `{"email":["A user is already registered with this e-mail
///   address."]}`.
///
/// Past `SIGNUPS_PER_IP` sign-ups per client: 429 `throttled` with `Retry-After`.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::REGISTRATION,
    tag = "account",
    request_body(
        description = "`email`, `password1`, `password2`, and optional `first_name`, `last_name`.",
        content(
            (crate::payloads::RegistrationRequest = "application/json"),
            (crate::payloads::RegistrationRequest = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 201, description = "`mandatory`: `{\"detail\":\"Verification e-mail sent.\"}`, \
            the same for a taken address; `optional` and `none`: the tokens of a new session \
            (and the refresh cookie in cookie mode).", body = crate::payloads::Tokens),
        (status = 400, description = "Field errors, the passwords not matching \
            (`non_field_errors`), or under `optional`/`none` a taken address.",
            body = crate::openapi::BadRequest),
        (status = 404, description = "`REGISTRATION=closed`.", body = Detail),
        (status = 413, description = crate::openapi::TOO_LARGE, body = Detail),
        (status = 415, description = crate::openapi::UNSUPPORTED, body = Detail),
        (status = 429, description = "`throttled`: `SIGNUPS_PER_IP` reached.",
            body = crate::payloads::ErrorBody, headers(
            ("Retry-After" = u64, description = "Seconds to wait."),
        )),
    ),
))]
pub(crate) async fn register<A>(
    State(state): State<AuthState<A>>,
    client: ClientInfo,
    fields: Fields,
) -> Result<Response, ApiError>
where
    A: AccountFlows + 'static,
{
    if state.account_settings().registration == Registration::Closed {
        return Err(ApiError::NotFound);
    }
    let mut errors = FieldErrors::new();
    let email = fields.email_field("email", &mut errors);
    let password_rules = CharField::password().max_length(PASSWORD_MAX_LENGTH);
    let password1 = fields.char_field("password1", password_rules, &mut errors);
    if let Some(password) = &password1 {
        for problem in state
            .password_rules()
            .check(password, email.as_deref().unwrap_or_default())
        {
            errors.add("password1", &problem.to_string());
        }
    }
    let password2 = fields.char_field("password2", password_rules, &mut errors);
    let names = CharField::optional().max_length(NAME_MAX_LENGTH);
    let first_name = fields.char_field("first_name", names, &mut errors);
    let last_name = fields.char_field("last_name", names, &mut errors);
    let (Some(email), Some(password1), Some(password2)) = (email, password1, password2) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    if password1 != password2 {
        return Err(FieldErrors::single("non_field_errors", MISMATCH).into());
    }

    let now = state.now();
    let ip = state.client_ip(&client);
    let bucket = ip
        .map(|ip| ClientBucket::of(ip).address().to_string())
        .unwrap_or_default();
    state
        .account_limits()
        .signups_per_ip
        .hit(&bucket, now)
        .await
        .map_err(signup_throttled)?;

    let mode = state.account_settings().email_verification;
    let account = NewAccount {
        email,
        password: password1,
        first_name: first_name.unwrap_or_default(),
        last_name: last_name.unwrap_or_default(),
        email_verified: mode == EmailVerification::None,
    };
    let device = state.device_info(&client);
    if mode == EmailVerification::Mandatory {
        let task = state.clone();
        tokio::spawn(async move {
            let accounts = task.manager().users();
            match accounts.register(account, true, now).await {
                Ok(Registered::Created(user)) => {
                    send_verification(&task, &user, &device, now).await
                }
                Ok(Registered::Taken(owner)) => send_account_exists(&task, &owner, now).await,
                Err(error) => {
                    user_store_fault(&error, "sign-up");
                }
            }
        });
        let mut response = Json(Detail::new(VERIFICATION_SENT)).into_response();
        *response.status_mut() = StatusCode::CREATED;
        return Ok(response);
    }

    let accounts = state.manager().users();
    let user = match accounts.register(account, false, now).await {
        Ok(Registered::Created(user)) => user,
        Ok(Registered::Taken(_)) => return Err(FieldErrors::single("email", TAKEN).into()),
        Err(error) => return Err(user_store_fault(&error, "sign-up").into()),
    };
    let pair = state
        .manager()
        .open_session(&user, &device, now)
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "sign-up")))?;
    // The account's first device: recorded, never mailed.
    super::new_sign_in::note_sign_in(&state, &user, &pair, &device, false, now).await;
    if mode == EmailVerification::Optional {
        let task = state.clone();
        let device = device.clone();
        tokio::spawn(async move { send_verification(&task, &user, &device, now).await });
    }
    let mut response = super::tokens_response(&state, &pair, now, |tokens| tokens)?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// The verification link's answer when its key is unknown, used or expired.
const INVALID_VERIFICATION: &str =
    "This e-mail verification link is invalid or has expired. Please request a new one.";

/// Consumes a verification key: the verified user, if the key was live.
async fn confirm<A>(state: &AuthState<A>, key: &str) -> Result<Option<A::User>, ApiError>
where
    A: AccountFlows + 'static,
{
    let Some((user_id, token)) = parse_key(key) else {
        return Ok(None);
    };
    state
        .manager()
        .users()
        .verify_email(&user_id, &GenericToken::hash(&token), state.now())
        .await
        .map_err(|error| user_store_fault(&error, "e-mail verification").into())
}

/// The confirmation page's script: submits the page's form at once.
const CONFIRM_SCRIPT: &str = "document.getElementById(\"confirm\").submit();";

/// `GET /registration/verification/{key}/`: **confirms nothing** (mail scanners and
/// prefetchers neither use nor burn the link); a small page whose form posts to the
/// same URL, submitted by its script at once, or by its button without script.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = super::REGISTRATION_VERIFICATION,
    tag = "account",
    params(("key" = String, Path, description = "The key of the verification mail.")),
    responses(
        (status = 200, description = "A page that confirms with a POST to the same URL; the \
            GET itself confirms nothing.", content_type = "text/html"),
    ),
))]
pub(crate) async fn verification_page<A>(
    State(_state): State<AuthState<A>>,
    Path(_key): Path<String>,
) -> Response
where
    A: AccountFlows + 'static,
{
    let body = format!(
        "<form id=\"confirm\" method=\"post\">\n\
         <p>Confirm your e-mail address.</p>\n\
         <p><button type=\"submit\">Confirm</button></p>\n\
         </form>\n<script>{CONFIRM_SCRIPT}</script>"
    );
    let mut response = page(StatusCode::OK, "Confirm your e-mail address", &body);
    if let Ok(csp) = HeaderValue::from_str(&crate::pages::csp_with_script(CONFIRM_SCRIPT)) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// Whether a request accepts JSON (its `Accept` names `application/json`).
pub(crate) fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

/// `POST /registration/verification/{key}/` (what the page submits): consumes the key
/// and marks the address verified, then 302 to `EMAIL_VERIFIED_REDIRECT` or the built-in
/// `/registration/verified/` page. An unknown, used or expired key: 404
/// `{"detail":"Not found."}` to a request that accepts JSON, else an HTML page saying
/// the link is no longer valid.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::REGISTRATION_VERIFICATION,
    tag = "account",
    params(("key" = String, Path, description = "The key of the verification mail.")),
    responses(
        (status = 302, description = "Confirmed: to `EMAIL_VERIFIED_REDIRECT` or \
            `/registration/verified/`.", headers(("Location" = String, description = "Where to go."))),
        (status = 404, description = "An unknown, used or expired key: `{\"detail\":\"Not \
            found.\"}` when JSON is accepted, else an HTML page.", body = Detail),
    ),
))]
pub(crate) async fn confirm_verification<A>(
    State(state): State<AuthState<A>>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError>
where
    A: AccountFlows + 'static,
{
    if confirm(&state, &key).await?.is_none() {
        if accepts_json(&headers) {
            return Err(ApiError::NotFound);
        }
        return Ok(page(
            StatusCode::NOT_FOUND,
            "E-mail verification",
            &format!("<p>{}</p>", escape(INVALID_VERIFICATION)),
        ));
    }
    let settings = state.account_settings();
    let location = match (&settings.email_verified_redirect, &settings.public_url) {
        (Some(redirect), _) => redirect.clone(),
        (None, Some(base)) => format!("{base}{}", super::REGISTRATION_VERIFIED),
        (None, None) => super::REGISTRATION_VERIFIED.to_owned(),
    };
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `POST /registration/verify-email/` `{"key"}`: 200 `{"detail":"E-mail verified."}`,
/// or 404 `{"detail":"Not found."}` for an unknown, used or expired key.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::REGISTRATION_VERIFY_EMAIL,
    tag = "account",
    request_body(
        description = "The key of the verification mail.",
        content(
            (crate::payloads::VerifyEmailRequest = "application/json"),
            (crate::payloads::VerifyEmailRequest = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "`{\"detail\":\"E-mail verified.\"}`", body = Detail),
        (status = 400, description = "A missing `key`.", body = crate::openapi::BadRequest),
        (status = 404, description = "An unknown, used or expired key.", body = Detail),
    ),
))]
pub(crate) async fn verify_email<A>(
    State(state): State<AuthState<A>>,
    fields: Fields,
) -> Result<Response, ApiError>
where
    A: AccountFlows + 'static,
{
    let mut errors = FieldErrors::new();
    let Some(key) = fields.char_field("key", CharField::required().max_length(512), &mut errors)
    else {
        return Err(errors.into());
    };
    match confirm(&state, &key).await? {
        Some(_) => Ok(Json(Detail::new("E-mail verified.")).into_response()),
        None => Err(ApiError::NotFound),
    }
}

/// `POST /registration/resend-verification/` `{"email"}`: always 200
/// `{"detail":"Verification e-mail sent."}` for a well-formed address; a new link (the
/// older ones die) goes only to an active account whose address is not verified, under
/// `MAILS_PER_ADDRESS`, from a task of its own.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::REGISTRATION_RESEND,
    tag = "account",
    request_body(
        description = "The account's e-mail address.",
        content(
            (crate::payloads::PasswordResetRequest = "application/json"),
            (crate::payloads::PasswordResetRequest = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "`{\"detail\":\"Verification e-mail sent.\"}` for every \
            well-formed address; a new link goes only to an unverified account.", body = Detail),
        (status = 400, description = "A missing or malformed address.",
            body = crate::openapi::BadRequest),
    ),
))]
pub(crate) async fn resend_verification<A>(
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
    let device = state.device_info(&client);
    let task = state.clone();
    tokio::spawn(async move {
        match task.manager().users().find_by_email(&email).await {
            Ok(Some(user)) if user.is_active() && !user.email_verified() => {
                send_verification(&task, &user, &device, now).await;
            }
            Ok(_) => {}
            Err(error) => {
                user_store_fault(&error, "verification resend");
            }
        }
    });
    Ok(Json(Detail::new(VERIFICATION_SENT)).into_response())
}

/// `GET /registration/verified/`: the page after a confirmed address (404 when
/// `EMAIL_VERIFIED_REDIRECT` is set).
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = super::REGISTRATION_VERIFIED,
    tag = "account",
    responses(
        (status = 200, description = "The page after a confirmed address.",
            content_type = "text/html"),
        (status = 404, description = "`EMAIL_VERIFIED_REDIRECT` is set.", body = Detail),
    ),
))]
pub(crate) async fn verified_page<A>(State(state): State<AuthState<A>>) -> Response
where
    A: AccountFlows + 'static,
{
    if state.account_settings().email_verified_redirect.is_some() {
        return ApiError::NotFound.into_response();
    }
    page(
        StatusCode::OK,
        "E-mail address confirmed",
        "<p>Your e-mail address is confirmed. You can sign in.</p>",
    )
}
