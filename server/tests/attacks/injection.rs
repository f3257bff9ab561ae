//! SQL and HTML text in every input (login fields, names, password fields, the session
//! id in the path, the Bearer token, the refresh cookie, the token's `kid`, `User-Agent`
//! and `X-Forwarded-For`), and NUL characters and undecodable bytes, on SQLite and on
//! PostgreSQL: every one is inert data or a documented 4xx, never a 5xx, and the
//! tables, users and sessions are intact afterwards.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::forge::{self, Hs};
use crate::harness::{
    Expected, PASSWORD, SECRET, Scene, Target, Tokens, VICTIM, Verdicts, access_rejected,
    incorrect_credentials, token_not_valid,
};

/// One scenario on SQLite (always) and PostgreSQL (when configured): a module `$name`
/// with the tests `sqlite` and `postgres`.
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(crate::common::TestDb::sqlite()).await;
            }

            #[tokio::test]
            async fn postgres() {
                let test = concat!(stringify!($name), "::postgres");
                if let Some(db) = crate::common::TestDb::postgres(test).await {
                    super::$name(db).await;
                }
            }
        }
    };
}

/// SQL an injectable query would execute.
const SQL: [&str; 8] = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "\" OR \"\"=\"",
    "'; DROP TABLE jwt_allauth_users; --",
    "'; DELETE FROM jwt_allauth_sessions; --",
    "x' UNION SELECT password_hash FROM jwt_allauth_users --",
    "%' OR email_lower LIKE '%",
    "1); UPDATE jwt_allauth_users SET role = 1000, is_staff = 1; --",
];

/// Markup and template text a page rendering the data would execute.
const HTML: [&str; 4] = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\"><svg onload=alert(1)>",
    "{{7*7}}${7*7}",
];

/// The old-password error of `/password/change/`.
const WRONG_OLD_PASSWORD: &str =
    "Your old password was entered incorrectly. Please enter it again.";

/// `text` percent-encoded for a path segment (everything but ASCII letters and digits).
fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

on_both_backends!(sql_and_html_text_in_every_input_is_inert);

async fn sql_and_html_text_in_every_input_is_inert(db: TestDb) {
    let target = Target::hs256(db, &[("JWT_ALLAUTH_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let scene = Scene::set_up(&target).await;
    let mut verdicts = Verdicts::new("SQL and HTML text");
    let texts: Vec<&str> = SQL.iter().chain(&HTML).copied().collect();
    let client = &target.client;
    for &text in &texts {
        let logins = [
            ("e-mail", json!({"email": text, "password": PASSWORD})),
            (
                "e-mail local part",
                json!({"email": format!("{text}@example.com"), "password": PASSWORD}),
            ),
            (
                "after the victim's e-mail",
                json!({"email": format!("{VICTIM}{text}"), "password": PASSWORD}),
            ),
            ("password", json!({"email": VICTIM, "password": text})),
        ];
        for (field, body) in &logins {
            let answer = target.login_request(body).await;
            verdicts.check(
                format!("{text} as the login {field}"),
                &answer,
                &incorrect_credentials(),
            );
        }
        // Names are data: stored and returned verbatim, as JSON.
        let answer = target
            .send(
                client
                    .patch(target.url("/user/"))
                    .bearer_auth(&scene.victim.access)
                    .json(&json!({"first_name": text, "last_name": text})),
            )
            .await;
        let profile = json!({"email": VICTIM, "first_name": text, "last_name": text});
        verdicts.check(format!("{text} as the names"), &answer, &Expected::ok());
        if answer.body != profile {
            verdicts.fail(
                format!("{text} as the names"),
                format!("answered {}", answer.body),
            );
        }
        let answer = target.get_bearer("/user/", &scene.victim.access).await;
        if answer.body != profile
            || answer
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                != Some("application/json")
        {
            verdicts.fail(format!("{text} read back"), format!("{answer:?}"));
        }
        let answer = target
            .send(
                client
                    .post(target.url("/password/change/"))
                    .bearer_auth(&scene.victim.access)
                    .json(&json!({
                        "old_password": text,
                        "new_password1": text,
                        "new_password2": text,
                    })),
            )
            .await;
        verdicts.check(
            format!("{text} as the passwords"),
            &answer,
            &Expected::new(
                StatusCode::BAD_REQUEST,
                json!({"old_password": [WRONG_OLD_PASSWORD]}),
            ),
        );
        let answer = target
            .send(
                client
                    .delete(target.url(&format!("/sessions/{}/", path_segment(text))))
                    .bearer_auth(&scene.victim.access),
            )
            .await;
        verdicts.check(
            format!("{text} as the session id"),
            &answer,
            &Expected::new(StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
        );
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ';')
            .collect();
        let answer = target.get_bearer("/whoami/", &compact).await;
        verdicts.check(
            format!("{compact} as the Bearer token"),
            &answer,
            &access_rejected("Token is invalid"),
        );
        let answer = target.refresh_cookie(&compact).await;
        verdicts.check(
            format!("{compact} as the refresh cookie"),
            &answer,
            &token_not_valid("Token is invalid"),
        );
        // As the `kid` of the victim's tokens, signed with the server's secret.
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": text});
        let with_kid = |token: &str| {
            forge::sign(
                Hs::S256,
                &header,
                &Value::Object(forge::claims(token)),
                SECRET.as_bytes(),
            )
        };
        let answer = target
            .get_bearer("/whoami/", &with_kid(&scene.victim.access))
            .await;
        verdicts.check(
            format!("{text} as the kid [access at /whoami/]"),
            &answer,
            &access_rejected("Token is invalid"),
        );
        let answer = target
            .refresh_cookie(&with_kid(&scene.victim.refresh))
            .await;
        verdicts.check(
            format!("{text} as the kid [refresh at /refresh/]"),
            &answer,
            &token_not_valid("Token is invalid"),
        );
    }
    scene.assert_untouched(&target, "SQL and HTML text").await;

    // The device headers, at login and at rotation. A trusted proxy's X-Forwarded-For is
    // read; text that is no address is ignored (the peer address is recorded).
    for &text in &texts {
        let login = target
            .send(
                client
                    .post(target.url("/login/"))
                    .header(USER_AGENT, text)
                    .header("x-forwarded-for", text)
                    .json(&json!({"email": crate::harness::BYSTANDER, "password": PASSWORD})),
            )
            .await;
        verdicts.check(
            format!("{text} as User-Agent and X-Forwarded-For at /login/"),
            &login,
            &Expected::ok(),
        );
        if login.status != StatusCode::OK {
            continue;
        }
        let tokens = login.tokens("login");
        let answer = target
            .send(
                client
                    .post(target.url("/refresh/"))
                    .header(USER_AGENT, text)
                    .header("x-forwarded-for", format!("198.51.100.1, {text}"))
                    .header("cookie", format!("refresh_token={}", tokens.refresh)),
            )
            .await;
        verdicts.check(
            format!("{text} as User-Agent and X-Forwarded-For at /refresh/"),
            &answer,
            &Expected::ok(),
        );
    }
    // A well-formed X-Forwarded-For from the trusted proxy is recorded (the control).
    let control = target
        .send(
            client
                .post(target.url("/login/"))
                .header("x-forwarded-for", "203.0.113.9")
                .json(&json!({"email": crate::harness::BYSTANDER, "password": PASSWORD})),
        )
        .await
        .tokens("login through the proxy");
    verdicts.finish();
    assert_device_metadata_is_inert(&target, &control, texts.len()).await;
    // Both accounts are intact: they log in, with their role unchanged.
    for email in [VICTIM, crate::harness::BYSTANDER] {
        let tokens = target.login(email).await;
        let whoami = target.get_bearer("/whoami/", &tokens.access).await;
        assert_eq!(whoami.body["role"], json!(0), "{email}: {whoami:?}");
    }
}

/// The bystander's sessions after the device-header attacks: one per attack and the
/// control, every address the peer's except the control's.
async fn assert_device_metadata_is_inert(target: &Target, control: &Tokens, attacks: usize) {
    let answer = target.get_bearer("/sessions/", &control.access).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let sessions = answer.body.as_array().expect("a list of sessions");
    // The scene's login, one per attack, and the control.
    assert_eq!(sessions.len(), attacks + 2, "{}", answer.body);
    for session in sessions {
        let expected_ip = if session["current"] == Value::Bool(true) {
            "203.0.113.9"
        } else {
            "127.0.0.1"
        };
        assert_eq!(session["ip"], expected_ip, "{session}");
    }
}

on_both_backends!(nul_characters_and_undecodable_ids_are_a_4xx);

async fn nul_characters_and_undecodable_ids_are_a_4xx(db: TestDb) {
    let target = Target::hs256(db, &[]).await;
    let scene = Scene::set_up(&target).await;
    let mut verdicts = Verdicts::new("NUL characters");
    let client = &target.client;
    let nul = |field: &str| -> Value { json!({field: ["Null characters are not allowed."]}) };
    let bad = |body: Value| Expected::new(StatusCode::BAD_REQUEST, body);
    let logins = [
        (
            json!({"email": format!("{VICTIM}\u{0}"), "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": VICTIM, "password": format!("{PASSWORD}\u{0}")}),
            "password",
        ),
    ];
    for (body, field) in logins {
        let answer = target.login_request(&body).await;
        verdicts.check(
            format!("NUL in the login {field}"),
            &answer,
            &bad(nul(field)),
        );
    }
    for field in ["first_name", "last_name"] {
        for value in ["a\u{0}b", "\u{0}"] {
            let answer = target
                .send(
                    client
                        .patch(target.url("/user/"))
                        .bearer_auth(&scene.victim.access)
                        .json(&json!({field: value})),
                )
                .await;
            verdicts.check(
                format!("NUL in {field} ({value:?})"),
                &answer,
                &bad(nul(field)),
            );
        }
    }
    let answer = target
        .send(
            client
                .post(target.url("/password/change/"))
                .bearer_auth(&scene.victim.access)
                .json(&json!({
                    "old_password": PASSWORD,
                    "new_password1": "a new\u{0}password",
                    "new_password2": "a new\u{0}password",
                })),
        )
        .await;
    let mut both = nul("new_password1");
    both["new_password2"] = json!(["Null characters are not allowed."]);
    verdicts.check("NUL in the new password", &answer, &bad(both));
    let session = forge::claims(&scene.victim.access)["session"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, segment) in [
        ("a NUL", "%00".to_owned()),
        ("the victim's session and a NUL", format!("{session}%00")),
        ("undecodable UTF-8", "%C3%28".to_owned()),
        ("an overlong NUL", "%C0%80".to_owned()),
    ] {
        let answer = target
            .send(
                client
                    .delete(target.url(&format!("/sessions/{segment}/")))
                    .bearer_auth(&scene.victim.access),
            )
            .await;
        verdicts.check(
            format!("{name} as the session id"),
            &answer,
            &Expected::new(StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
        );
    }
    verdicts.finish();
    let profile = target.get_bearer("/user/", &scene.victim.access).await;
    assert_eq!(
        profile.body,
        json!({"email": VICTIM, "first_name": "", "last_name": ""}),
        "nothing was stored"
    );
    scene.assert_untouched(&target, "NUL characters").await;
}
