//! Issue 12: sign-up and e-mail verification, in process: the three verification modes,
//! a taken address answered like a fresh one under `mandatory`, the verification link
//! (GET shows, POST confirms), `verify-email/`, `resend-verification/`, login's
//! `email_not_verified`, the field errors and the rate limit.
#![allow(clippy::unwrap_used)]

mod inprocess;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use jwt_allauth_axum::account_settings::{EmailVerification, RateLimit, Registration};
use jwt_allauth_server::config::Config;
use jwt_allauth_server::passwords::Passwords;
use jwt_allauth_server::users::NewUser;
use jwt_allauth_server::{AppState, app};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

use inprocess::{call, event_log, state_with};

const ADA: &str = "ada@example.com";
const PASSWORD: &str = "plum-kettle orbit 42";

async fn state(change: impl FnOnce(&mut Config)) -> AppState {
    state_with(
        |config| {
            config.accounts.public_url = Some("https://auth.example.com".to_owned());
            change(config);
        },
        Passwords::with_permits(2),
    )
    .await
}

fn post(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn sign_up(email: &str, password: &str) -> Request<Body> {
    post(
        "/registration/",
        json!({"email": email, "password1": password, "password2": password,
               "first_name": " Ada ", "last_name": "O'Brien-Łukasiewicz"}),
    )
}

fn login(email: &str, password: &str) -> Request<Body> {
    post("/login/", json!({"email": email, "password": password}))
}

/// The mails queued so far (subject, text), waiting up to 5 s for `count`, then 200 ms
/// more so that one too many would show.
async fn mails(state: &AppState, count: usize) -> Vec<(String, String)> {
    for _ in 0..250 {
        if state.outbox.queued().await.unwrap().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut claimed = state
        .outbox
        .claim(OffsetDateTime::now_utc(), Duration::from_secs(1), 100)
        .await
        .unwrap();
    claimed.sort_by_key(|mail| mail.id);
    // Give them back for the next look.
    for mail in &claimed {
        state
            .outbox
            .retry_at(mail.id, OffsetDateTime::now_utc(), "test")
            .await
            .unwrap();
    }
    claimed
        .into_iter()
        .map(|mail| (mail.subject, mail.text))
        .collect()
}

/// The verification path (`/registration/verification/<key>/`) in a mail's text.
fn verification_path(text: &str) -> String {
    let start = text.find("/registration/verification/").unwrap();
    text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

async fn raw(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

/// What an observer sees of an answer: status, headers but `date`, body.
fn observed(answer: (StatusCode, HeaderMap, Value)) -> (StatusCode, Vec<(String, String)>, Value) {
    let (status, headers, body) = answer;
    let mut headers: Vec<_> = headers
        .iter()
        .filter(|(name, _)| *name != header::DATE)
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (status, headers, body)
}

#[tokio::test]
async fn mandatory_sign_up_verify_then_log_in() {
    let state = state(|_| {}).await;
    let router = app(state.clone()).await;
    let (status, headers, body) = call(&router, sign_up(ADA, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body, json!({"detail": "Verification e-mail sent."}));
    assert!(headers.get(header::SET_COOKIE).is_none());

    let queued = mails(&state, 1).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].0, "Welcome!");
    assert!(
        queued[0]
            .1
            .contains("https://auth.example.com/registration/verification/")
    );
    let path = verification_path(&queued[0].1);
    let user = state.users.find_by_email(ADA).await.unwrap().unwrap();
    assert!(!user.email_verified);
    assert_eq!(user.first_name, "Ada");
    assert_eq!(user.last_name, "O'Brien-Łukasiewicz");

    // Not verified yet: the right password is 401 email_not_verified.
    let (status, _, body) = call(&router, login(ADA, PASSWORD)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"detail": "User email is not verified", "code": "email_not_verified"})
    );

    // GET confirms nothing: a page whose form posts back, allowed to run its one script.
    for _ in 0..2 {
        let (status, headers, page) = raw(&router, get(&path)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("<form id=\"confirm\" method=\"post\">"),
            "{page}"
        );
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
    }
    assert!(
        !state
            .users
            .find_by_email(ADA)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );

    // POST confirms, then leads to the built-in page.
    let (status, headers, _) =
        raw(&router, Request::post(&path).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        headers[header::LOCATION],
        "https://auth.example.com/registration/verified/"
    );
    assert!(
        state
            .users
            .find_by_email(ADA)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    let (status, _, page) = raw(&router, get("/registration/verified/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your e-mail address is confirmed."));
    assert_eq!(call(&router, login(ADA, PASSWORD)).await.0, StatusCode::OK);

    // Used: the link says so (HTML, or JSON 404 when asked), and verify-email/ too.
    let (status, _, page) = raw(&router, Request::post(&path).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("invalid or has expired"), "{page}");
    let key = path
        .trim_start_matches("/registration/verification/")
        .trim_end_matches('/');
    let (status, _, body) = call(
        &router,
        post("/registration/verify-email/", json!({"key": key})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"detail": "Not found."}));

    // The event log: the sign-up, the confirmation once (the used link changed nothing),
    // the login.
    assert_eq!(
        event_log(&state.db).await,
        ["user.registered", "user.email_verified", "session.created"]
    );
}

#[tokio::test]
async fn a_taken_address_gets_the_same_answer_and_its_owner_a_mail() {
    let state = state(|_| {}).await;
    let mut owner = NewUser::new(ADA, "the owner's own password");
    owner.email_verified = true;
    state
        .users
        .create(&owner, OffsetDateTime::now_utc())
        .await
        .unwrap();
    let router = app(state.clone()).await;
    let taken = observed(call(&router, sign_up(ADA, PASSWORD)).await);
    let fresh = observed(call(&router, sign_up("bob@example.com", PASSWORD)).await);
    assert_eq!(taken, fresh);
    let queued = mails(&state, 2).await;
    let subjects: Vec<&str> = queued.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(queued.len(), 2, "{subjects:?}");
    assert!(
        subjects.contains(&"You already have an account"),
        "{subjects:?}"
    );
    assert!(subjects.contains(&"Welcome!"), "{subjects:?}");
    // The owner's account is untouched.
    assert_eq!(
        call(&router, login(ADA, "the owner's own password"))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_second_sign_up_replaces_an_unverified_one_and_kills_its_link() {
    let state = state(|_| {}).await;
    let router = app(state.clone()).await;
    call(&router, sign_up(ADA, PASSWORD)).await;
    let first = verification_path(&mails(&state, 1).await[0].1);
    call(&router, sign_up(ADA, "a second plum-kettle orbit")).await;
    let queued = mails(&state, 2).await;
    assert_eq!(queued.len(), 2);
    let second = verification_path(&queued[1].1);
    let (status, _, _) = raw(&router, Request::post(&first).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the first link died");
    let (status, _, _) = raw(&router, Request::post(&second).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        call(&router, login(ADA, "a second plum-kettle orbit"))
            .await
            .0,
        StatusCode::OK
    );
    // Each sign-up is an account created, the dead link no confirmation.
    assert_eq!(
        event_log(&state.db).await,
        [
            "user.registered",
            "user.registered",
            "user.email_verified",
            "session.created"
        ]
    );
    assert_eq!(
        call(&router, login(ADA, PASSWORD)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

fn claims(access: &str) -> Value {
    let payload = access.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn optional_and_none_open_a_session_at_once() {
    // optional: a session, email_verified false until confirmed, then true at the next
    // refresh; a taken address is 400.
    let state_optional = state(|config| {
        config.accounts.email_verification = EmailVerification::Optional;
        config.http.refresh_token_as_cookie = false;
    })
    .await;
    let router = app(state_optional.clone()).await;
    let (status, _, body) = call(&router, sign_up(ADA, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        claims(body["access"].as_str().unwrap())["email_verified"],
        false
    );
    let refresh = body["refresh"].as_str().unwrap().to_owned();
    let queued = mails(&state_optional, 1).await;
    assert_eq!(queued[0].0, "Welcome!");
    let path = verification_path(&queued[0].1);
    assert_eq!(
        raw(&router, Request::post(&path).body(Body::empty()).unwrap())
            .await
            .0,
        StatusCode::FOUND
    );
    let (status, _, body) = call(&router, post("/refresh/", json!({"refresh": refresh}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims(body["access"].as_str().unwrap())["email_verified"],
        true
    );
    let (status, _, body) = call(&router, sign_up(ADA, PASSWORD)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"email": ["A user is already registered with this e-mail address."]})
    );

    // none: a session, the address verified, no mail.
    let state_none = state(|config| {
        config.accounts.email_verification = EmailVerification::None;
    })
    .await;
    let router = app(state_none.clone()).await;
    let (status, headers, body) = call(&router, sign_up(ADA, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        claims(body["access"].as_str().unwrap())["email_verified"],
        true
    );
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("refresh_token=")
    );
    assert!(mails(&state_none, 1).await.is_empty());
}

#[tokio::test]
async fn sign_up_field_errors() {
    let state = state(|_| {}).await;
    let router = app(state.clone()).await;
    let required = json!(["This field is required."]);
    let (status, _, body) = call(&router, post("/registration/", json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"email": required, "password1": required, "password2": required})
    );
    let (_, _, body) = call(&router, sign_up("not-an-address", PASSWORD)).await;
    assert_eq!(body, json!({"email": ["Enter a valid email address."]}));
    let (_, _, body) = call(&router, sign_up(ADA, "12345678")).await;
    assert_eq!(
        body,
        json!({"password1": ["This password is too common.", "This password is entirely numeric."]})
    );
    let (_, _, body) = call(
        &router,
        post(
            "/registration/",
            json!({"email": ADA, "password1": PASSWORD, "password2": "another"}),
        ),
    )
    .await;
    assert_eq!(
        body,
        json!({"non_field_errors": ["The two password fields didn't match."]})
    );
    // A mismatch is reported only once every field is valid.
    let (_, _, body) = call(
        &router,
        post(
            "/registration/",
            json!({"email": "bad", "password1": PASSWORD, "password2": "another"}),
        ),
    )
    .await;
    assert_eq!(body, json!({"email": ["Enter a valid email address."]}));
    assert!(state.users.find_by_email(ADA).await.unwrap().is_none());
    assert!(mails(&state, 1).await.is_empty());
}

#[tokio::test]
async fn closed_registration_and_the_sign_up_rate_limit() {
    let closed = state(|config| config.accounts.registration = Registration::Closed).await;
    let router = app(closed).await;
    assert_eq!(
        call(&router, sign_up(ADA, PASSWORD)).await.0,
        StatusCode::NOT_FOUND
    );

    let limited = state(|config| {
        config.accounts.signups_per_ip = Some(RateLimit::new(2, Duration::from_secs(3600)));
    })
    .await;
    let router = app(limited).await;
    for n in 0..2 {
        let email = format!("user{n}@example.com");
        assert_eq!(
            call(&router, sign_up(&email, PASSWORD)).await.0,
            StatusCode::CREATED
        );
    }
    let (status, headers, body) = call(&router, sign_up("user9@example.com", PASSWORD)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "throttled");
    assert!(headers.get(header::RETRY_AFTER).is_some());
}

#[tokio::test]
async fn resend_verification_sends_a_new_link_only_to_an_unverified_account() {
    let state = state(|_| {}).await;
    let mut verified = NewUser::new("bob@example.com", PASSWORD);
    verified.email_verified = true;
    state
        .users
        .create(&verified, OffsetDateTime::now_utc())
        .await
        .unwrap();
    let router = app(state.clone()).await;
    call(&router, sign_up(ADA, PASSWORD)).await;
    let first = verification_path(&mails(&state, 1).await[0].1);
    for email in [ADA, "bob@example.com", "nobody@example.com"] {
        let (status, _, body) = call(
            &router,
            post(
                "/registration/resend-verification/",
                json!({"email": email}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"detail": "Verification e-mail sent."}));
    }
    let queued = mails(&state, 2).await;
    assert_eq!(queued.len(), 2, "one new mail, for Ada only");
    let second = verification_path(&queued[1].1);
    assert_ne!(first, second);
    assert_eq!(
        raw(&router, Request::post(&first).body(Body::empty()).unwrap())
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // The JSON route confirms the new key.
    let key = second
        .trim_start_matches("/registration/verification/")
        .trim_end_matches('/');
    let (status, _, body) = call(
        &router,
        post("/registration/verify-email/", json!({"key": key})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"detail": "E-mail verified."}));
}
