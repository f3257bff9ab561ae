//! `GET /account/`: the account-security page, where people sign in, see every device
//! they are signed in on, end the ones they do not recognise, sign out of the other
//! devices or everywhere, and change their password.
//!
//! The page is rendered on the server with the mail's template engine (minijinja, from
//! `server/templates/pages/account.html`) once, when the application is built. It loads
//! nothing from elsewhere: its style sheet and its one script are inline and allowed by
//! their SHA-256 in a strict Content-Security-Policy ([`AccountPage::csp`]); it connects
//! to this origin only, is framed by nobody and posts forms nowhere.
//!
//! The script holds no credential the page could leak: it signs in through the refresh
//! cookie (`POST /refresh/`, `HttpOnly`, so the script never reads it), keeps the access
//! token in memory only, and does everything through the JSON API of the same origin, so
//! every rule of the API (the login throttle, the CSRF check of the cookie routes, the
//! new sign-in mail) applies to the page unchanged. A cross-site page can neither read
//! the access token nor make the API act with the cookie alone.
//!
//! The page is served in cookie mode (`REFRESH_TOKEN_AS_COOKIE`, the default): without
//! the cookie it cannot keep anyone signed in, and `/account/` answers 404.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use base64::Engine;
use minijinja::{Environment, context};
use sha2::{Digest, Sha256};

/// The path of the page.
pub const ACCOUNT_PAGE_PATH: &str = "/account/";

/// The page's template.
const TEMPLATE: &str = include_str!("../templates/pages/account.html");
/// The page's script, inline.
const SCRIPT: &str = include_str!("../templates/pages/account.js");
/// The page's style sheet, inline.
const STYLE: &str = include_str!("../templates/pages/account.css");

/// Why the page could not be built (a broken built-in template: a bug the tests catch).
#[derive(Debug, thiserror::Error)]
pub enum AccountPageError {
    /// The template does not render.
    #[error("the account page template is invalid")]
    Template(#[source] minijinja::Error),
    /// The policy is not a header value.
    #[error("the account page's Content-Security-Policy is not a header value")]
    Policy(#[source] axum::http::header::InvalidHeaderValue),
}

/// The rendered page and its headers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AccountPage {
    html: Arc<str>,
    csp: HeaderValue,
}

impl AccountPage {
    /// Renders the page.
    pub fn render() -> Result<Self, AccountPageError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template("account.html", TEMPLATE)
            .map_err(AccountPageError::Template)?;
        let html = env
            .get_template("account.html")
            .and_then(|template| template.render(context! { script => SCRIPT, style => STYLE }))
            .map_err(AccountPageError::Template)?;
        let csp = HeaderValue::from_str(&Self::policy()).map_err(AccountPageError::Policy)?;
        Ok(Self {
            html: html.into(),
            csp,
        })
    }

    /// The Content-Security-Policy of the page: nothing loads, nothing frames it, forms
    /// post nowhere; only its own script and style sheet run (by their SHA-256), and
    /// requests go to this origin only.
    pub fn csp(&self) -> &HeaderValue {
        &self.csp
    }

    /// The page's HTML.
    pub fn html(&self) -> &str {
        &self.html
    }

    fn policy() -> String {
        let hash = |text: &str| {
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
        };
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            hash(SCRIPT),
            hash(STYLE),
        )
    }

    /// The route: `GET /account/`, or nothing when `served` is false (body mode).
    pub fn router<S>(self, served: bool) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        if !served {
            return Router::new();
        }
        Router::new().route(ACCOUNT_PAGE_PATH, get(move || page(self.clone())))
    }
}

/// The OpenAPI path of `/account/`, to merge into the server's document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(page))]
    struct AccountPageApi;
    <AccountPageApi as utoipa::OpenApi>::openapi()
}

/// The account-security page.
///
/// HTML: sign in (or sign up, or ask for a reset link); the sessions of the account with
/// browser, OS, device, IP, created, last used and "this device"; end one, sign out of
/// the other devices, sign out everywhere, change the password, sign out. Its script
/// does all of it through this API, signed in by the refresh cookie. Served with its
/// Content-Security-Policy, `Cache-Control: no-store` and `Referrer-Policy: no-referrer`.
#[utoipa::path(
    get,
    path = "/account/",
    tag = "account",
    responses(
        (status = 200, description = "The account page (served in cookie mode only: \
            `REFRESH_TOKEN_AS_COOKIE`), with a strict Content-Security-Policy.",
            content_type = "text/html"),
        (status = 404, description = "Body mode: the page needs the refresh cookie \
            (`{\"detail\":\"Not found.\"}`).", body = jwt_allauth_axum::Detail),
    ),
)]
async fn page(page: AccountPage) -> Response {
    jwt_allauth_axum::html_page(StatusCode::OK, page.html.to_string(), page.csp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_its_script_and_style_verbatim() {
        let page = AccountPage::render().expect("the built-in template renders");
        let html = page.html();
        assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
        let csp = page.csp().to_str().expect("ascii");
        assert!(csp.starts_with("default-src 'none'; script-src 'sha256-"));
        assert!(!csp.contains("unsafe"));
    }
}
