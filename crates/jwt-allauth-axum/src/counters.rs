//! What the routers count, through the [`metrics`] facade: logins by outcome, rotations
//! by outcome and detected replays.
//!
//! The facade records nothing until the application installs a recorder (the
//! `jwt-allauth` server does when `METRICS_BIND` is set, and serves them as Prometheus
//! text), so an application that does not want metrics pays a few atomic loads per
//! login or refresh. Every label value is a `&'static str`: recording allocates nothing.

use jwt_allauth::RotationOutcome;

use crate::api_error::ApiError;

/// Counter: `POST /login/` answers, by `outcome` (see [`login_outcome`]).
pub const LOGINS_TOTAL: &str = "jwt_allauth_logins_total";

/// Counter: `POST /refresh/` rotations, by `outcome`: a [`RotationOutcome::name`]
/// (`rotated`, `retried`, `replayed`, `not_found`, `disabled`, `session_expired`,
/// `user_inactive`), `invalid_token` (refused before any database read: garbage, bad
/// signature, expired, wrong type) or `error` (the store or the user store failed).
pub const ROTATIONS_TOTAL: &str = "jwt_allauth_rotations_total";

/// Counter: refresh tokens presented again after they were rotated (the session was
/// revoked: sessions.md, rule 2).
pub const REPLAYS_TOTAL: &str = "jwt_allauth_replays_total";

/// The `outcome` label of a login answered `result`: `success`, `invalid_credentials`
/// (unknown e-mail, wrong password or inactive account), `throttled`,
/// `email_not_verified`, `invalid_request` (missing or invalid fields) or `error`. A body
/// that cannot be read at all (wrong content type, malformed JSON, too large) is refused
/// before the route runs, and is not counted as a login.
pub fn login_outcome<T>(result: &Result<T, ApiError>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(ApiError::IncorrectCredentials) => "invalid_credentials",
        Err(ApiError::Throttled(_)) => "throttled",
        Err(ApiError::EmailNotVerified) => "email_not_verified",
        Err(ApiError::Fields(_) | ApiError::Body(_)) => "invalid_request",
        Err(_) => "error",
    }
}

/// Counts a login answered `result`.
pub(crate) fn record_login<T>(result: &Result<T, ApiError>) {
    metrics::counter!(LOGINS_TOTAL, "outcome" => login_outcome(result)).increment(1);
}

/// Counts a rotation whose outcome is `outcome` (a [`RotationOutcome::name`], or
/// `invalid_token` or `error`), and a replay.
pub(crate) fn record_rotation(outcome: &'static str) {
    metrics::counter!(ROTATIONS_TOTAL, "outcome" => outcome).increment(1);
    if outcome == RotationOutcome::Replayed.name() {
        metrics::counter!(REPLAYS_TOTAL).increment(1);
    }
}
