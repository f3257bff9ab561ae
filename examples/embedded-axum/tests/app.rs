//! The example application, driven through `tower::ServiceExt::oneshot`.

#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use jwt_allauth::Secret;
use jwt_allauth_example_embedded::{Accounts, AppState, DEMO_STAFF, DEMO_USER, app};
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &str = "the secret of the embedded example's tests, 32+ bytes";

async fn state_with(body_mode: bool) -> (AppState, Accounts) {
    let (settings, mut http) = jwt_allauth_example_embedded::local_settings(Secret::new(SECRET));
    http.collect_user_agent = false;
    http.refresh_token_as_cookie = !body_mode;
    let accounts = Accounts::seeded().await.unwrap();
    let state = AppState::new(
        settings,
        http,
        "sqlite::memory:",
        accounts.clone(),
        "test app",
    )
    .await
    .unwrap();
    (state, accounts)
}

async fn test_app() -> Router {
    app(state_with(false).await.0)
}

async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

async fn body_text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn body_json(response: Response<Body>) -> Value {
    serde_json::from_str(&body_text(response).await).unwrap()
}

fn post_json(uri: &str, body: &Value) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(uri: &str, access: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(access) = access {
        request = request.header(header::AUTHORIZATION, format!("Bearer {access}"));
    }
    request.body(Body::empty()).unwrap()
}

/// Logs in through `/auth/login/` and returns the whole response.
async fn login_response(app: &Router, (email, password): (&str, &str)) -> Response<Body> {
    let body = json!({ "email": email, "password": password });
    send(app, post_json("/auth/login/", &body)).await
}

/// Logs in and returns the access token.
async fn login(app: &Router, credentials: (&str, &str)) -> String {
    let response = login_response(app, credentials).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = body_json(response).await;
    body["access"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn login_sets_the_cookie_and_the_bearer_reaches_me() {
    let app = test_app().await;
    let response = login_response(&app, DEMO_USER).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("refresh_token="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(!cookie.contains("Secure"), "local HTTP: {cookie}");
    let body = body_json(response).await;
    assert!(body.get("refresh").is_none(), "cookie mode: {body}");
    let access = body["access"].as_str().unwrap();

    let response = send(&app, get("/me", Some(access))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_json(response).await,
        json!({ "user_id": "1", "role": 0 })
    );

    // The cookie alone rotates the session into a new access token.
    let refresh_cookie = cookie.split(';').next().unwrap();
    let response = send(
        &app,
        Request::post("/auth/refresh/")
            .header(header::COOKIE, refresh_cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let access = body_json(response).await["access"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = send(&app, get("/me", Some(&access))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn body_mode_returns_both_tokens() {
    let app = app(state_with(true).await.0);
    let response = login_response(&app, DEMO_STAFF).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let body = body_json(response).await;
    let refresh = body["refresh"].as_str().unwrap();

    let response = send(
        &app,
        post_json("/auth/refresh/", &json!({ "refresh": refresh })),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let access = body_json(response).await["access"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = send(&app, get("/me", Some(&access))).await;
    assert_eq!(
        body_json(response).await,
        json!({ "user_id": "2", "role": 1000 })
    );
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let app = test_app().await;
    let response = login_response(&app, (DEMO_USER.0, "not the password")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = login_response(&app, ("nobody@example.com", "whatever")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn profile_loads_the_full_user() {
    let (state, accounts) = state_with(false).await;
    let app = app(state);
    let access = login(&app, DEMO_USER).await;

    let response = send(&app, get("/profile", Some(&access))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = body_json(response).await;
    assert_eq!(body["id"], 1);
    assert_eq!(body["email"], DEMO_USER.0);
    assert_eq!(body["first_name"], "Alice");
    assert_eq!(body["is_staff"], false);
    assert_eq!(body["app"], "test app");
    assert!(body["session"].is_string(), "{body}");

    // The token is still valid, but the user it names may no longer log in.
    assert!(accounts.set_active(1, false));
    let response = send(&app, get("/profile", Some(&access))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_is_for_staff_only() {
    let app = test_app().await;
    let user = login(&app, DEMO_USER).await;
    let staff = login(&app, DEMO_STAFF).await;

    let response = send(&app, get("/admin", Some(&user))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body_json(response).await,
        json!({ "detail": "You do not have permission to perform this action." })
    );

    let response = send(&app, get("/admin", Some(&staff))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_text(response).await,
        "welcome to the test app admin, user 2"
    );

    let response = send(&app, get("/admin", None)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn hello_greets_guests_and_users() {
    let app = test_app().await;
    let response = send(&app, get("/hello", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "hello, guest");

    let access = login(&app, DEMO_USER).await;
    let response = send(&app, get("/hello", Some(&access))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "hello, user 1");

    // Credentials that are present and wrong are refused, even on an open route.
    let response = send(&app, get("/hello", Some("not-a-token"))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn me_without_a_token_is_401_with_www_authenticate() {
    let app = test_app().await;
    let response = send(&app, get("/me", None)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
        "Bearer realm=\"api\""
    );
}

/// The example's loader puts each `JWT_ALLAUTH_*` variable in the group that owns it,
/// ignores the rest, and names the setting of a bad value.
#[test]
fn environment_variables_reach_their_group() {
    let (mut settings, mut http) =
        jwt_allauth_example_embedded::local_settings(Secret::new(SECRET));
    let vars = [
        ("JWT_ALLAUTH_ACCESS_TOKEN_LIFETIME", "5m"),
        ("JWT_ALLAUTH_COOKIE_NAME", "rt"),
        ("JWT_ALLAUTH_NOT_A_SETTING", "x"),
        ("HOME", "/root"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    jwt_allauth_example_embedded::apply_env_vars(&mut settings, &mut http, vars).unwrap();
    assert_eq!(settings.access_token_lifetime.as_secs(), 300);
    assert_eq!(http.cookie_name, "rt");
    let bad = [(
        "JWT_ALLAUTH_COOKIE_SAMESITE".to_owned(),
        "sometimes".to_owned(),
    )];
    let err =
        jwt_allauth_example_embedded::apply_env_vars(&mut settings, &mut http, bad).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid value for COOKIE_SAMESITE: "),
        "{err}"
    );
}
