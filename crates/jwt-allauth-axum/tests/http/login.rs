use axum::http::StatusCode;
use serde_json::json;
use time::format_description::well_known::Rfc2822;

use crate::common::*;

#[tokio::test]
async fn login_sets_the_refresh_cookie_with_exact_attributes() {
    let app = TestApp::new().await;
    let response = app
        .send(Req::post("/login/").json(json!({"email": ALICE, "password": ALICE_PASSWORD})))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let body = response.json();
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access"]);
    assert_eq!(response.header("cache-control"), Some("no-store"));

    let cookies = response.set_cookies();
    assert_eq!(cookies.len(), 1);
    let cookie = &cookies[0];
    assert_eq!(cookie.name, "refresh_token");
    let refresh = claims(&cookie.value);
    assert_eq!(refresh["token_type"], "refresh");
    assert_eq!(refresh["user_id"], "1");
    let fourteen_days = 14 * 24 * 3600;
    assert_eq!(refresh["exp"], T0 + fourteen_days);

    let mut attributes = cookie.attributes.clone();
    attributes.sort();
    let expires = at(T0 + fourteen_days)
        .format(&Rfc2822)
        .unwrap()
        .replace("+0000", "GMT");
    let mut expected = vec![
        "HttpOnly".to_owned(),
        "Secure".to_owned(),
        "SameSite=Lax".to_owned(),
        "Path=/".to_owned(),
        format!("Max-Age={fourteen_days}"),
        format!("Expires={expires}"),
    ];
    expected.sort();
    assert_eq!(attributes, expected);

    // The access token belongs to the same session and works.
    let access = claims(body["access"].as_str().unwrap());
    assert_eq!(access["token_type"], "access");
    assert_eq!(access["session"], refresh["session"]);
    assert_eq!(access["exp"], T0 + 30 * 60);
    let whoami = app.whoami(body["access"].as_str().unwrap()).await;
    assert_eq!(whoami.status, StatusCode::OK);
    assert_eq!(app.accounts.logins(), [("1".to_owned(), at(T0))]);
}

#[tokio::test]
async fn login_in_body_mode_returns_both_tokens_and_no_cookie() {
    let app = TestApp::body_mode().await;
    let response = app
        .send(Req::post("/login/").json(json!({"email": ALICE, "password": ALICE_PASSWORD})))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.set_cookies().is_empty());
    let body = response.json();
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["access", "refresh"]);
    assert_eq!(
        claims(body["refresh"].as_str().unwrap())["token_type"],
        "refresh"
    );
}

#[tokio::test]
async fn cookie_attributes_come_from_the_settings() {
    let app = TestApp::with(|settings| {
        settings.http.cookie_name = "rt".to_owned();
        settings.http.cookie_secure = false;
        settings.http.cookie_samesite = jwt_allauth_axum::http_settings::SameSite::Strict;
        settings.http.cookie_path = "/api/".to_owned();
        settings.http.cookie_domain = Some("example.com".to_owned());
    })
    .await;
    let response = app
        .send(Req::post("/login/").json(json!({"email": ALICE, "password": ALICE_PASSWORD})))
        .await;
    let cookie = response.cookie("rt").unwrap();
    assert_eq!(cookie.attribute("Secure"), None);
    assert_eq!(cookie.attribute("SameSite").as_deref(), Some("Strict"));
    assert_eq!(cookie.attribute("Path").as_deref(), Some("/api/"));
    assert_eq!(cookie.attribute("Domain").as_deref(), Some("example.com"));
    assert_eq!(cookie.attribute("HttpOnly").as_deref(), Some(""));

    // The renamed cookie is the one read back.
    let rotated = app
        .send(Req::post("/refresh/").cookie(&format!("rt={}", cookie.value)))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    assert!(rotated.cookie("rt").is_some());
}

#[tokio::test]
async fn login_validates_missing_and_blank_fields() {
    let app = TestApp::new().await;
    app.send(Req::post("/login/").json(json!({}))).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"email": ["This field is required."], "password": ["This field is required."]}),
    );
    app.send(Req::post("/login/").json(json!({"email": ALICE})))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"password": ["This field is required."]}),
        );
    app.send(Req::post("/login/").json(json!({"email": "", "password": "   "})))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"email": ["This field may not be blank."], "password": ["This field may not be blank."]}),
        );
    app.send(Req::post("/login/").json(json!({"email": null, "password": ["x"]})))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"email": ["This field may not be null."], "password": ["Not a valid string."]}),
        );
    // An empty body has no fields.
    app.send(Req::post("/login/")).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"email": ["This field is required."], "password": ["This field is required."]}),
    );
}

#[tokio::test]
async fn wrong_password_unknown_email_and_inactive_account_get_one_answer() {
    let app = TestApp::new().await;
    let attempts = [
        (ALICE, WRONG_PASSWORD),
        ("nobody@example.com", ALICE_PASSWORD),
        (CAROL, CAROL_PASSWORD),
    ];
    let mut answers = Vec::new();
    for (email, password) in attempts {
        let response = app
            .send(Req::post("/login/").json(json!({"email": email, "password": password})))
            .await;
        response.assert(
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Incorrect credentials", "code": "incorrect_credentials"}),
        );
        assert!(response.set_cookies().is_empty());
        let mut headers: Vec<_> = response
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        answers.push((response.status, headers, response.body));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1], answers[2]);
    assert!(app.accounts.logins().is_empty());
    assert_eq!(app.session_count("3").await, 0);
}

#[tokio::test]
async fn login_accepts_a_form_body_and_any_case_of_the_address() {
    let app = TestApp::new().await;
    let body = format!("email=ALICE%40Example.com&password={ALICE_PASSWORD}");
    let tokens = app.login_with(Req::post("/login/").form(&body)).await;
    assert_eq!(claims(&tokens.access)["user_id"], "1");
}

#[tokio::test]
async fn login_records_device_metadata() {
    let app = TestApp::with(|settings| {
        settings.http.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    let direct = app
        .login_with(
            Req::post("/login/")
                .json(json!({"email": ALICE, "password": ALICE_PASSWORD}))
                .user_agent(CHROME)
                .peer("203.0.113.9")
                .header("x-forwarded-for", "198.51.100.1"),
        )
        .await;
    app.advance(1);
    let proxied = app
        .login_with(
            Req::post("/login/")
                .json(json!({"email": ALICE, "password": ALICE_PASSWORD}))
                .user_agent(IPHONE)
                .peer("10.0.0.2")
                .header("x-forwarded-for", "198.51.100.7, 10.0.0.3"),
        )
        .await;
    let sessions = app.state.manager().list_sessions("1").await.unwrap();
    let find = |session: &str| {
        sessions
            .iter()
            .find(|record| record.session == session)
            .unwrap()
            .device
            .clone()
    };
    let chrome = find(&direct.session());
    // An untrusted peer's X-Forwarded-For is ignored.
    assert_eq!(chrome.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(chrome.browser.as_deref(), Some("Chrome"));
    assert_eq!(chrome.os.as_deref(), Some("Windows"));
    assert_eq!(chrome.is_pc, Some(true));
    let iphone = find(&proxied.session());
    assert_eq!(iphone.ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(iphone.os.as_deref(), Some("iOS"));
    assert_eq!(iphone.is_mobile, Some(true));
}

#[tokio::test]
async fn without_user_agent_collection_only_the_ip_is_recorded() {
    let app = TestApp::with(|settings| settings.http.collect_user_agent = false).await;
    let tokens = app
        .login_with(
            Req::post("/login/")
                .json(json!({"email": ALICE, "password": ALICE_PASSWORD}))
                .user_agent(CHROME)
                .peer("2001:db8::5"),
        )
        .await;
    let sessions = app.state.manager().list_sessions("1").await.unwrap();
    assert_eq!(sessions[0].session, tokens.session());
    assert_eq!(
        sessions[0].device,
        jwt_allauth::DeviceInfo {
            ip: Some("2001:db8::5".into()),
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn store_failures_are_503_or_500_never_a_token() {
    let app = TestApp::new().await;
    app.accounts.fail(Failure::Unavailable);
    app.send(Req::post("/login/").json(json!({"email": ALICE, "password": ALICE_PASSWORD})))
        .await
        .assert(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"detail": "Database unavailable.", "code": "service_unavailable"}),
        );
    app.accounts.fail(Failure::Broken);
    app.send(Req::post("/login/").json(json!({"email": ALICE, "password": ALICE_PASSWORD})))
        .await
        .assert(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"detail": "Internal server error."}),
        );
    app.accounts.fail(Failure::None);

    // The session store is gone.
    app.store.pool().close().await;
    app.send(Req::post("/login/").json(json!({"email": ALICE, "password": ALICE_PASSWORD})))
        .await
        .assert(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"detail": "Database unavailable.", "code": "service_unavailable"}),
        );
}

#[tokio::test]
async fn passwords_are_not_trimmed() {
    let app = TestApp::new().await;
    app.accounts
        .update(1, |user| user.password = "  spaced pass  ".to_owned());
    let exact = app
        .send(Req::post("/login/").json(json!({"email": ALICE, "password": "  spaced pass  "})))
        .await;
    assert_eq!(exact.status, StatusCode::OK, "{}", exact.text());
    let trimmed = app
        .send(Req::post("/login/").json(json!({"email": ALICE, "password": "spaced pass"})))
        .await;
    assert_eq!(trimmed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(trimmed.json()["code"], "incorrect_credentials");
}
