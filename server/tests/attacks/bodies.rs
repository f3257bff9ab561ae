//! Attacks on request bodies: a wrong `Content-Type`, empty bodies, JSON that is not an
//! object, broken JSON, and deeply nested JSON (which must not exhaust the stack). Each
//! gets the documented 400/415 body; the authenticated routes change no session.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::harness::{Expected, Scene, Target, Verdicts};

/// 400 `{"detail":"JSON parse error - <serde_json's message>"}` for `body`.
fn json_parse_error(body: &str) -> Expected {
    let message = serde_json::from_str::<Value>(body)
        .expect_err("the body is not JSON")
        .to_string();
    Expected::new(
        StatusCode::BAD_REQUEST,
        json!({"detail": format!("JSON parse error - {message}")}),
    )
}

/// 415 for the `Content-Type` value `media_type`.
fn unsupported(media_type: &str) -> Expected {
    Expected::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        json!({"detail": format!("Unsupported media type \"{media_type}\" in request.")}),
    )
}

/// 400 `{"non_field_errors": [message]}`.
fn not_an_object(message: &str) -> Expected {
    Expected::new(
        StatusCode::BAD_REQUEST,
        json!({"non_field_errors": [message]}),
    )
}

/// `depth` nested arrays around `1`.
fn nested_arrays(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// `depth` nested objects `{"a": ...}` around `1`.
fn nested_objects(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

#[tokio::test]
async fn wrong_content_types_and_malformed_or_deep_json_are_a_4xx() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let required = Expected::new(
        StatusCode::BAD_REQUEST,
        json!({
            "email": ["This field is required."],
            "password": ["This field is required."],
        }),
    );
    let login = json!({"email": crate::harness::VICTIM, "password": "wrong"}).to_string();
    let deep_arrays = nested_arrays(30_000);
    let deep_objects = nested_objects(10_000);
    let deep_in_field = format!(r#"{{"email":{},"password":"x"}}"#, nested_arrays(20_000));
    let shallow_in_field = format!(r#"{{"email":{},"password":"x"}}"#, nested_arrays(100));
    let cases: Vec<(&str, Option<&str>, String, Expected)> = vec![
        (
            "text/plain",
            Some("text/plain"),
            login.clone(),
            unsupported("text/plain"),
        ),
        (
            "application/xml",
            Some("application/xml"),
            "<email>x</email>".into(),
            unsupported("application/xml"),
        ),
        (
            "multipart/form-data",
            Some("multipart/form-data; boundary=x"),
            "--x\r\n\r\n--x--".into(),
            unsupported("multipart/form-data; boundary=x"),
        ),
        (
            "a JSON body without Content-Type",
            None,
            login.clone(),
            required.clone(),
        ),
        (
            "an empty JSON body",
            Some("application/json"),
            String::new(),
            required.clone(),
        ),
        (
            "JSON null",
            Some("application/json"),
            "null".into(),
            not_an_object("No data provided"),
        ),
        (
            "a JSON list",
            Some("application/json"),
            "[]".into(),
            not_an_object("Invalid data. Expected a dictionary, but got list."),
        ),
        (
            "a JSON string",
            Some("application/json"),
            "\"x\"".into(),
            not_an_object("Invalid data. Expected a dictionary, but got str."),
        ),
        (
            "a JSON number",
            Some("application/json"),
            "1".into(),
            not_an_object("Invalid data. Expected a dictionary, but got int."),
        ),
        (
            "truncated JSON",
            Some("application/json"),
            "{".into(),
            json_parse_error("{"),
        ),
        (
            "a byte-order mark",
            Some("application/json"),
            format!("\u{feff}{login}"),
            json_parse_error(&format!("\u{feff}{login}")),
        ),
        (
            "a number out of range",
            Some("application/json"),
            r#"{"email":1e400,"password":"x"}"#.into(),
            json_parse_error(r#"{"email":1e400,"password":"x"}"#),
        ),
        (
            "30 000 nested arrays",
            Some("application/json"),
            deep_arrays.clone(),
            json_parse_error(&deep_arrays),
        ),
        (
            "10 000 nested objects",
            Some("application/json"),
            deep_objects.clone(),
            json_parse_error(&deep_objects),
        ),
        (
            "20 000 nested arrays in a field",
            Some("application/json"),
            deep_in_field.clone(),
            json_parse_error(&deep_in_field),
        ),
        (
            "100 nested arrays in a field",
            Some("application/json"),
            shallow_in_field,
            Expected::new(
                StatusCode::BAD_REQUEST,
                json!({"email": ["Not a valid string."]}),
            ),
        ),
        (
            "a form with array-style names",
            Some("application/x-www-form-urlencoded"),
            "email[]=a&password[]=b".into(),
            required.clone(),
        ),
    ];
    let mut verdicts = Verdicts::new("bodies");
    for (name, content_type, body, expected) in &cases {
        let mut request = target.client.post(target.url("/login/")).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, *content_type);
        }
        let answer = target.send(request).await;
        verdicts.check(format!("{name} [/login/]"), &answer, expected);
    }
    // The authenticated routes answer the same, before doing anything.
    for path in ["/user/", "/password/change/"] {
        for (name, content_type, body, expected) in [
            (
                "text/plain",
                "text/plain",
                "{}".to_owned(),
                unsupported("text/plain"),
            ),
            (
                "30 000 nested arrays",
                "application/json",
                deep_arrays.clone(),
                json_parse_error(&deep_arrays),
            ),
        ] {
            let request = if path == "/user/" {
                target.client.patch(target.url(path))
            } else {
                target.client.post(target.url(path))
            };
            let answer = target
                .send(
                    request
                        .bearer_auth(&scene.victim.access)
                        .header(CONTENT_TYPE, content_type)
                        .body(body),
                )
                .await;
            verdicts.check(format!("{name} [{path}]"), &answer, &expected);
        }
    }
    verdicts.finish();
    target.assert_alive("the bodies").await;
    scene.assert_untouched(&target, "bodies").await;
}

/// Issue 12: the password reset request answers bad bodies with the documented 4xx
/// (before any look-up or mail), never a 500: wrong content types, broken or deep JSON, a NUL or
/// invisible character in the address, an address over 254 characters, invalid UTF-8,
/// a body over the limit.
#[tokio::test]
async fn reset_requests_with_bad_bodies_are_a_4xx() {
    let target = Target::sqlite(&[]).await;
    let deep_arrays = nested_arrays(30_000);
    let invalid_email = Expected::new(
        StatusCode::BAD_REQUEST,
        json!({"email": ["Enter a valid email address."]}),
    );
    let long = format!("{}@example.com", "a".repeat(250));
    let cases: Vec<(&str, &str, Vec<u8>, Expected)> = vec![
        (
            "text/plain",
            "text/plain",
            br#"{"email":"a@example.com"}"#.to_vec(),
            unsupported("text/plain"),
        ),
        (
            "30 000 nested arrays",
            "application/json",
            deep_arrays.clone().into_bytes(),
            json_parse_error(&deep_arrays),
        ),
        (
            "a JSON list",
            "application/json",
            b"[]".to_vec(),
            not_an_object("Invalid data. Expected a dictionary, but got list."),
        ),
        (
            "a NUL in the address",
            "application/json",
            br#"{"email":"vic\u0000tim@example.com"}"#.to_vec(),
            Expected::new(
                StatusCode::BAD_REQUEST,
                json!({"email": ["Null characters are not allowed."]}),
            ),
        ),
        (
            "a right-to-left override in the address",
            "application/json",
            br#"{"email":"eve\u202emoc.knab@evil.example"}"#.to_vec(),
            invalid_email.clone(),
        ),
        (
            "an address over 254 characters",
            "application/json",
            json!({ "email": long }).to_string().into_bytes(),
            Expected::new(
                StatusCode::BAD_REQUEST,
                json!({"email": ["Ensure this field has no more than 254 characters."]}),
            ),
        ),
        (
            // Django REST framework's `CharField` takes a number as its text.
            "the address as a number",
            "application/json",
            br#"{"email":1}"#.to_vec(),
            invalid_email.clone(),
        ),
    ];
    let mut verdicts = Verdicts::new("reset bodies");
    for (name, content_type, body, expected) in &cases {
        let request = target
            .client
            .post(target.url("/password/reset/"))
            .header(CONTENT_TYPE, *content_type)
            .body(body.clone());
        let answer = target.send(request).await;
        verdicts.check(format!("{name} [/password/reset/]"), &answer, expected);
    }
    verdicts.finish();

    // Invalid UTF-8 and an oversized body: a 4xx, never a 500.
    for (name, body) in [
        (
            "invalid UTF-8",
            b"{\"email\":\"\xff\xfe@example.com\"}".to_vec(),
        ),
        ("a body over the limit", vec![b' '; 2 * 1024 * 1024]),
    ] {
        let Some(response) = post_raw(&target, "/password/reset/", name, body).await else {
            continue;
        };
        assert!(
            response.status().is_client_error(),
            "{name}: {}",
            response.status()
        );
    }
    target.assert_alive("the reset bodies").await;
}

/// Issue 12: bad sign-up and verification bodies get the documented 4xx, never a 500,
/// and create no account and queue no mail: wrong content types, broken or deep JSON, a
/// NUL in a name, names over 150 characters, a key of the wrong shape, invalid UTF-8, a
/// body over the limit.
#[tokio::test]
async fn sign_ups_with_bad_bodies_are_a_4xx_and_create_nothing() {
    let target = Target::sqlite(&[]).await;
    let deep_arrays = nested_arrays(30_000);
    let valid = |extra: Value| {
        let mut body = json!({
            "email": "newcomer@example.com",
            "password1": "plum-kettle orbit 42",
            "password2": "plum-kettle orbit 42",
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body.to_string().into_bytes()
    };
    let cases: Vec<(&str, &str, &str, Vec<u8>, Expected)> = vec![
        (
            "text/plain",
            "/registration/",
            "text/plain",
            valid(json!({})),
            unsupported("text/plain"),
        ),
        (
            "30 000 nested arrays",
            "/registration/",
            "application/json",
            deep_arrays.clone().into_bytes(),
            json_parse_error(&deep_arrays),
        ),
        (
            "a JSON list",
            "/registration/",
            "application/json",
            b"[]".to_vec(),
            not_an_object("Invalid data. Expected a dictionary, but got list."),
        ),
        (
            "a NUL in a name",
            "/registration/",
            "application/json",
            valid(json!({"first_name": "Ad\u{0}a"})),
            Expected::new(
                StatusCode::BAD_REQUEST,
                json!({"first_name": ["Null characters are not allowed."]}),
            ),
        ),
        (
            "a name over 150 characters",
            "/registration/",
            "application/json",
            valid(json!({"last_name": "x".repeat(151)})),
            Expected::new(
                StatusCode::BAD_REQUEST,
                json!({"last_name": ["Ensure this field has no more than 150 characters."]}),
            ),
        ),
        (
            "a key of the wrong shape",
            "/registration/verify-email/",
            "application/json",
            br#"{"key":"no-dot-here"}"#.to_vec(),
            Expected::new(StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
        ),
        (
            "a key that is not base64",
            "/registration/verify-email/",
            "application/json",
            br#"{"key":"%%%.x"}"#.to_vec(),
            Expected::new(StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
        ),
    ];
    let mut verdicts = Verdicts::new("sign-up bodies");
    for (name, path, content_type, body, expected) in &cases {
        let request = target
            .client
            .post(target.url(path))
            .header(CONTENT_TYPE, *content_type)
            .body(body.clone());
        let answer = target.send(request).await;
        verdicts.check(format!("{name} [{path}]"), &answer, expected);
    }
    verdicts.finish();
    for (name, body) in [
        (
            "invalid UTF-8",
            b"{\"email\":\"\xff@example.com\"}".to_vec(),
        ),
        ("a body over the limit", vec![b' '; 2 * 1024 * 1024]),
    ] {
        let Some(response) = post_raw(&target, "/registration/", name, body).await else {
            continue;
        };
        assert!(
            response.status().is_client_error(),
            "{name}: {}",
            response.status()
        );
    }
    // Nothing was created, nothing queued.
    let users = jwt_allauth_server::users::Users::new(
        target.database.clone(),
        jwt_allauth_server::passwords::Passwords::with_permits(1),
    );
    assert!(
        users
            .find_by_email("newcomer@example.com")
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let outbox = jwt_allauth_server::mail::Outbox::new(target.database.clone());
    assert!(outbox.queued().await.unwrap().is_empty());
    target.assert_alive("the sign-up bodies").await;
}

/// POSTs `body` as JSON to `path`: the answer, or `None` when the server answered an
/// oversized body (413) and closed the connection while the client was still writing it,
/// so that the client saw a broken pipe rather than the answer.
async fn post_raw(
    target: &Target,
    path: &str,
    name: &str,
    body: Vec<u8>,
) -> Option<reqwest::Response> {
    let oversized = body.len() > 1024 * 1024;
    match target
        .client
        .post(target.url(path))
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(response) => Some(response),
        Err(error) if oversized && error.is_request() => None,
        Err(error) => panic!("{name}: {error}"),
    }
}
