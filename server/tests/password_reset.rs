//! Issue 12: `POST /password/reset/`, in process: one answer whether or not the account
//! exists, the reset link stored with its mail in the outbox, the rate limits.
#![allow(clippy::unwrap_used)]

mod inprocess;

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_allauth_server::mail::ClaimedMail;
use jwt_allauth_server::passwords::Passwords;
use jwt_allauth_server::users::NewUser;
use jwt_allauth_server::{AppState, app};
use serde_json::{Value, json};
use time::OffsetDateTime;

use inprocess::{call, state_with};

const ADA: &str = "ada@example.com";

fn reset(email: &str) -> Request<Body> {
    Request::post("/password/reset/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "email": email }).to_string()))
        .unwrap()
}

async fn state() -> AppState {
    state_with(
        |config| {
            config.accounts.public_url = Some("https://auth.example.com".to_owned());
        },
        Passwords::with_permits(2),
    )
    .await
}

async fn ada(state: &AppState) -> i64 {
    let mut new = NewUser::new(ADA, "correct horse battery");
    new.first_name = "Ada".to_owned();
    state
        .users
        .create(&new, OffsetDateTime::now_utc())
        .await
        .unwrap()
        .id
}

/// The mails queued so far, waiting up to 5 s for `count` of them (the mail work runs
/// after the answer).
async fn queued(state: &AppState, count: usize) -> Vec<ClaimedMail> {
    for _ in 0..250 {
        if state.outbox.queued().await.unwrap().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    state
        .outbox
        .claim(OffsetDateTime::now_utc(), Duration::from_secs(60), 100)
        .await
        .unwrap()
}

/// How many mails are queued once `expected` are (or 5 s passed), and 200 ms later, so
/// that a mail too many would show.
async fn settled_count(state: &AppState, expected: usize) -> usize {
    for _ in 0..250 {
        if state.outbox.queued().await.unwrap().len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    state.outbox.queued().await.unwrap().len()
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
async fn a_reset_request_queues_one_mail_with_a_working_link() {
    let state = state().await;
    let id = ada(&state).await;
    let router = app(state.clone()).await;

    let (status, _, body) = call(&router, reset("ADA@example.com ")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"detail": "Password reset e-mail has been sent."})
    );

    let mails = queued(&state, 1).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.subject, "Password reset");
    assert!(mail.recipient.contains(ADA), "{}", mail.recipient);
    let uid = URL_SAFE_NO_PAD.encode(id.to_string());
    let prefix = format!("https://auth.example.com/password/reset/confirm/{uid}/");
    let start = mail.text.find(&prefix).expect("the link in the text part");
    let token: String = mail.text[start + prefix.len()..]
        .chars()
        .take_while(|c| *c != '/')
        .collect();
    assert!(token.len() >= 43, "{token}");
    assert!(mail.html.contains(&format!("{prefix}{token}/")));
    // The token in the link is the stored reset token, for this user, once.
    let manager = state.manager();
    let now = OffsetDateTime::now_utc();
    let consumed = manager
        .consume_purpose_token(&id.to_string(), "password_reset", &token, now)
        .await
        .unwrap();
    assert!(consumed.is_some());
    assert!(
        manager
            .consume_purpose_token(&id.to_string(), "password_reset", &token, now)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_known_and_an_unknown_address_get_the_same_answer_and_only_one_gets_mail() {
    let state = state().await;
    ada(&state).await;
    let router = app(state.clone()).await;
    let known = observed(call(&router, reset(ADA)).await);
    let unknown = observed(call(&router, reset("nobody@example.com")).await);
    assert_eq!(known, unknown);
    // Give a mail for the unknown address a chance to appear: it must not.
    assert_eq!(settled_count(&state, 1).await, 1);

    // An inactive account gets no mail either.
    let id = state.users.find_by_email(ADA).await.unwrap().unwrap().id;
    state.users.set_active(id, false).await.unwrap();
    assert_eq!(observed(call(&router, reset(ADA)).await), unknown);
    assert_eq!(settled_count(&state, 2).await, 1, "no second mail");
}

#[tokio::test]
async fn malformed_requests_are_400_field_errors() {
    let state = state().await;
    let router = app(state).await;
    let (status, _, body) = call(&router, reset("not-an-address")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"email": ["Enter a valid email address."]}));
    let request = Request::post("/password/reset/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("other=1"))
        .unwrap();
    let (status, _, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"email": ["This field is required."]}));
}

#[tokio::test]
async fn rate_limits_per_address_and_mails_per_address() {
    let state = state().await;
    ada(&state).await;
    let router = app(state.clone()).await;
    // RESET_REQUESTS_PER_ADDRESS: 5 per minute, then 429 with Retry-After.
    for _ in 0..5 {
        assert_eq!(call(&router, reset(ADA)).await.0, StatusCode::OK);
    }
    let (status, headers, body) = call(&router, reset("Ada@Example.com")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body,
        json!({
            "detail": "Too many password reset requests for this e-mail address.",
            "code": "throttled"
        })
    );
    let wait: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // MAILS_PER_ADDRESS: 3 per 15 minutes; the 4th and 5th answers were the same, but
    // only 3 mails went out.
    assert_eq!(settled_count(&state, 3).await, 3);
}
