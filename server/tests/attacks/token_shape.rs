//! Attacks on the token's shape: a tampered payload or signature, missing or extra
//! segments, invalid base64 or JSON, and oversized tokens (≥ 64 KiB: refused fast, with
//! bounded memory, and the server keeps answering).

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::forge::{self, Hs};
use crate::harness::{
    Expected, SECRET, Scene, Target, Verdicts, both_refused, headers_too_large, token_not_valid,
};
use crate::raw_http::{self, RawOutcome};

/// A generous bound for refusing an oversized token (the requirement is "fast").
const FAST: Duration = Duration::from_secs(2);

/// A change to a token's claims.
type ClaimsChange = Box<dyn Fn(&mut serde_json::Map<String, Value>)>;
/// A new signature from the victim's signature and another user's.
type SignatureChange = fn(&str, &str) -> String;
/// A token from its header, payload and signature segments.
type Shape = fn(&str, &str, &str) -> String;
/// A damaged copy of a genuine token.
type Damage = fn(&str) -> String;

/// The token with its payload changed by `change` and its signature kept.
fn tampered(token: &str, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut payload = forge::claims(token);
    change(&mut payload);
    format!(
        "{}.{}.{}",
        forge::segment(token, 0),
        forge::b64(Value::Object(payload).to_string()),
        forge::segment(token, 2)
    )
}

/// The token with its signature replaced by `signature`.
fn with_signature(token: &str, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        forge::segment(token, 0),
        forge::segment(token, 1)
    )
}

/// The signature with its middle character changed.
fn flipped(signature: &str) -> String {
    let mut chars: Vec<char> = signature.chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn a_tampered_payload_or_signature_is_rejected() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let (victim, bystander) = (&scene.victim, &scene.bystander);
    let mut verdicts = Verdicts::new("tampering");
    let bystander_id = scene.bystander_id.clone();
    let payload_changes: [(&str, ClaimsChange); 5] = [
        (
            "user_id of another user",
            Box::new(move |p| {
                p.insert("user_id".into(), json!(bystander_id.clone()));
            }),
        ),
        (
            "role raised to staff",
            Box::new(|p| {
                p.insert("role".into(), json!(1000));
            }),
        ),
        (
            "exp a year later",
            Box::new(|p| {
                let exp = p["exp"].as_i64().unwrap();
                p.insert("exp".into(), json!(exp + 365 * 24 * 3600));
            }),
        ),
        (
            "email_verified flipped",
            Box::new(|p| {
                let verified = p["email_verified"].as_bool().unwrap();
                p.insert("email_verified".into(), json!(!verified));
            }),
        ),
        (
            "an extra claim",
            Box::new(|p| {
                p.insert("is_admin".into(), json!(true));
            }),
        ),
    ];
    for (name, change) in &payload_changes {
        both_refused(
            &target,
            &mut verdicts,
            &format!("payload: {name}"),
            &tampered(&victim.access, change),
            &tampered(&victim.refresh, change),
        )
        .await;
    }
    let signature_changes: [(&str, SignatureChange); 6] = [
        ("a character changed", |sig, _| flipped(sig)),
        ("truncated by one character", |sig, _| {
            sig[..sig.len() - 1].to_owned()
        }),
        ("one character appended", |sig, _| format!("{sig}A")),
        ("doubled", |sig, _| sig.repeat(2)),
        ("empty", |_, _| String::new()),
        ("another user's token's", |_, other| other.to_owned()),
    ];
    for (name, change) in signature_changes {
        let access = with_signature(
            &victim.access,
            &change(
                forge::segment(&victim.access, 2),
                forge::segment(&bystander.access, 2),
            ),
        );
        let refresh = with_signature(
            &victim.refresh,
            &change(
                forge::segment(&victim.refresh, 2),
                forge::segment(&bystander.refresh, 2),
            ),
        );
        both_refused(
            &target,
            &mut verdicts,
            &format!("signature: {name}"),
            &access,
            &refresh,
        )
        .await;
    }
    // The header re-encoded (the same JSON in other bytes) under the original signature.
    for header in [
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"typ":"JWT", "alg":"HS256"}"#,
    ] {
        let reencoded = |token: &str| {
            assert_ne!(
                forge::segment(token, 0),
                forge::b64(header),
                "not re-encoded"
            );
            format!(
                "{}.{}.{}",
                forge::b64(header),
                forge::segment(token, 1),
                forge::segment(token, 2)
            )
        };
        both_refused(
            &target,
            &mut verdicts,
            &format!("header re-encoded as {header}"),
            &reencoded(&victim.access),
            &reencoded(&victim.refresh),
        )
        .await;
    }
    verdicts.finish();
    scene.assert_untouched(&target, "tampering").await;
}

#[tokio::test]
async fn missing_or_extra_segments_are_rejected() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let mut verdicts = Verdicts::new("segments");
    let shapes: [(&str, Shape); 13] = [
        ("one segment", |h, _, _| h.to_owned()),
        ("header.payload", |h, p, _| format!("{h}.{p}")),
        ("header.payload.", |h, p, _| format!("{h}.{p}.")),
        ("payload.signature", |_, p, s| format!("{p}.{s}")),
        (".payload.signature", |_, p, s| format!(".{p}.{s}")),
        ("header..signature", |h, _, s| format!("{h}..{s}")),
        ("four segments", |h, p, s| format!("{h}.{p}.{s}.{s}")),
        ("a trailing dot", |h, p, s| format!("{h}.{p}.{s}.")),
        ("a leading dot", |h, p, s| format!(".{h}.{p}.{s}")),
        ("header.payload..signature", |h, p, s| {
            format!("{h}.{p}..{s}")
        }),
        ("dots only", |_, _, _| "..".to_owned()),
        ("many dots", |_, _, _| ".".repeat(200)),
        ("one dot", |_, _, _| ".".to_owned()),
    ];
    let parts = |token: &str| {
        (
            forge::segment(token, 0).to_owned(),
            forge::segment(token, 1).to_owned(),
            forge::segment(token, 2).to_owned(),
        )
    };
    let (ah, ap, asig) = parts(&scene.victim.access);
    let (rh, rp, rsig) = parts(&scene.victim.refresh);
    for (name, shape) in shapes {
        both_refused(
            &target,
            &mut verdicts,
            name,
            &shape(&ah, &ap, &asig),
            &shape(&rh, &rp, &rsig),
        )
        .await;
    }
    verdicts.finish();
    scene.assert_untouched(&target, "segments").await;
}

#[tokio::test]
async fn invalid_base64_or_json_is_rejected() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let mut verdicts = Verdicts::new("base64 and JSON");
    let key = SECRET.as_bytes();
    // Base64 damage to a genuine token.
    let damages: [(&str, Damage); 8] = [
        ("padding on the header", |t| t.replacen('.', "=.", 1)),
        ("padding on the signature", |t| format!("{t}=")),
        ("'+' in the payload", |t| {
            let (h, rest) = t.split_once('.').unwrap();
            format!("{h}.+{rest}")
        }),
        ("'/' in the signature", |t| format!("{t}/")),
        ("'%' in the payload", |t| {
            let (h, rest) = t.split_once('.').unwrap();
            format!("{h}.%2{rest}")
        }),
        ("'*' in the header", |t| format!("*{t}")),
        ("a header of impossible length", |t| format!("A{t}")),
        ("a signature of impossible length", |t| format!("{t}A")),
    ];
    for (name, damage) in damages {
        both_refused(
            &target,
            &mut verdicts,
            name,
            &damage(&scene.victim.access),
            &damage(&scene.victim.refresh),
        )
        .await;
    }
    // Validly signed with the server's secret, but not a JWT a server would write.
    let access = Value::Object(forge::claims(&scene.victim.access)).to_string();
    let refresh = Value::Object(forge::claims(&scene.victim.refresh)).to_string();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    // The payload with a second `user_id` (the bystander's) appended.
    let duplicate = |payload: &str| {
        format!(
            "{},\"user_id\":\"{}\"}}",
            &payload[..payload.len() - 1],
            scene.bystander_id
        )
    };
    let texts: [(&str, &str, String, String); 7] = [
        (
            "a header that is not JSON",
            "not json",
            access.clone(),
            refresh.clone(),
        ),
        (
            "a payload that is not JSON",
            header,
            "not json".into(),
            "not json".into(),
        ),
        (
            "a payload that is a list",
            header,
            "[1]".into(),
            "[1]".into(),
        ),
        (
            "a payload that is null",
            header,
            "null".into(),
            "null".into(),
        ),
        (
            "a payload with trailing text",
            header,
            format!("{access} x"),
            format!("{refresh} x"),
        ),
        (
            "a header with a duplicate alg",
            r#"{"alg":"HS256","alg":"none"}"#,
            access.clone(),
            refresh.clone(),
        ),
        (
            "a payload with a duplicate user_id",
            header,
            duplicate(&access),
            duplicate(&refresh),
        ),
    ];
    for (name, header_text, access_text, refresh_text) in texts {
        both_refused(
            &target,
            &mut verdicts,
            name,
            &forge::sign_text(Hs::S256, header_text, &access_text, key),
            &forge::sign_text(Hs::S256, header_text, &refresh_text, key),
        )
        .await;
    }
    verdicts.finish();
    scene.assert_untouched(&target, "base64 and JSON").await;
}

/// A validly signed copy of `token` padded with a claim to at least `len` bytes.
fn padded(token: &str, len: usize) -> String {
    forge::resign(token, SECRET.as_bytes(), |claims| {
        claims.insert("padding".into(), json!("x".repeat(len * 3 / 4)));
    })
}

#[tokio::test]
async fn an_oversized_token_is_rejected_fast_and_the_server_stays_up() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let mut verdicts = Verdicts::new("oversized token");
    let check_fast = |verdicts: &mut Verdicts, variant: &str, elapsed: Duration| {
        if elapsed > FAST {
            verdicts.fail(variant, format!("took {elapsed:?}"));
        }
    };
    // Over the token limit (8 KiB) but under the header limit: refused by the verifier.
    let access = padded(&scene.victim.access, 10 * 1024);
    let refresh = padded(&scene.victim.refresh, 10 * 1024);
    assert!(access.len() > 8 * 1024 && access.len() < 15 * 1024);
    both_refused(&target, &mut verdicts, "10 KiB token", &access, &refresh).await;
    // 64 KiB and more: refused by the header limit before any parsing.
    for size in [64 * 1024, 256 * 1024] {
        let access = padded(&scene.victim.access, size);
        let refresh = padded(&scene.victim.refresh, size);
        let variant = format!("{} KiB token in Authorization", size / 1024);
        let answer = target.get_bearer("/whoami/", &access).await;
        verdicts.check(&variant, &answer, &headers_too_large());
        check_fast(&mut verdicts, &variant, answer.elapsed);
        let variant = format!("{} KiB token in the cookie", size / 1024);
        let answer = target.refresh_cookie(&refresh).await;
        verdicts.check(&variant, &answer, &headers_too_large());
        check_fast(&mut verdicts, &variant, answer.elapsed);
        // With a valid Bearer: the oversized cookie still closes nothing.
        let variant = format!("{} KiB cookie at /logout/", size / 1024);
        let answer = target
            .send(
                target
                    .client
                    .post(target.url("/logout/"))
                    .bearer_auth(&scene.victim.access)
                    .header(COOKIE, format!("refresh_token={refresh}")),
            )
            .await;
        verdicts.check(&variant, &answer, &headers_too_large());
        target.assert_alive(&variant).await;
    }
    // Beyond hyper's own head limit (≈ 408 KiB): hyper answers 431 with no body, or the
    // connection is reset before the answer is read; either way the server stays up.
    let huge = padded(&scene.victim.access, 1024 * 1024);
    let line = format!("Authorization: Bearer {huge}");
    let bytes = raw_http::request(
        "GET",
        "/whoami/",
        target.authority(),
        &[line.as_bytes()],
        b"",
    );
    let started = std::time::Instant::now();
    match target.raw(&bytes).await {
        RawOutcome::Response(response) if response.status == 431 => {}
        RawOutcome::Response(response) => {
            verdicts.fail(
                "1 MiB token over TCP",
                format!("status {}", response.status),
            );
        }
        RawOutcome::Closed(_) => verdicts.count(),
    }
    check_fast(&mut verdicts, "1 MiB token over TCP", started.elapsed());
    target.assert_alive("a 1 MiB token").await;

    // Bounded memory: many oversized requests at once do not grow the server's peak
    // resident memory by more than a generous 64 MiB.
    let peak_before = target.peak_memory_kib();
    let token = padded(&scene.victim.access, 64 * 1024);
    for _ in 0..4 {
        let requests = (0..32).map(|_| target.get_bearer("/whoami/", &token));
        for answer in join_all(requests).await {
            if answer.status != StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE {
                verdicts.fail(
                    "concurrent 64 KiB tokens",
                    format!("status {}", answer.status),
                );
            }
        }
    }
    let growth = target.peak_memory_kib().saturating_sub(peak_before);
    if growth > 64 * 1024 {
        verdicts.fail(
            "128 concurrent 64 KiB tokens",
            format!("peak memory grew by {growth} KiB"),
        );
    }
    verdicts.finish();
    target.assert_alive("the oversized tokens").await;
    scene.assert_untouched(&target, "oversized token").await;
}

#[tokio::test]
async fn an_oversized_refresh_token_in_the_body_is_rejected_fast() {
    let target = Target::hs256(
        TestDb::sqlite(),
        &[("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false")],
    )
    .await;
    target.create_user(crate::harness::VICTIM);
    let login = target
        .login_request(
            &json!({"email": crate::harness::VICTIM, "password": crate::harness::PASSWORD}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let refresh = login.body["refresh"].as_str().unwrap().to_owned();
    let before = target.session_rows().await;
    let mut verdicts = Verdicts::new("oversized token in the body");
    let variants = [
        (
            "a 60 KiB token",
            padded(&refresh, 60 * 1024),
            token_not_valid("Token is invalid"),
        ),
        (
            "a 1 MiB token",
            padded(&refresh, 1024 * 1024),
            Expected::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"detail": "Request body too large."}),
            ),
        ),
    ];
    for (name, token, expected) in variants {
        let answer = target
            .send(
                target
                    .client
                    .post(target.url("/refresh/"))
                    .json(&json!({"refresh": token})),
            )
            .await;
        verdicts.check(name, &answer, &expected);
        if answer.elapsed > FAST {
            verdicts.fail(name, format!("took {:?}", answer.elapsed));
        }
    }
    verdicts.finish();
    assert_eq!(target.session_rows().await, before, "no session changed");
    let answer = target
        .send(
            target
                .client
                .post(target.url("/refresh/"))
                .json(&json!({"refresh": refresh})),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "the genuine token still rotates"
    );
}
