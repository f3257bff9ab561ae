//! The account page (`/account/`) in a real headless Chromium, on SQLite and PostgreSQL:
//! sign in by keyboard, see the two sessions (the second opened through the API with
//! another User-Agent), end the other one, sign out of other devices, change the
//! password, sign out everywhere and sign out; a cross-site page cannot end a session;
//! the page fits a phone-sized screen.
//!
//! With `JWT_ALLAUTH_SCREENSHOTS=DIR` the SQLite run saves the page at desktop and phone
//! width to `DIR/account-page-desktop.png` and `DIR/account-page-phone.png` (the ones in
//! `docs/` were made so).

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod browser;
mod common;

use std::path::PathBuf;

use axum::response::Html;
use browser::Browser;
use common::{Server, TestDb, success};
use fantoccini::Locator;
use fantoccini::key::Key;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE, USER_AGENT};
use serde_json::{Value, json};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a fresh plum-kettle orbit";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) \
     AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const FIREFOX_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";

/// A session opened through the API (another device): its tokens.
struct ApiSession {
    access: String,
    refresh: String,
}

async fn api_login(server: &Server, user_agent: &str, password: &str) -> ApiSession {
    let response = reqwest::Client::new()
        .post(server.url("/login/"))
        .header(USER_AGENT, user_agent)
        .json(&json!({"email": EMAIL, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("refresh_token="))
        .expect("the refresh cookie");
    let refresh = cookie["refresh_token=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    ApiSession {
        access: body["access"].as_str().unwrap().to_owned(),
        refresh,
    }
}

/// `POST /refresh/` with the session's cookie: its status (401 once the session ended).
async fn refresh_status(server: &Server, session: &ApiSession) -> StatusCode {
    reqwest::Client::new()
        .post(server.url("/refresh/"))
        .header(COOKIE, format!("refresh_token={}", session.refresh))
        .send()
        .await
        .unwrap()
        .status()
}

/// `GET /sessions/` with the session's access token: how many sessions the user has.
async fn session_count(server: &Server, session: &ApiSession) -> usize {
    let response = reqwest::Client::new()
        .get(server.url("/sessions/"))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Vec<Value>>().await.unwrap().len()
}

/// A page on another site (`localhost` is not the same site as `127.0.0.1`) that tries
/// everything a page can do with the victim's cookie: cross-site fetches to the session
/// routes, then a form posted to `/logout-all/`. Its title says `done` when the fetches
/// are settled.
async fn attacker_site(api: &str) -> String {
    let html = format!(
        r#"<!DOCTYPE html><html><head><title>attacker</title></head><body>
<form id="f" method="post" action="{api}/logout-all/"><input name="x" value="1"></form>
<script>
const api = "{api}";
const hits = [
  fetch(api + "/refresh/", {{method: "POST", mode: "no-cors", credentials: "include"}}),
  fetch(api + "/logout/", {{method: "POST", mode: "no-cors", credentials: "include"}}),
  fetch(api + "/logout-all/", {{method: "POST", mode: "no-cors", credentials: "include"}}),
  fetch(api + "/sessions/revoke-others/", {{method: "POST", mode: "no-cors", credentials: "include"}}),
  fetch(api + "/password/change/", {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "text/plain"}},
    body: JSON.stringify({{old_password: "x", new_password1: "y", new_password2: "y"}})}}),
];
Promise.allSettled(hits).then(() => {{ document.title = "done"; document.getElementById("f").submit(); }});
</script></body></html>"#
    );
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let html = html.clone();
            async move { Html(html) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://localhost:{port}/")
}

async fn scenario(db: TestDb, screenshots: Option<PathBuf>) {
    success(&db.run(&["migrate"]));
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    // Plain HTTP on 127.0.0.1, so the cookie is not `Secure`; no mail is configured.
    let server = Server::start_with_env(&db, &[], &[("JWT_ALLAUTH_COOKIE_SECURE", "false")]).await;
    let page = server.url("/account/");
    let phone = api_login(&server, IPHONE, PASSWORD).await;

    let browser = Browser::start(1280, 900).await;
    browser.client.goto(&page).await.unwrap();
    // Signed out: the sign-in form, with a label for every field and button text.
    browser.visible("#sign-in-form").await;
    let unlabelled = browser
        .eval(
            "return [...document.querySelectorAll('input')].filter(i => i.labels.length === 0).length \
             + [...document.querySelectorAll('button')].filter(b => !b.textContent.trim()).length;",
        )
        .await;
    assert_eq!(unlabelled, json!(0));

    // Sign in with the keyboard only: type, Tab to the password, Enter submits.
    let email = browser.visible("#sign-in-email").await;
    email.click().await.unwrap();
    email.send_keys(EMAIL).await.unwrap();
    email
        .send_keys(&char::from(Key::Tab).to_string())
        .await
        .unwrap();
    let focused = browser.eval("return document.activeElement.id;").await;
    assert_eq!(focused, json!("sign-in-password"));
    let password = browser.visible("#sign-in-password").await;
    password
        .send_keys(&format!("{PASSWORD}{}", char::from(Key::Enter)))
        .await
        .unwrap();
    browser.wait_text("#who", EMAIL).await;

    // Two sessions: this browser (marked) and the phone, with what the API knows.
    let rows = browser.wait_count("#sessions li", 2).await;
    let this = rows
        .iter()
        .find(|row| row.contains("This device"))
        .unwrap_or_else(|| panic!("{rows:?}"));
    let other = rows
        .iter()
        .find(|row| !row.contains("This device"))
        .unwrap();
    assert!(this.contains("Chrome"), "{this}");
    assert!(this.contains("Linux"), "{this}");
    assert!(other.contains("Mobile Safari"), "{other}");
    assert!(other.contains("iOS 17.1"), "{other}");
    assert!(other.contains("phone"), "{other}");
    assert!(other.contains("127.0.0.1"), "{other}");
    assert!(other.contains(" UTC"), "{other}");
    assert_eq!(
        rows.iter()
            .filter(|row| row.contains("This device"))
            .count(),
        1
    );

    // Three rotations asked at once (an expired access token seen by three calls) are one
    // rotation: three of the same cookie would be a replay, ending the session.
    let refreshed = browser
        .eval("return Promise.all([refresh(), refresh(), refresh()]);")
        .await;
    assert_eq!(refreshed, json!([true, true, true]));
    browser.client.goto(&page).await.unwrap();
    browser.wait_count("#sessions li", 2).await;

    if let Some(dir) = &screenshots {
        // Tall enough for the whole page.
        browser.client.set_window_size(1280, 1500).await.unwrap();
        browser
            .screenshot(&dir.join("account-page-desktop.png"))
            .await;
    }
    // A phone-sized window: nothing wider than the screen.
    browser.client.set_window_size(390, 844).await.unwrap();
    let overflow = browser
        .eval("return document.documentElement.scrollWidth - window.innerWidth;")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "wider than a phone: {overflow}"
    );
    if let Some(dir) = &screenshots {
        browser
            .screenshot(&dir.join("account-page-phone.png"))
            .await;
    }
    browser.client.set_window_size(1280, 900).await.unwrap();

    // End the phone's session from its row.
    browser
        .client
        .find(Locator::Css("#sessions li:not(.current) button.end"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_count("#sessions li", 1).await;
    browser
        .wait_text("#status", "Signed out Mobile Safari on iOS")
        .await;
    assert_eq!(
        refresh_status(&server, &phone).await,
        StatusCode::UNAUTHORIZED
    );

    // Two more devices; a reload keeps the browser signed in (the refresh cookie).
    let laptop = api_login(&server, FIREFOX_WINDOWS, PASSWORD).await;
    let android = api_login(&server, CHROME_ANDROID, PASSWORD).await;
    browser.client.goto(&page).await.unwrap();
    browser.wait_count("#sessions li", 3).await;

    // A cross-site page the signed-in browser visits ends nothing.
    let attacker = attacker_site(server.base.trim_end_matches('/')).await;
    browser.client.goto(&attacker).await.unwrap();
    let deadline = std::time::Instant::now() + browser::PAGE_WAIT;
    while !browser
        .client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .ends_with("/logout-all/")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the attacker page never posted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(session_count(&server, &laptop).await, 3);
    browser.client.goto(&page).await.unwrap();
    browser.wait_count("#sessions li", 3).await;

    // Sign out of the other devices: the two API sessions end, this one stays.
    browser
        .visible("#revoke-others")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_text("#status", "Signed out of 2 other devices.")
        .await;
    browser.wait_count("#sessions li", 1).await;
    for session in [&laptop, &android] {
        assert_eq!(
            refresh_status(&server, session).await,
            StatusCode::UNAUTHORIZED
        );
    }

    // Change the password: the page stays signed in with the new session.
    let laptop = api_login(&server, FIREFOX_WINDOWS, PASSWORD).await;
    browser.client.goto(&page).await.unwrap();
    browser.wait_count("#sessions li", 2).await;
    browser
        .visible("#old-password")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    browser
        .visible("#new-password1")
        .await
        .send_keys(NEW_PASSWORD)
        .await
        .unwrap();
    browser
        .visible("#new-password2")
        .await
        .send_keys(NEW_PASSWORD)
        .await
        .unwrap();
    browser
        .client
        .find(Locator::Css("#password-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_text("#status", "Your password was changed.")
        .await;
    browser.wait_count("#sessions li", 1).await;
    assert_eq!(
        refresh_status(&server, &laptop).await,
        StatusCode::UNAUTHORIZED
    );
    let refused = reqwest::Client::new()
        .post(server.url("/login/"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // Sign out everywhere: the other device's session ends too.
    let tablet = api_login(&server, CHROME_ANDROID, NEW_PASSWORD).await;
    browser.client.goto(&page).await.unwrap();
    browser.wait_count("#sessions li", 2).await;
    browser.visible("#logout-all").await.click().await.unwrap();
    browser
        .wait_text("#status", "You are signed out everywhere.")
        .await;
    browser.visible("#sign-in-form").await;
    assert_eq!(
        refresh_status(&server, &tablet).await,
        StatusCode::UNAUTHORIZED
    );

    // Sign in again, sign out of this device: a reload shows the sign-in form.
    browser
        .visible("#sign-in-email")
        .await
        .send_keys(EMAIL)
        .await
        .unwrap();
    browser
        .visible("#sign-in-password")
        .await
        .send_keys(NEW_PASSWORD)
        .await
        .unwrap();
    browser
        .client
        .find(Locator::Css("#sign-in-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_count("#sessions li", 1).await;
    let witness = api_login(&server, IPHONE, NEW_PASSWORD).await;
    browser.visible("#sign-out").await.click().await.unwrap();
    browser.wait_text("#status", "You are signed out.").await;
    browser.client.goto(&page).await.unwrap();
    browser.visible("#sign-in-form").await;
    assert!(browser.text("#signed-in").await.is_empty());
    assert_eq!(session_count(&server, &witness).await, 1);

    browser.close().await;
}

#[tokio::test]
async fn the_account_page_in_chromium_on_sqlite() {
    let screenshots = std::env::var_os("JWT_ALLAUTH_SCREENSHOTS").map(PathBuf::from);
    scenario(TestDb::sqlite(), screenshots).await;
}

#[tokio::test]
async fn the_account_page_in_chromium_on_postgres() {
    let Some(db) = TestDb::postgres("the_account_page_in_chromium_on_postgres").await else {
        return;
    };
    scenario(db, None).await;
}

/// Over plain HTTP: the page and its policy; in body mode there is no page.
#[tokio::test]
async fn the_page_loads_nothing_from_elsewhere_and_needs_cookie_mode() {
    let db = TestDb::sqlite();
    success(&db.run(&["migrate"]));
    let server = Server::start(&db, &[]).await;
    let response = reqwest::get(server.url("/account/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("x-frame-options"), "DENY");
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = response.text().await.unwrap();
    for external in ["src=", "href=\"http", "@import", "url("] {
        assert!(!html.contains(external), "{external} in the page");
    }
    drop(server);

    let body_mode = Server::start_with_env(
        &db,
        &[],
        &[("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false")],
    )
    .await;
    let response = reqwest::get(body_mode.url("/account/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.text().await.unwrap(), r#"{"detail":"Not found."}"#);
}
