//! The built-in pages of the password reset flow, served when `PASSWORD_RESET_REDIRECT`
//! is unset: `GET /password/reset/default/` (the form) and `GET /password/reset/complete/`.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::account_flows::AccountFlows;
use crate::api_error::ApiError;
use crate::pages::page;
#[cfg(feature = "openapi")]
use crate::payloads::Detail;
use crate::state::AuthState;

/// The form's script: `set-new` needs the `X-CSRFToken` header, which a plain form cannot
/// send. It posts the two fields as JSON with the `csrftoken` cookie's value, then goes
/// to the "complete" page, or shows the messages of a 400 next to the form.
const FORM_SCRIPT: &str = r#"
document.getElementById("reset").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const status = document.getElementById("status");
  const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  const response = await fetch("../set-new/", {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      "X-CSRFToken": csrf ? csrf.slice("csrftoken=".length) : "",
    },
    body: JSON.stringify({
      new_password1: form.new_password1.value,
      new_password2: form.new_password2.value,
    }),
  });
  if (response.ok) {
    window.location.assign("../complete/");
    return;
  }
  const body = await response.json().catch(() => ({}));
  const messages = [].concat(...Object.values(body).filter(Array.isArray));
  status.textContent = messages.length ? messages.join(" ") : (body.detail || "The password could not be set.");
});
"#;

/// The Content-Security-Policy of the form: the built-in pages' policy, plus this one
/// script (by its hash) and requests to this origin.
static FORM_CSP: LazyLock<String> = LazyLock::new(|| crate::pages::csp_with_script(FORM_SCRIPT));

/// Whether the built-in pages are served: only without `PASSWORD_RESET_REDIRECT` (else
/// 404, as the Django library).
fn served<A: AccountFlows + 'static>(state: &AuthState<A>) -> bool {
    state.account_settings().password_reset_redirect.is_none()
}

/// `GET /password/reset/default/`: the form that sets the new password, with labelled
/// fields; it needs the cookies a live reset link sets.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = super::PASSWORD_RESET_FORM,
    tag = "account",
    responses(
        (status = 200, description = "The built-in form that sets the new password.",
            content_type = "text/html"),
        (status = 404, description = "`PASSWORD_RESET_REDIRECT` is set.", body = Detail),
    ),
))]
pub(crate) async fn reset_form<A>(State(state): State<AuthState<A>>) -> Response
where
    A: AccountFlows + 'static,
{
    if !served(&state) {
        return ApiError::NotFound.into_response();
    }
    let body = format!(
        "<p>Choose a new password. Every device signed in to your account will be signed \
         out.</p>\n\
         <form id=\"reset\" method=\"post\" action=\"#\">\n\
         <p><label for=\"new_password1\">New password</label><br>\n\
         <input id=\"new_password1\" name=\"new_password1\" type=\"password\" \
         autocomplete=\"new-password\" required minlength=\"8\" maxlength=\"128\"></p>\n\
         <p><label for=\"new_password2\">New password again</label><br>\n\
         <input id=\"new_password2\" name=\"new_password2\" type=\"password\" \
         autocomplete=\"new-password\" required minlength=\"8\" maxlength=\"128\"></p>\n\
         <p><button type=\"submit\">Set the new password</button></p>\n\
         <p id=\"status\" role=\"status\" aria-live=\"polite\"></p>\n\
         </form>\n\
         <noscript><p>This page needs JavaScript to send the form.</p></noscript>\n\
         <script>{FORM_SCRIPT}</script>"
    );
    let mut response = page(StatusCode::OK, "Set a new password", &body);
    if let Ok(csp) = HeaderValue::from_str(&FORM_CSP) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// `GET /password/reset/complete/`: the page after a successful reset.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = super::PASSWORD_RESET_COMPLETE,
    tag = "account",
    responses(
        (status = 200, description = "The page after a successful reset.",
            content_type = "text/html"),
        (status = 404, description = "`PASSWORD_RESET_REDIRECT` is set.", body = Detail),
    ),
))]
pub(crate) async fn reset_complete<A>(State(state): State<AuthState<A>>) -> Response
where
    A: AccountFlows + 'static,
{
    if !served(&state) {
        return ApiError::NotFound.into_response();
    }
    page(
        StatusCode::OK,
        "Password reset",
        "<p>Your password has been set. You are signed in on this device and signed out \
         everywhere else.</p>",
    )
}
