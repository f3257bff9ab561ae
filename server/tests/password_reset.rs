//! Issue 12: `POST /password/reset/`, in process: one answer whether or not the account
//! exists, the reset link stored with its mail in the outbox, the rate limits.
#![allow(clippy::unwrap_used)]

mod inprocess;

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use jwt_allauth::tokens::ResetCapability;
use jwt_allauth::{GenericToken, TokenType};
use jwt_allauth_server::mail::ClaimedMail;
use jwt_allauth_server::passwords::Passwords;
use jwt_allauth_server::users::NewUser;
use jwt_allauth_server::{AppState, app};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

use inprocess::{call, event_log, state_with};

const ADA: &str = "ada@example.com";

fn reset(email: &str) -> Request<Body> {
    Request::post("/password/reset/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "email": email }).to_string()))
        .unwrap()
}

/// A Prometheus recorder for this test process, installed once (the counters of every
/// test of this binary add up in it).
fn recorder() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .unwrap()
    })
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
    state
        .users
        .set_active(id, false, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
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

/// Requests a reset for Ada and returns the link's path and token from the mail.
async fn reset_link(state: &AppState, router: &axum::Router) -> (String, String) {
    assert_eq!(call(router, reset(ADA)).await.0, StatusCode::OK);
    let mails = queued(state, 1).await;
    let text = &mails.last().unwrap().text;
    let start = text.find("/password/reset/confirm/").unwrap();
    let path: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let token = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    (path, token)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// Issue 12: the reset link's GET checks it without consuming it (a mail scanner burns
/// nothing), then redirects to the form with the capability and CSRF cookies; the
/// capability is bound to the link's token and is never an access token.
#[tokio::test]
async fn a_live_link_redirects_with_a_capability_and_burns_nothing() {
    let state = state().await;
    let id = ada(&state).await;
    let router = app(state.clone()).await;
    let (path, token) = reset_link(&state, &router).await;

    for _ in 0..2 {
        let (status, headers, _) = call(&router, get(&path)).await;
        assert_eq!(status, StatusCode::FOUND);
        assert_eq!(
            headers[header::LOCATION],
            "https://auth.example.com/password/reset/default/"
        );
        let set = cookies(&headers);
        assert_eq!(set.len(), 2, "{set:?}");
        let capability = set
            .iter()
            .find(|c| c.starts_with("password_reset_access_token="))
            .unwrap();
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(
                capability.contains(attribute),
                "{attribute} in {capability}"
            );
        }
        let csrf = set.iter().find(|c| c.starts_with("csrftoken=")).unwrap();
        assert!(!csrf.contains("HttpOnly"), "readable by the page: {csrf}");
        assert!(csrf.contains("SameSite=Lax"), "{csrf}");

        let value = capability
            .trim_start_matches("password_reset_access_token=")
            .split(';')
            .next()
            .unwrap();
        let now = OffsetDateTime::now_utc();
        let verified = ResetCapability::verify(state.manager().codec(), value, now).unwrap();
        assert_eq!(verified.user_id(), id.to_string());
        assert_eq!(verified.token_hash(), GenericToken::hash(&token));
        assert!(
            state
                .manager()
                .codec()
                .decode(value, TokenType::Access, now)
                .is_err()
        );
        let (status, _, _) = call(
            &router,
            Request::get("/whoami/")
                .header(header::AUTHORIZATION, format!("Bearer {value}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Still live: the user's own submission consumes it.
    assert!(
        state
            .manager()
            .consume_purpose_token(
                &id.to_string(),
                "password_reset",
                &token,
                OffsetDateTime::now_utc()
            )
            .await
            .unwrap()
            .is_some()
    );
    // Now used: the link says so.
    let response = router.clone().oneshot(get(&path)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(cookies(response.headers()).is_empty());
}

/// Issue 12: an unknown, malformed, used or replaced link answers 200 with a page saying
/// so, under a strict Content-Security-Policy, and sets no cookie.
#[tokio::test]
async fn a_dead_link_answers_the_invalid_link_page() {
    let state = state().await;
    ada(&state).await;
    let router = app(state.clone()).await;
    let (first, _) = reset_link(&state, &router).await;
    // A second request replaces the first link's token.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(call(&router, reset(ADA)).await.0, StatusCode::OK);
    assert_eq!(settled_count(&state, 2).await, 2);

    for path in [
        first.as_str(),
        "/password/reset/confirm/MQ/not-a-token/",
        "/password/reset/confirm/%%%/x/",
        "/password/reset/confirm/OTk5/x/",
    ] {
        let response = router.clone().oneshot(get(path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert!(cookies(&headers).is_empty(), "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            body.contains(
                "The password reset link was invalid, possibly because it has already been \
                 used. Please request a new password reset."
            ),
            "{body}"
        );
    }
}

/// Issue 12: with `PASSWORD_RESET_REDIRECT`, a live link leads there.
#[tokio::test]
async fn a_live_link_follows_password_reset_redirect() {
    let state = state_with(
        |config| {
            config.accounts.public_url = Some("https://auth.example.com".to_owned());
            config.accounts.password_reset_redirect =
                Some("https://app.example.com/reset".to_owned());
            config.http.cookie_secure = false;
        },
        Passwords::with_permits(2),
    )
    .await;
    ada(&state).await;
    let router = app(state.clone()).await;
    let (path, _) = reset_link(&state, &router).await;
    let (status, headers, _) = call(&router, get(&path)).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers[header::LOCATION], "https://app.example.com/reset");
    for cookie in cookies(&headers) {
        assert!(!cookie.contains("Secure"), "COOKIE_SECURE off: {cookie}");
    }
}

/// Opens the reset link and returns the `Cookie` header value holding the capability and
/// the CSRF token, and the CSRF token.
async fn open_link(router: &axum::Router, path: &str) -> (String, String) {
    let (status, headers, _) = call(router, get(path)).await;
    assert_eq!(status, StatusCode::FOUND);
    let pairs: Vec<String> = cookies(&headers)
        .iter()
        .map(|cookie| cookie.split(';').next().unwrap().to_owned())
        .collect();
    let csrf = pairs
        .iter()
        .find_map(|pair| pair.strip_prefix("csrftoken="))
        .unwrap()
        .to_owned();
    (pairs.join("; "), csrf)
}

fn set_new(cookie: &str, csrf: Option<&str>, new1: &str, new2: &str) -> Request<Body> {
    let mut request = Request::post("/password/reset/set-new/")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, cookie);
    if let Some(csrf) = csrf {
        request = request.header("X-CSRFToken", csrf);
    }
    request
        .body(Body::from(
            json!({"new_password1": new1, "new_password2": new2}).to_string(),
        ))
        .unwrap()
}

fn login(email: &str, password: &str) -> Request<Body> {
    Request::post("/login/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"email": email, "password": password}).to_string(),
        ))
        .unwrap()
}

const NEW_PASSWORD: &str = "a fresh plum-kettle orbit";

/// Issue 12: `set-new` in one go: the reset token consumed, the password set, every
/// earlier session ended, the address verified, one new session opened with the
/// refresh cookie, the capability cookie cleared, the "password changed" mail queued;
/// the same capability then fails.
#[tokio::test]
async fn set_new_resets_the_password_and_ends_every_session() {
    let metrics = recorder();
    let state = state().await;
    let id = ada(&state).await;
    let router = app(state.clone()).await;
    let (status, _, before) = call(&router, login(ADA, "correct horse battery")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(before["access"].is_string());
    let (path, _) = reset_link(&state, &router).await;
    let (cookie, csrf) = open_link(&router, &path).await;
    state
        .users
        .set_email_verified(id, false, time::OffsetDateTime::now_utc())
        .await
        .unwrap();

    let (status, headers, body) = call(
        &router,
        set_new(&cookie, Some(&csrf), NEW_PASSWORD, NEW_PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["detail"], "Password reset.");
    assert!(body["access"].is_string());
    let set = cookies(&headers);
    assert!(
        set.iter().any(|c| c.starts_with("refresh_token=")),
        "{set:?}"
    );
    let cleared = set
        .iter()
        .find(|c| c.starts_with("password_reset_access_token="))
        .unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // One session: the new one; the new password works, the old one does not.
    let sessions = state
        .manager()
        .list_sessions(&id.to_string())
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        call(&router, login(ADA, NEW_PASSWORD)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&router, login(ADA, "correct horse battery")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        state
            .users
            .find_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    let mails = queued(&state, 2).await;
    assert!(
        mails
            .iter()
            .any(|mail| mail.subject == "Your password was changed"),
        "{:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );

    // The capability is spent.
    let (status, _, body) = call(
        &router,
        set_new(
            &cookie,
            Some(&csrf),
            "another fresh orbit 9",
            "another fresh orbit 9",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
    );

    // The sessions the reset ended are counted by reason (events.md's metrics), though
    // the reset ends them in a transaction of its own, past the metered store.
    let rendered = metrics.render();
    let counted = rendered
        .lines()
        .find_map(|line| {
            line.strip_prefix("jwt_allauth_revocations_total{reason=\"password_reset\"} ")
        })
        .map_or(0.0, |value| value.trim().parse::<f64>().unwrap());
    assert!(counted >= 1.0, "{rendered}");

    // The event log: the account, the login, the reset (the spent capability nothing).
    assert_eq!(
        event_log(&state.db).await,
        [
            "user.registered",
            "session.created",
            "user.password_changed",
            "session.revoked password_reset",
            "session.created",
            "session.created",
        ]
    );
}

/// Issue 12: `set-new` refusals: no capability (401 with `WWW-Authenticate: Cookie`),
/// CSRF (403), a mismatch (U+2019) and a weak password (400 under `new_password2`);
/// none of them consumes the reset token, so the corrected request succeeds.
#[tokio::test]
async fn set_new_refusals_consume_nothing() {
    let state = state().await;
    ada(&state).await;
    let router = app(state.clone()).await;
    let (path, _) = reset_link(&state, &router).await;
    let (cookie, csrf) = open_link(&router, &path).await;

    let (status, headers, body) = call(
        &router,
        set_new(
            &format!("csrftoken={csrf}"),
            Some(&csrf),
            NEW_PASSWORD,
            NEW_PASSWORD,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Cookie");
    assert_eq!(
        body,
        json!({"detail": "Authentication credentials were not provided."})
    );

    let (status, _, body) = call(&router, set_new(&cookie, None, NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, json!({"detail": "CSRF Failed: CSRF token missing."}));
    let (status, _, body) = call(
        &router,
        set_new(&cookie, Some("forged"), NEW_PASSWORD, NEW_PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"detail": "CSRF Failed: CSRF token incorrect."})
    );
    let capability_only: String = cookie
        .split("; ")
        .filter(|pair| pair.starts_with("password_reset_access_token="))
        .collect();
    let (status, _, body) = call(
        &router,
        set_new(&capability_only, Some(&csrf), NEW_PASSWORD, NEW_PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, json!({"detail": "CSRF Failed: CSRF cookie not set."}));

    let (status, _, body) = call(
        &router,
        set_new(&cookie, Some(&csrf), NEW_PASSWORD, "a typo"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"new_password2": ["The two password fields didn\u{2019}t match."]})
    );
    let (status, _, body) = call(
        &router,
        set_new(&cookie, Some(&csrf), "12345678", "12345678"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"new_password2": ["This password is too common.", "This password is entirely numeric."]})
    );

    let (status, _, body) = call(
        &router,
        set_new(&cookie, Some(&csrf), NEW_PASSWORD, NEW_PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn page_text(router: &axum::Router, path: &str) -> (StatusCode, HeaderMap, String) {
    let response = router.clone().oneshot(get(path)).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

/// Issue 12: the built-in form and "complete" pages: plain HTML with labelled fields, no
/// external asset, a CSP that allows exactly the page's one script (by hash) and
/// requests to this origin; 404 when `PASSWORD_RESET_REDIRECT` sends users elsewhere.
#[tokio::test]
async fn the_built_in_reset_pages() {
    let state = state().await;
    let router = app(state).await;
    let (status, headers, body) = page_text(&router, "/password/reset/default/").await;
    assert_eq!(status, StatusCode::OK);
    for label in ["for=\"new_password1\"", "for=\"new_password2\""] {
        assert!(body.contains(label), "{label}");
    }
    assert!(
        !body.contains("src=") && !body.contains("href="),
        "no external asset"
    );
    let script = body
        .split("<script>")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .unwrap();
    let hash = base64::engine::general_purpose::STANDARD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(script.as_bytes()));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "{csp}"
    );
    assert!(csp.contains("connect-src 'self'"), "{csp}");

    let (status, headers, body) = page_text(&router, "/password/reset/complete/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Your password has been set."), "{body}");
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );

    let elsewhere = state_with(
        |config| {
            config.accounts.password_reset_redirect =
                Some("https://app.example.com/reset".to_owned());
        },
        Passwords::with_permits(2),
    )
    .await;
    let router = app(elsewhere).await;
    for path in ["/password/reset/default/", "/password/reset/complete/"] {
        assert_eq!(
            call(&router, get(path)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}
