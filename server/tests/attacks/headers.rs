//! Attacks on the request head, written byte for byte on a raw socket: duplicate and
//! malformed `Authorization` headers and cookies, CR, LF and control characters, and
//! header blocks over the 16 KiB limit.
//!
//! A head that does not parse as HTTP/1.1 never reaches the application: hyper answers
//! 400 with an empty body and closes the connection (and 431, empty, beyond 100 fields
//! or ≈ 408 KiB). Everything that parses gets the documented JSON answer.

use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::json;

use crate::harness::{
    Answer, Expected, Scene, Target, Verdicts, access_rejected, bad_authorization_header,
    bad_request, headers_too_large, incorrect_credentials, no_credentials, refresh_required,
    token_not_valid,
};
use crate::raw_http::{self, RawOutcome};

/// Checks hyper's own answer to a head it cannot parse: `status` with an empty body.
fn check_parser_refusal(verdicts: &mut Verdicts, variant: &str, outcome: RawOutcome, status: u16) {
    verdicts.count();
    match outcome {
        RawOutcome::Response(response) => {
            if response.status != status || !response.body.is_empty() {
                verdicts.fail(
                    variant,
                    format!(
                        "status {} body {:?} instead of {status} with no body",
                        response.status,
                        String::from_utf8_lossy(&response.body)
                    ),
                );
            }
        }
        RawOutcome::Closed(why) => verdicts.fail(variant, format!("no answer: {why}")),
    }
}

#[tokio::test]
async fn duplicate_and_malformed_authorization_headers_are_rejected() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let valid = format!("Authorization: Bearer {}", scene.victim.access);
    let valid = valid.as_bytes();
    let access = scene.victim.access.as_bytes();
    let with = |prefix: &[u8], suffix: &[u8]| {
        let mut line = b"Authorization: ".to_vec();
        line.extend_from_slice(prefix);
        line.extend_from_slice(suffix);
        line
    };
    let cases: Vec<(&str, Vec<Vec<u8>>, Expected)> = vec![
        (
            "two Authorization headers",
            vec![valid.to_vec(), valid.to_vec()],
            bad_authorization_header(),
        ),
        (
            "Bearer and Basic headers",
            vec![
                valid.to_vec(),
                b"Authorization: Basic dmljdGltOnB3".to_vec(),
            ],
            bad_authorization_header(),
        ),
        (
            "Bearer without a token",
            vec![b"Authorization: Bearer".to_vec()],
            bad_authorization_header(),
        ),
        (
            "Bearer with two tokens",
            vec![with(b"Bearer ", &[access, b" ", access].concat())],
            bad_authorization_header(),
        ),
        (
            "two Bearer values joined by a comma",
            vec![with(b"Bearer ", &[access, b", Bearer ", access].concat())],
            bad_authorization_header(),
        ),
        (
            "Basic scheme",
            vec![b"Authorization: Basic dmljdGltOnB3".to_vec()],
            no_credentials(),
        ),
        ("no scheme", vec![with(b"", access)], no_credentials()),
        (
            "Token scheme",
            vec![with(b"Token ", access)],
            no_credentials(),
        ),
        (
            "Bearer=token",
            vec![with(b"Bearer=", access)],
            no_credentials(),
        ),
        (
            "empty Authorization",
            vec![b"Authorization:".to_vec()],
            no_credentials(),
        ),
        (
            "non-UTF-8 token",
            vec![b"Authorization: Bearer \xff\xfe\x80".to_vec()],
            access_rejected("Token is invalid"),
        ),
        (
            "token with a trailing non-UTF-8 byte",
            vec![with(b"Bearer ", &[access, b"\xff"].concat())],
            access_rejected("Token is invalid"),
        ),
    ];
    let mut verdicts = Verdicts::new("Authorization headers");
    for (name, lines, expected) in &cases {
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        for (method, path) in [("GET", "/whoami/"), ("POST", "/logout-all/")] {
            let answer = target.raw_request(method, path, &lines, b"").await;
            verdicts.check(format!("{name} [{method} {path}]"), &answer, expected);
        }
    }
    // Controls: the scheme in any case, a tab or several spaces are fine (RFC 9110).
    for (name, line) in [
        ("lower-case scheme", with(b"bearer ", access)),
        ("tab", with(b"Bearer\t", access)),
        (
            "extra spaces",
            with(b"Bearer   ", &[access, b"  "].concat()),
        ),
    ] {
        let answer = target.raw_request("GET", "/whoami/", &[&line], b"").await;
        verdicts.check(format!("{name} [GET /whoami/]"), &answer, &Expected::ok());
    }
    verdicts.finish();
    scene
        .assert_untouched(&target, "Authorization headers")
        .await;
}

#[tokio::test]
async fn duplicate_and_malformed_cookies_are_handled() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let token = &scene.victim.refresh;
    let cookie = |value: &str| format!("Cookie: {value}").into_bytes();
    let genuine = cookie(&format!("refresh_token={token}"));
    let cases: Vec<(&str, Vec<Vec<u8>>, Expected)> = vec![
        (
            "a planted cookie header before the genuine one",
            vec![cookie("refresh_token=planted"), genuine.clone()],
            token_not_valid("Token is invalid"),
        ),
        (
            "a planted cookie before the genuine one in one header",
            vec![cookie(&format!(
                "refresh_token=planted; refresh_token={token}"
            ))],
            token_not_valid("Token is invalid"),
        ),
        (
            "the genuine token quoted",
            vec![cookie(&format!("refresh_token=\"{token}\""))],
            token_not_valid("Token is invalid"),
        ),
        (
            "the genuine token percent-encoded",
            vec![cookie(&format!(
                "refresh_token={}",
                token.replace('.', "%2E")
            ))],
            token_not_valid("Token is invalid"),
        ),
        (
            "a name without a value",
            vec![cookie("refresh_token")],
            refresh_required(),
        ),
        (
            "a value without a name",
            vec![cookie(&format!("={token}"))],
            refresh_required(),
        ),
        (
            "the name in upper case",
            vec![cookie(&format!("REFRESH_TOKEN={token}"))],
            refresh_required(),
        ),
        (
            "empty values",
            vec![cookie("refresh_token=; refresh_token=")],
            refresh_required(),
        ),
        (
            "separators only",
            vec![cookie(";;;; ;")],
            refresh_required(),
        ),
        (
            "non-UTF-8 bytes",
            vec![b"Cookie: refresh_token=\xff\xfe".to_vec()],
            refresh_required(),
        ),
        (
            "500 other cookies",
            vec![cookie(&"a=1; ".repeat(500))],
            refresh_required(),
        ),
    ];
    let mut verdicts = Verdicts::new("cookies");
    for (name, lines, expected) in &cases {
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let answer = target.raw_request("POST", "/refresh/", &lines, b"").await;
        verdicts.check(format!("{name} [/refresh/]"), &answer, expected);
    }
    // At /logout/ with the victim's Bearer: a bad cookie closes nothing.
    let bearer = format!("Authorization: Bearer {}", scene.victim.access);
    let logout_cases: Vec<(&str, Vec<u8>, Expected)> = vec![
        (
            "garbage",
            cookie("refresh_token=garbage"),
            bad_request("Invalid token."),
        ),
        (
            "a planted cookie before the genuine one",
            cookie(&format!("refresh_token=planted; refresh_token={token}")),
            bad_request("Invalid token."),
        ),
        (
            "no refresh cookie",
            cookie("other=1"),
            bad_request("Refresh token cookie not found."),
        ),
    ];
    for (name, line, expected) in &logout_cases {
        let lines: [&[u8]; 2] = [line, bearer.as_bytes()];
        let answer = target.raw_request("POST", "/logout/", &lines, b"").await;
        verdicts.check(format!("{name} [/logout/]"), &answer, expected);
    }
    verdicts.finish();
    scene.assert_untouched(&target, "cookies").await;
}

#[tokio::test]
async fn crlf_and_control_characters_are_rejected() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let mut verdicts = Verdicts::new("CRLF and control characters");
    let bearer = format!("Authorization: Bearer {}", scene.victim.access);
    // Heads hyper refuses to parse: 400, empty body, connection closed.
    let unparseable: [(&str, &[u8]); 9] = [
        ("a bare CR in a value", b"X-Note: a\rSet-Cookie: injected=1"),
        ("a NUL in a value", b"X-Note: a\x00b"),
        (
            "a control character in the User-Agent",
            b"User-Agent: a\x01b",
        ),
        ("DEL in a value", b"User-Agent: a\x7fb"),
        ("an ESC sequence in a value", b"User-Agent: \x1b[31mred"),
        ("an obsolete folded line", b"X-Note: a\r\n folded"),
        ("a space in a header name", b"X Note: a"),
        ("a line without a colon", b"garbage"),
        ("a NUL in a header name", b"X-No\x00te: a"),
    ];
    for (name, line) in unparseable {
        let bytes = raw_http::request(
            "GET",
            "/whoami/",
            target.authority(),
            &[line, bearer.as_bytes()],
            b"",
        );
        check_parser_refusal(&mut verdicts, name, target.raw(&bytes).await, 400);
    }
    let bytes = raw_http::request(
        "POST",
        "/logout-all/",
        target.authority(),
        &[bearer.as_bytes(), b"Content-Length: 5"],
        b"",
    );
    check_parser_refusal(
        &mut verdicts,
        "two Content-Length headers",
        target.raw(&bytes).await,
        400,
    );
    // A bare LF ends a header line (as in many parsers): the "injected" text is just
    // another request header and nothing reaches the response.
    let no_injected_cookie = |verdicts: &mut Verdicts, variant: &str, answer: &Answer| {
        if answer.headers.get(SET_COOKIE).is_some() {
            verdicts.fail(variant, "a Set-Cookie reached the response");
        }
    };
    let answer = target
        .raw_request(
            "GET",
            "/whoami/",
            &[b"X-Note: a\nSet-Cookie: injected=1", bearer.as_bytes()],
            b"",
        )
        .await;
    verdicts.check("a bare LF in a value", &answer, &Expected::ok());
    no_injected_cookie(&mut verdicts, "a bare LF in a value", &answer);
    // CR LF encoded in the path: a 404, nothing injected.
    let answer = target
        .raw_request("GET", "/whoami/%0d%0aSet-Cookie:%20injected=1", &[], b"")
        .await;
    verdicts.check(
        "CRLF encoded in the path",
        &answer,
        &Expected::new(StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
    );
    no_injected_cookie(&mut verdicts, "CRLF encoded in the path", &answer);
    // CR LF and control characters inside JSON fields are data, never headers.
    let injected = "Eve\r\nSet-Cookie: injected=1\r\n\r\n<html>\u{1}\u{7}\u{1b}[0m";
    let answer = target
        .send(
            target
                .client
                .patch(target.url("/user/"))
                .bearer_auth(&scene.victim.access)
                .json(&json!({"first_name": injected})),
        )
        .await;
    verdicts.check("CRLF in first_name", &answer, &Expected::ok());
    no_injected_cookie(&mut verdicts, "CRLF in first_name", &answer);
    if answer.body["first_name"] != injected {
        verdicts.fail("CRLF in first_name", format!("stored as {}", answer.body));
    }
    let answer = target
        .login_request(&json!({
            "email": "victim@example.com\r\nSet-Cookie: injected=1",
            "password": "x\r\n",
        }))
        .await;
    verdicts.check(
        "CRLF in the login e-mail",
        &answer,
        &incorrect_credentials(),
    );
    no_injected_cookie(&mut verdicts, "CRLF in the login e-mail", &answer);
    verdicts.finish();
    target.assert_alive("malformed heads").await;
    scene
        .assert_untouched(&target, "CRLF and control characters")
        .await;
}

#[tokio::test]
async fn a_header_block_over_16_kib_is_431_and_the_server_stays_up() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let mut verdicts = Verdicts::new("header size limit");
    let padding = |name: &str, len: usize| format!("{name}: {}", "p".repeat(len));
    // Over the limit and parsed by hyper: 431 with the JSON body, security headers on.
    let one_64k = padding("X-Padding", 64 * 1024);
    let one_17k = padding("X-Padding", 17 * 1024);
    let many: Vec<String> = (0..90)
        .map(|i| padding(&format!("X-Pad-{i}"), 200))
        .collect();
    let cookies: Vec<String> = (0..20)
        .map(|i| format!("Cookie: c{i}={}", "v".repeat(1000)))
        .collect();
    let ua = padding("User-Agent", 20 * 1024);
    let over: Vec<(&str, &str, &str, Vec<&[u8]>)> = vec![
        (
            "one 64 KiB header",
            "GET",
            "/health/",
            vec![one_64k.as_bytes()],
        ),
        (
            "one 17 KiB header",
            "GET",
            "/whoami/",
            vec![one_17k.as_bytes()],
        ),
        (
            "90 headers of 200 bytes",
            "GET",
            "/whoami/",
            many.iter().map(String::as_bytes).collect(),
        ),
        (
            "20 cookie headers of 1 KiB",
            "POST",
            "/refresh/",
            cookies.iter().map(String::as_bytes).collect(),
        ),
        (
            "a 20 KiB User-Agent at /login/",
            "POST",
            "/login/",
            vec![ua.as_bytes()],
        ),
    ];
    for (name, method, path, lines) in &over {
        let answer = target.raw_request(method, path, lines, b"").await;
        verdicts.check(*name, &answer, &headers_too_large());
        if answer.headers.get("x-content-type-options").is_none() {
            verdicts.fail(*name, "no security headers on the 431");
        }
    }
    // Just under the limit: the request reaches its route.
    let under = padding("X-Padding", 15 * 1024);
    let answer = target
        .raw_request("GET", "/health/", &[under.as_bytes()], b"")
        .await;
    verdicts.check("one 15 KiB header", &answer, &Expected::ok());
    // hyper's own limits: more than 100 fields, or a head over its buffer.
    let fields: Vec<String> = (0..101).map(|i| format!("X-F{i}: 1")).collect();
    let lines: Vec<&[u8]> = fields.iter().map(String::as_bytes).collect();
    let bytes = raw_http::request("GET", "/health/", target.authority(), &lines, b"");
    check_parser_refusal(
        &mut verdicts,
        "101 header fields",
        target.raw(&bytes).await,
        431,
    );
    let huge = padding("X-Padding", 1024 * 1024);
    let bytes = raw_http::request(
        "GET",
        "/health/",
        target.authority(),
        &[huge.as_bytes()],
        b"",
    );
    match target.raw(&bytes).await {
        RawOutcome::Response(response) if response.status == 431 => verdicts.count(),
        RawOutcome::Response(response) => {
            verdicts.fail("a 1 MiB header", format!("status {}", response.status));
        }
        // The server may reset the connection before the answer is read.
        RawOutcome::Closed(_) => verdicts.count(),
    }
    verdicts.finish();
    target.assert_alive("oversized heads").await;
    scene.assert_untouched(&target, "header size limit").await;
}
