//! The extractors in an application's own state and handlers.

use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::get;
use jwt_allauth::claims::ROLE_STAFF;
use jwt_allauth::{Algorithm, KeyRing, TokenCodec};
use jwt_allauth_axum::{ApiError, AuthUser, Authenticator, LoadUser, RequireRole, UserLoader};
use serde_json::json;

use crate::common::*;

/// An application's own state, embedding the auth state.
#[derive(Clone)]
struct AppState {
    auth: State,
    greeting: &'static str,
}

impl FromRef<AppState> for State {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.auth.authenticator()
    }
}

impl FromRef<AppState> for UserLoader<TestUser> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.user_loader()
    }
}

async fn me(user: AuthUser) -> String {
    format!("user {}", user.user_id())
}

async fn maybe(
    axum::extract::State(state): axum::extract::State<AppState>,
    user: Option<AuthUser>,
) -> String {
    match user {
        Some(user) => format!("{} user {}", state.greeting, user.user_id()),
        None => format!("{} stranger", state.greeting),
    }
}

async fn profile(user: LoadUser<TestUser>) -> String {
    format!("{} ({})", user.email, user.auth.role())
}

async fn staff(RequireRole(user): RequireRole<ROLE_STAFF>) -> String {
    format!("staff {}", user.user_id())
}

async fn admins_or_users(user: AuthUser) -> Result<&'static str, ApiError> {
    user.require_any_role(&[0, 900])?;
    Ok("allowed")
}

async fn app() -> (TestApp, Router) {
    let test = TestApp::new().await;
    let state = AppState {
        auth: test.state.clone(),
        greeting: "hello",
    };
    let router = Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/profile", get(profile))
        .route("/staff", get(staff))
        .route("/roles", get(admins_or_users))
        .merge(jwt_allauth_axum::router::<_, AppState>())
        .with_state(state);
    (test, router)
}

#[tokio::test]
async fn auth_user_and_optional_auth_user() {
    let (test, router) = app().await;
    let tokens = test.login(ALICE, ALICE_PASSWORD).await;
    let response = send(&router, Req::get("/me").bearer(&tokens.access)).await;
    assert_eq!(response.text(), "user 1");
    assert_eq!(
        send(&router, Req::get("/me")).await.status,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        send(&router, Req::get("/maybe")).await.text(),
        "hello stranger"
    );
    let other_scheme = Req::get("/maybe").header("authorization", "Basic YTpi");
    assert_eq!(send(&router, other_scheme).await.text(), "hello stranger");
    let response = send(&router, Req::get("/maybe").bearer(&tokens.access)).await;
    assert_eq!(response.text(), "hello user 1");
    // Credentials that are present but wrong are still rejected.
    let response = send(&router, Req::get("/maybe").bearer("garbage")).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    let response = send(
        &router,
        Req::get("/maybe").header("authorization", "Bearer"),
    )
    .await;
    assert_eq!(response.json()["code"], "bad_authorization_header");

    // The library's routes work in the embedding state too.
    let response = send(&router, Req::get("/whoami/").bearer(&tokens.access)).await;
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn load_user_loads_the_active_user() {
    let (test, router) = app().await;
    let tokens = test.login(ALICE, ALICE_PASSWORD).await;
    let response = send(&router, Req::get("/profile").bearer(&tokens.access)).await;
    assert_eq!(response.text(), format!("{ALICE} (0)"));

    test.accounts.remove(1);
    send(&router, Req::get("/profile").bearer(&tokens.access))
        .await
        .assert(
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Token is invalid or expired", "code": "token_not_valid"}),
        );
    assert_eq!(test.session_count("1").await, 0);
}

#[tokio::test]
async fn role_guards() {
    let (test, router) = app().await;
    let alice = test.login(ALICE, ALICE_PASSWORD).await;
    let bob = test.login(BOB, BOB_PASSWORD).await;
    let forbidden = json!({"detail": "You do not have permission to perform this action."});

    send(&router, Req::get("/staff").bearer(&alice.access))
        .await
        .assert(StatusCode::FORBIDDEN, forbidden.clone());
    assert_eq!(
        send(&router, Req::get("/staff").bearer(&bob.access))
            .await
            .text(),
        "staff 2"
    );
    assert_eq!(
        send(&router, Req::get("/staff")).await.status,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        send(&router, Req::get("/roles").bearer(&alice.access))
            .await
            .text(),
        "allowed"
    );
    send(&router, Req::get("/roles").bearer(&bob.access))
        .await
        .assert(StatusCode::FORBIDDEN, forbidden);

    // A promotion applies from the next refresh on.
    test.accounts.update(1, |user| user.role = ROLE_STAFF);
    assert_eq!(
        send(&router, Req::get("/staff").bearer(&alice.access))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let refreshed = Tokens::from_response(&test.refresh(&alice.refresh).await);
    assert_eq!(
        send(&router, Req::get("/staff").bearer(&refreshed.access))
            .await
            .text(),
        "staff 1"
    );
}

/// A service that only verifies access tokens: the extractors over a key ring, with no
/// store, no user type and no `AuthState`.
#[tokio::test]
async fn a_verify_only_service_checks_tokens_with_no_store() {
    let test = TestApp::new().await;
    let alice = test.login(ALICE, ALICE_PASSWORD).await;
    let bob = test.login(BOB, BOB_PASSWORD).await;

    let verifier = |secret: &[u8]| {
        let keys = KeyRing::hmac(Algorithm::HS256, secret).unwrap();
        let codec = TokenCodec::new(keys, &settings());
        let now = test.state.clock().clone();
        Router::new()
            .route("/me", get(me))
            .route("/staff", get(staff))
            .with_state(Authenticator::verify_only(codec, now))
    };
    let service = verifier(SECRET.as_bytes());
    let response = send(&service, Req::get("/me").bearer(&alice.access)).await;
    assert_eq!(response.text(), "user 1");
    assert_eq!(
        send(&service, Req::get("/staff").bearer(&bob.access))
            .await
            .text(),
        "staff 2"
    );
    assert_eq!(
        send(&service, Req::get("/staff").bearer(&alice.access))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    send(&service, Req::get("/me").bearer(&alice.refresh))
        .await
        .assert(
            StatusCode::UNAUTHORIZED,
            json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
                "messages": [{
                    "token_class": "AccessToken",
                    "token_type": "access",
                    "message": "Token has wrong type",
                }],
            }),
        );
    assert_eq!(
        send(&service, Req::get("/me")).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Another service's secret verifies nothing of ours.
    let stranger = verifier(b"another secret, also 32 bytes or longer");
    assert_eq!(
        send(&stranger, Req::get("/me").bearer(&alice.access))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Time passes for the verifier too: the token expires.
    test.advance(31 * 60);
    assert_eq!(
        send(&service, Req::get("/me").bearer(&alice.access))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}
