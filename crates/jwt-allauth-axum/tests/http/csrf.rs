//! The CSRF check of `/refresh/` and `/logout/` in cookie mode.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

const HOST: &str = "api.example.com";
const TRUSTED: &str = "https://app.example.com";

fn csrf_failed() -> Value {
    json!({"detail": "CSRF check failed: cross-site request.", "code": "csrf_failed"})
}

async fn app() -> TestApp {
    TestApp::with(|settings| settings.http.csrf_trusted_origins = vec![TRUSTED.to_owned()]).await
}

/// `POST /refresh/` with the cookie, the `Host` header and `headers`.
async fn refresh(app: &TestApp, refresh: &str, headers: &[(&str, &str)]) -> Resp {
    let mut request = app.with_refresh(Req::post("/refresh/").header("host", HOST), refresh);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    app.send(request).await
}

/// `POST /logout/` with the cookie, the `Host` header and `headers`.
async fn logout(app: &TestApp, tokens: &Tokens, headers: &[(&str, &str)]) -> Resp {
    let mut request = app.with_refresh(
        Req::post("/logout/")
            .header("host", HOST)
            .bearer(&tokens.access),
        &tokens.refresh,
    );
    for (name, value) in headers {
        request = request.header(name, value);
    }
    app.send(request).await
}

#[tokio::test]
async fn allowed_requests_rotate_and_log_out() {
    let app = app().await;
    let cases: &[&[(&str, &str)]] = &[
        // curl, mobile apps, servers: neither header.
        &[],
        // Same origin, whatever the scheme.
        &[("origin", "https://api.example.com")],
        &[("origin", "http://api.example.com")],
        &[
            ("origin", "https://api.example.com"),
            ("sec-fetch-site", "same-origin"),
        ],
        &[("sec-fetch-site", "same-origin")],
        &[("sec-fetch-site", "same-site")],
        &[("sec-fetch-site", "none")],
        // A trusted origin, cross-site or not.
        &[("origin", TRUSTED)],
        &[("origin", TRUSTED), ("sec-fetch-site", "cross-site")],
        &[("origin", TRUSTED), ("sec-fetch-site", "same-site")],
    ];
    for headers in cases {
        let tokens = app.login(ALICE, ALICE_PASSWORD).await;
        let response = refresh(&app, &tokens.refresh, headers).await;
        assert_eq!(response.status, StatusCode::OK, "{headers:?}");
        let rotated = Tokens::from_response(&response);
        let response = logout(&app, &rotated, headers).await;
        response.assert(
            StatusCode::OK,
            json!({"detail": "Successfully logged out."}),
        );
        assert_eq!(app.session_count("1").await, 0, "{headers:?}");
    }
}

#[tokio::test]
async fn cross_site_requests_are_refused_and_change_nothing() {
    let app = app().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    let cases: &[&[(&str, &str)]] = &[
        &[("sec-fetch-site", "cross-site")],
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        // Cross-site wins over an Origin that looks like our own.
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://api.example.com"),
        ],
        &[("origin", "https://evil.example")],
        &[("origin", "https://api.example.com:8443")],
        &[("origin", "https://app.example.com.evil.example")],
        &[("origin", "null")],
        &[("origin", "null"), ("sec-fetch-site", "cross-site")],
        // A sibling of the same site is not the API's own origin.
        &[
            ("origin", "https://other.example.com"),
            ("sec-fetch-site", "same-site"),
        ],
    ];
    for headers in cases {
        let response = refresh(&app, &tokens.refresh, headers).await;
        response.assert(StatusCode::FORBIDDEN, csrf_failed());
        assert!(response.set_cookies().is_empty(), "{headers:?}");
        let response = logout(&app, &tokens, headers).await;
        response.assert(StatusCode::FORBIDDEN, csrf_failed());
        assert!(response.set_cookies().is_empty(), "{headers:?}");
    }
    // The session is alive and its refresh token was never rotated.
    assert_eq!(app.session_count("1").await, 1);
    assert_eq!(
        refresh(&app, &tokens.refresh, &[]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_trusted_origins_only_the_own_origin_passes() {
    let app = TestApp::new().await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    refresh(&app, &tokens.refresh, &[("origin", TRUSTED)])
        .await
        .assert(StatusCode::FORBIDDEN, csrf_failed());
    assert_eq!(
        refresh(
            &app,
            &tokens.refresh,
            &[("origin", "https://api.example.com")]
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn no_cookie_is_still_a_missing_field_not_a_csrf_failure() {
    let app = app().await;
    let response = app
        .send(
            Req::post("/refresh/")
                .header("host", HOST)
                .header("sec-fetch-site", "cross-site"),
        )
        .await;
    response.assert(
        StatusCode::BAD_REQUEST,
        json!({"refresh": ["This field is required."]}),
    );
}

#[tokio::test]
async fn body_mode_is_not_checked() {
    let app = TestApp::with(|settings| settings.http.refresh_token_as_cookie = false).await;
    let tokens = app.login(ALICE, ALICE_PASSWORD).await;
    let cross_site = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ];
    let response = refresh(&app, &tokens.refresh, &cross_site).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let rotated = Tokens::from_response(&response);
    logout(&app, &rotated, &cross_site).await.assert(
        StatusCode::OK,
        json!({"detail": "Successfully logged out."}),
    );
    assert_eq!(app.session_count("1").await, 0);
}
