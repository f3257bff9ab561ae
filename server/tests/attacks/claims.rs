//! Attacks on the claims: `exp`/`iat` of the wrong JSON type or out of range, missing or
//! mistyped claims, a refresh token used as a Bearer token and an access token used as a
//! refresh token, and one user's token aimed at another user's session.
//!
//! The tokens are signed with the server's own secret (a leaked secret, or a buggy
//! issuer sharing it): the signature passes, so these prove that the claims themselves
//! are checked strictly, and that odd values cannot overflow or crash anything.

use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Map, Value, json};

use crate::forge::{self, Hs};
use crate::harness::{
    Expected, SECRET, Scene, Target, Verdicts, access_rejected, bad_request, token_not_valid,
};

/// `claims` serialized with the claim `name` written as the raw JSON text `raw` (which
/// may be a number no JSON library would write, like `1e400`), signed with the secret.
fn with_raw_claim(claims: &Map<String, Value>, name: &str, raw: &str) -> String {
    let mut claims = claims.clone();
    claims.insert(name.to_owned(), json!("@@RAW@@"));
    let text = Value::Object(claims)
        .to_string()
        .replace("\"@@RAW@@\"", raw);
    forge::sign_text(
        Hs::S256,
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &text,
        SECRET.as_bytes(),
    )
}

#[tokio::test]
async fn exp_and_iat_of_the_wrong_type_or_range_are_refused() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let access = forge::claims(&scene.victim.access);
    let refresh = forge::claims(&scene.victim.refresh);
    let exp = access["exp"].as_i64().unwrap();
    let invalid_types = [
        format!("\"{exp}\""),
        format!("{exp}.0"),
        format!("{exp}.5"),
        "1.5e9".to_owned(),
        "1e400".to_owned(),
        "-1e400".to_owned(),
        u64::MAX.to_string(),
        "99999999999999999999999".to_owned(),
        "null".to_owned(),
        "true".to_owned(),
        "[]".to_owned(),
        "{}".to_owned(),
    ];
    let mut verdicts = Verdicts::new("exp and iat");
    for claim in ["exp", "iat"] {
        for raw in &invalid_types {
            let variant = format!("{claim} = {raw}");
            let answer = target
                .get_bearer("/whoami/", &with_raw_claim(&access, claim, raw))
                .await;
            verdicts.check(
                format!("{variant} [access at /whoami/]"),
                &answer,
                &access_rejected("Token is invalid"),
            );
            let answer = target
                .refresh_cookie(&with_raw_claim(&refresh, claim, raw))
                .await;
            verdicts.check(
                format!("{variant} [refresh at /refresh/]"),
                &answer,
                &token_not_valid("Token is invalid"),
            );
        }
    }
    // Integers in the past are expired, however far.
    for raw in ["0", "-1", &i64::MIN.to_string(), &(exp - 3600).to_string()] {
        let variant = format!("exp = {raw}");
        let answer = target
            .get_bearer("/whoami/", &with_raw_claim(&access, "exp", raw))
            .await;
        verdicts.check(
            format!("{variant} [access at /whoami/]"),
            &answer,
            &access_rejected("Token is expired"),
        );
        let answer = target
            .refresh_cookie(&with_raw_claim(&refresh, "exp", raw))
            .await;
        verdicts.check(
            format!("{variant} [refresh at /refresh/]"),
            &answer,
            &token_not_valid("Token is expired"),
        );
    }
    // Extreme integers that are well-typed do not overflow anything: the token is what
    // its signature says (`iat` is informational, as in Simple JWT).
    for (claim, raw) in [
        ("exp", i64::MAX.to_string()),
        ("iat", i64::MAX.to_string()),
        ("iat", i64::MIN.to_string()),
        ("iat", "-1".to_owned()),
    ] {
        let answer = target
            .get_bearer("/whoami/", &with_raw_claim(&access, claim, &raw))
            .await;
        verdicts.check(
            format!("{claim} = {raw} [access at /whoami/, accepted]"),
            &answer,
            &Expected::ok(),
        );
    }
    verdicts.finish();
    scene.assert_untouched(&target, "exp and iat").await;
}

#[tokio::test]
async fn missing_or_mistyped_claims_are_refused() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let access = forge::claims(&scene.victim.access);
    let refresh = forge::claims(&scene.victim.refresh);
    let mut verdicts = Verdicts::new("missing or mistyped claims");
    let required = [
        "token_type",
        "exp",
        "iat",
        "jti",
        "user_id",
        "role",
        "email_verified",
    ];
    for claim in required {
        let token = forge::resign(&scene.victim.access, SECRET.as_bytes(), |c| {
            c.remove(claim);
        });
        let answer = target.get_bearer("/whoami/", &token).await;
        verdicts.check(
            format!("no {claim} [access at /whoami/]"),
            &answer,
            &access_rejected("Token is invalid"),
        );
    }
    // A refresh token needs its `session` too (rule 8: refused without the database).
    for claim in required.iter().chain(&["session"]) {
        let token = forge::resign(&scene.victim.refresh, SECRET.as_bytes(), |c| {
            c.remove(*claim);
        });
        let answer = target.refresh_cookie(&token).await;
        verdicts.check(
            format!("no {claim} [refresh at /refresh/]"),
            &answer,
            &token_not_valid("Token is invalid"),
        );
    }
    let victim_id: i64 = scene.victim_id.parse().unwrap();
    let mistyped = [
        ("user_id", json!(victim_id)),
        ("user_id", json!(null)),
        ("user_id", json!([scene.victim_id])),
        ("jti", json!(1)),
        ("role", json!("1000")),
        ("role", json!(1000.5)),
        ("email_verified", json!("true")),
        ("email_verified", json!(1)),
        ("token_type", json!("ACCESS")),
        ("token_type", json!("REFRESH")),
        ("token_type", json!(null)),
        ("session", json!(1)),
        ("session_iat", json!("0")),
    ];
    for (claim, value) in &mistyped {
        let change = |c: &mut Map<String, Value>| {
            c.insert((*claim).to_owned(), value.clone());
        };
        let mut access = access.clone();
        change(&mut access);
        let answer = target
            .get_bearer(
                "/whoami/",
                &forge::sign_claims(Hs::S256, &Value::Object(access), SECRET.as_bytes()),
            )
            .await;
        verdicts.check(
            format!("{claim} = {value} [access at /whoami/]"),
            &answer,
            &access_rejected("Token is invalid"),
        );
        let mut refresh = refresh.clone();
        change(&mut refresh);
        let answer = target
            .refresh_cookie(&forge::sign_claims(
                Hs::S256,
                &Value::Object(refresh),
                SECRET.as_bytes(),
            ))
            .await;
        verdicts.check(
            format!("{claim} = {value} [refresh at /refresh/]"),
            &answer,
            &token_not_valid("Token is invalid"),
        );
    }
    verdicts.finish();
    scene
        .assert_untouched(&target, "missing or mistyped claims")
        .await;
}

#[tokio::test]
async fn a_refresh_token_used_as_bearer_is_refused() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let refresh = &scene.victim.refresh;
    let session = forge::claims(refresh)["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = &target.client;
    let requests = [
        ("GET /whoami/", client.get(target.url("/whoami/"))),
        ("GET /sessions/", client.get(target.url("/sessions/"))),
        (
            "DELETE /sessions/{own session}/",
            client.delete(target.url(&format!("/sessions/{session}/"))),
        ),
        ("GET /user/", client.get(target.url("/user/"))),
        (
            "PATCH /user/",
            client
                .patch(target.url("/user/"))
                .json(&json!({"first_name": "Mallory"})),
        ),
        ("POST /logout-all/", client.post(target.url("/logout-all/"))),
        (
            "POST /logout/",
            client
                .post(target.url("/logout/"))
                .header(COOKIE, format!("refresh_token={refresh}")),
        ),
        (
            "POST /password/change/",
            client.post(target.url("/password/change/")).json(&json!({
                "old_password": crate::harness::PASSWORD,
                "new_password1": "a new password 123",
                "new_password2": "a new password 123",
            })),
        ),
    ];
    let mut verdicts = Verdicts::new("refresh token as Bearer");
    for (name, request) in requests {
        let answer = target.send(request.bearer_auth(refresh)).await;
        verdicts.check(name, &answer, &access_rejected("Token has wrong type"));
    }
    verdicts.finish();
    scene
        .assert_untouched(&target, "refresh token as Bearer")
        .await;
}

#[tokio::test]
async fn an_access_token_used_as_refresh_token_is_refused() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let mut verdicts = Verdicts::new("access token as refresh token");
    let answer = target.refresh_cookie(&scene.victim.access).await;
    verdicts.check(
        "access token in the /refresh/ cookie",
        &answer,
        &token_not_valid("Token has wrong type"),
    );
    // At /logout/ an access token in the cookie closes nothing.
    let answer = target
        .send(
            target
                .client
                .post(target.url("/logout/"))
                .bearer_auth(&scene.victim.access)
                .header(COOKIE, format!("refresh_token={}", scene.victim.access)),
        )
        .await;
    verdicts.check(
        "access token in the /logout/ cookie",
        &answer,
        &bad_request("Invalid token."),
    );
    verdicts.finish();
    scene
        .assert_untouched(&target, "access token as refresh token")
        .await;
}

#[tokio::test]
async fn a_token_aimed_at_another_users_session_closes_nothing() {
    let target = Target::sqlite(&[]).await;
    let scene = Scene::set_up(&target).await;
    let mut verdicts = Verdicts::new("another user's session");
    // The bystander logs out with the victim's refresh cookie.
    let answer = target
        .send(
            target
                .client
                .post(target.url("/logout/"))
                .bearer_auth(&scene.bystander.access)
                .header(COOKIE, format!("refresh_token={}", scene.victim.refresh)),
        )
        .await;
    verdicts.check(
        "the victim's refresh token at the bystander's /logout/",
        &answer,
        &bad_request("Invalid token."),
    );
    // The bystander deletes the victim's session by id.
    let session = forge::claims(&scene.victim.refresh)["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = target
        .send(
            target
                .client
                .delete(target.url(&format!("/sessions/{session}/")))
                .bearer_auth(&scene.bystander.access),
        )
        .await;
    verdicts.check(
        "DELETE of the victim's session by the bystander",
        &answer,
        &Expected::new(StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
    );
    // The victim's current refresh token relabelled with the bystander's user id (signed
    // with the secret): the row belongs to someone else, so it is neither rotated nor
    // revoked.
    let bystander_id = scene.bystander_id.clone();
    let swapped = forge::resign(&scene.victim.refresh, SECRET.as_bytes(), |c| {
        c.insert("user_id".into(), json!(bystander_id));
    });
    let answer = target.refresh_cookie(&swapped).await;
    verdicts.check(
        "the victim's session under the bystander's user_id",
        &answer,
        &token_not_valid("Token is invalid or expired"),
    );
    verdicts.finish();
    scene
        .assert_untouched(&target, "another user's session")
        .await;
}
