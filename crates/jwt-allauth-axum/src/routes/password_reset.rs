//! `POST /password/reset/`: a reset link by mail, with one answer whether or not the
//! account exists.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_allauth::email::{MAX_EMAIL_CHARS, email_key, is_valid_email};
use jwt_allauth::{DeviceInfo, User};
use time::OffsetDateTime;

use crate::account_flows::{AccountFlows, AccountMail};
use crate::api_error::ApiError;
use crate::client::ClientInfo;
use crate::error_response::user_store_fault;
use crate::fields::{CharField, FieldErrors, Fields};
use crate::payloads::Detail;
use crate::state::AuthState;
use crate::throttle::{ClientBucket, Throttled};

/// The purpose of reset tokens.
pub(crate) const PASSWORD_RESET: &str = "password_reset";

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
    let email_rules = CharField::required().max_length(MAX_EMAIL_CHARS);
    let Some(email) = fields.char_field("email", email_rules, &mut errors) else {
        return Err(errors.into());
    };
    if !is_valid_email(&email) {
        return Err(FieldErrors::single("email", "Enter a valid email address.").into());
    }
    let now = state.now();
    let key = email_key(&email);
    let limits = state.account_limits();
    let throttled = |wait: std::time::Duration| {
        ApiError::ResetThrottled(Throttled {
            retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
        })
    };
    limits
        .reset_requests_per_address
        .hit(&key, now)
        .map_err(throttled)?;
    let ip = state.client_ip(&client);
    let bucket = ip
        .map(|ip| ClientBucket::of(ip).address().to_string())
        .unwrap_or_default();
    limits
        .reset_requests_per_ip
        .hit(&bucket, now)
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
    if let Err(error) = accounts
        .store_token_and_mail(&user, &row, AccountMail::PasswordReset { link })
        .await
    {
        user_store_fault(&error, "password reset request");
    }
}
