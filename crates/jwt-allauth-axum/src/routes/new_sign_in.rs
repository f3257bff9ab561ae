//! The new sign-in mail of a login (see [`crate::known_devices`]) and its "This wasn't
//! me" link, `/sessions/not-me/{key}/`: `GET` shows a page and changes nothing, `POST`
//! (its button) ends that one session and offers a password reset.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_allauth::{DeviceInfo, TokenPair, User};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::account::AccountStore;
use crate::account_flows::{AccountFlows, AccountMail};
use crate::api_error::ApiError;
use crate::client::ClientInfo;
use crate::error_response::{server_fault, user_store_fault};
use crate::known_devices::{
    DeviceFingerprint, NEW_SIGN_IN, NewSignInMail, SignIn, new_sign_in_purpose,
};
use crate::pages::{escape, page};
#[cfg(feature = "openapi")]
use crate::payloads::Detail;
use crate::state::AuthState;

/// The key of a "This wasn't me" link: the user id (URL-safe base64), the session id and
/// the token, joined by dots (which none of them contains).
fn not_me_key(user_id: &str, session: &str, token: &str) -> String {
    format!(
        "{}.{session}.{token}",
        URL_SAFE_NO_PAD.encode(user_id.as_bytes())
    )
}

/// The user id, session id and token of a key.
fn parse_key(key: &str) -> Option<(String, String, String)> {
    let mut parts = key.split('.');
    let (uid, session, token) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || session.is_empty() || token.is_empty() {
        return None;
    }
    let user_id = String::from_utf8(URL_SAFE_NO_PAD.decode(uid).ok()?).ok()?;
    Some((user_id, session.to_owned(), token.to_owned()))
}

/// A login's time as the mail shows it: `2026-12-05 21:04:59 UTC`.
fn mail_time(now: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    now.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Notes the session `pair` opened for `user` on `device` in the state's
/// [`KnownDevices`](crate::known_devices::KnownDevices), if there is one: with
/// `may_mail`, a "New sign-in to your account" mail for a new device; without (a
/// sign-up's session), the device is recorded only. Failures are logged: the session is
/// open either way.
pub(crate) async fn note_sign_in<A>(
    state: &AuthState<A>,
    user: &A::User,
    pair: &TokenPair,
    device: &DeviceInfo,
    may_mail: bool,
    now: OffsetDateTime,
) where
    A: AccountStore + 'static,
{
    let Some(known_devices) = state.known_devices() else {
        return;
    };
    let Some(session) = pair.refresh.claims().session.as_deref() else {
        return;
    };
    let user_id = user.id();
    let fingerprint = DeviceFingerprint::of(device);
    let mail = if may_mail {
        new_sign_in_mail(state, user, &user_id, session, &fingerprint, device, now)
    } else {
        None
    };
    let sign_in = SignIn {
        user_id,
        device: fingerprint,
        now,
        mail,
    };
    match known_devices.note_sign_in(sign_in).await {
        Ok(notice) => tracing::debug!(notice = notice.name(), "sign-in noted"),
        Err(error) => {
            user_store_fault(&error, "noting the sign-in's device");
        }
    }
}

/// The mail and token for a sign-in from a new device (stored only if the record says
/// the device is new); `None`, logged, when no mail can be written.
fn new_sign_in_mail<A>(
    state: &AuthState<A>,
    user: &A::User,
    user_id: &str,
    session: &str,
    fingerprint: &DeviceFingerprint,
    device: &DeviceInfo,
    now: OffsetDateTime,
) -> Option<NewSignInMail>
where
    A: AccountStore + 'static,
{
    let Some(public_url) = state.account_settings().public_url.as_deref() else {
        tracing::error!("new sign-in mail not written: PUBLIC_URL is not configured");
        return None;
    };
    let manager = state.manager();
    let (token, mut row) =
        manager.new_purpose_token(user_id, &new_sign_in_purpose(session), device, now);
    // The lifetime of the purpose's name, not of the name with its session.
    let lifetime = manager.settings().purpose_token_lifetime_for(NEW_SIGN_IN);
    row.expires_at = time::Duration::try_from(lifetime)
        .ok()
        .and_then(|lifetime| now.checked_add(lifetime))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc());
    let key = not_me_key(user_id, session, token.as_str());
    let mail = AccountMail::NewSignIn {
        link: format!("{public_url}/sessions/not-me/{key}/"),
        device: fingerprint.describe(),
        ip: device.ip.clone().unwrap_or_else(|| "unknown".to_owned()),
        time: mail_time(now),
    };
    let mail = super::compose_mail(state, user, &mail)?;
    Some(NewSignInMail { token: row, mail })
}

/// The title of the "This wasn't me" pages.
const TITLE: &str = "Secure your account";

/// The answer to a key that is unknown, used or expired.
const INVALID_LINK: &str = "This link is invalid, has expired or was already used. Open \
    the list of your sessions to end the ones you do not know, and change your password.";

/// `GET /sessions/not-me/{key}/`: **changes nothing** (mail scanners and prefetchers
/// neither use nor burn the link); a page whose button posts to the same URL, which
/// ends that sign-in's session.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = super::SESSIONS_NOT_ME,
    tag = "sessions",
    params(("key" = String, Path, description = "The key of the new sign-in mail's link.")),
    responses(
        (status = 200, description = "A page whose button ends the session with a POST to \
            the same URL; the GET itself changes nothing.", content_type = "text/html"),
    ),
))]
pub(crate) async fn not_me_page<A>(
    State(_state): State<AuthState<A>>,
    Path(_key): Path<String>,
) -> Response
where
    A: AccountFlows + 'static,
{
    page(
        StatusCode::OK,
        TITLE,
        "<p>Someone signed in to your account from a new device. If it was not you, \
         sign that device out now, then choose a new password.</p>\n\
         <form method=\"post\">\n\
         <p><button type=\"submit\">This wasn't me: sign that device out</button></p>\n\
         </form>",
    )
}

/// `POST /sessions/not-me/{key}/` (the page's button): ends the session of the mail,
/// through the session manager (reason `logout`: its refresh token is refused at once,
/// its access tokens as soon as the revocation set has it), uses the link up, and
/// answers a page with a link to choose a new password (a fresh password reset link).
/// A key that is unknown, used or expired: 404 and a page saying so (`{"detail":"Not
/// found."}` to a request that accepts JSON), nothing ended.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::SESSIONS_NOT_ME,
    tag = "sessions",
    params(("key" = String, Path, description = "The key of the new sign-in mail's link.")),
    responses(
        (status = 200, description = "The session is ended; the page links to a password \
            reset.", content_type = "text/html"),
        (status = 404, description = "An unknown, used or expired key: `{\"detail\":\"Not \
            found.\"}` when JSON is accepted, else an HTML page saying so.", body = Detail),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = crate::payloads::ErrorBody),
    ),
))]
pub(crate) async fn not_me<A>(
    State(state): State<AuthState<A>>,
    Path(key): Path<String>,
    client: ClientInfo,
    headers: HeaderMap,
) -> Result<Response, ApiError>
where
    A: AccountFlows + 'static,
{
    let invalid = || {
        if super::registration::accepts_json(&headers) {
            return ApiError::NotFound.into_response();
        }
        page(
            StatusCode::NOT_FOUND,
            TITLE,
            &format!("<p>{}</p>", escape(INVALID_LINK)),
        )
    };
    let Some((user_id, session, token)) = parse_key(&key) else {
        return Ok(invalid());
    };
    let now = state.now();
    let manager = state.manager();
    let purpose = new_sign_in_purpose(&session);
    let fault = |error: jwt_allauth::Error| ApiError::from(server_fault(&error, "this wasn't me"));
    // The session ends before the link is used up: a failure in between leaves the link
    // live, to try again, rather than used with the session still open.
    if !manager
        .purpose_token_is_live(&user_id, &purpose, &token, now)
        .await
        .map_err(fault)?
    {
        return Ok(invalid());
    }
    manager
        .revoke_user_session(&user_id, &session, now)
        .await
        .map_err(fault)?;
    if manager
        .consume_purpose_token(&user_id, &purpose, &token, now)
        .await
        .map_err(fault)?
        .is_none()
    {
        // Another request used it meanwhile.
        return Ok(invalid());
    }
    let reset = reset_link(&state, &user_id, &client, now).await;
    let offer = match reset {
        Some(link) => format!(
            "<p><a href=\"{}\">Choose a new password</a> (every device signed in to your \
             account will be signed out).</p>",
            escape(&link)
        ),
        None => "<p>Now change your password.</p>".to_owned(),
    };
    Ok(page(
        StatusCode::OK,
        TITLE,
        &format!("<p>That device is signed out.</p>\n{offer}"),
    ))
}

/// A fresh password reset link for `user_id` (replacing their older reset links), for
/// the page after "This wasn't me": whoever holds the mail could ask for one anyway.
/// `None`, logged, when it cannot be made.
async fn reset_link<A>(
    state: &AuthState<A>,
    user_id: &str,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Option<String>
where
    A: AccountFlows + 'static,
{
    let public_url = state.account_settings().public_url.as_deref()?;
    let device = state.device_info(client);
    match state
        .manager()
        .make_purpose_token(user_id, super::password_reset::PASSWORD_RESET, &device, now)
        .await
    {
        Ok(token) => Some(format!(
            "{public_url}/password/reset/confirm/{}/{}/",
            URL_SAFE_NO_PAD.encode(user_id.as_bytes()),
            token.as_str()
        )),
        Err(error) => {
            server_fault(&error, "password reset link after this wasn't me");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_garbage_is_refused() {
        let key = not_me_key("42", "0123abcd", "tok-en_");
        assert_eq!(
            parse_key(&key),
            Some(("42".to_owned(), "0123abcd".to_owned(), "tok-en_".to_owned()))
        );
        for bad in ["", "a.b", "NDI..t", "NDI.s.", "NDI.s.t.u", "!!.s.t"] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_are_utc() {
        let at = OffsetDateTime::from_unix_timestamp(1_796_504_699).expect("a time");
        assert_eq!(mail_time(at), "2026-12-05 21:04:59 UTC");
    }
}
