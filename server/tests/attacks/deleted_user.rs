//! The tokens of a deleted user: the user row is deleted directly from the users table
//! (as an application deleting an account would), leaving their session rows and tokens
//! behind.
//!
//! Decision (contract.md, sessions.md rule 6): `/refresh/` and every route that reads
//! the database for the caller (`/user/`, `/password/change/`, `/logout/`,
//! `/logout-all/`, `GET /sessions/`, `DELETE /sessions/{id}/`) loads the user first and
//! answers 401 `token_not_valid` ("Token is invalid or expired"), deleting all of that
//! user's sessions (events `session.revoked`, reason `deleted`). From then on every
//! access token of those sessions is refused on every route, `/whoami/` included, with
//! 401 ("Session is no longer active.": the revocation feed, events.md), and their
//! refresh tokens as at first sight. Other users are not affected.

use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::json;

use crate::harness::{
    Answer, BYSTANDER, Expected, PASSWORD, Scene, Target, Tokens, VICTIM, Verdicts, token_not_valid,
};

/// The victim logged in on two devices (the scene's login and one more), then deleted.
async fn deleted_victim(target: &Target) -> (Scene, Tokens) {
    let scene = Scene::set_up(target).await;
    let second = target.login(VICTIM).await;
    let victim_rows = victim_sessions(target, &scene).await;
    assert_eq!(victim_rows.len(), 2, "two sessions before the deletion");
    target.delete_user_row(VICTIM).await;
    (scene, second)
}

/// The session ids of the victim.
async fn victim_sessions(target: &Target, scene: &Scene) -> Vec<String> {
    sessions_of(target, &scene.victim_id).await
}

/// The session ids of `user_id`.
async fn sessions_of(target: &Target, user_id: &str) -> Vec<String> {
    target
        .session_rows()
        .await
        .into_iter()
        .filter(|(_, user, _)| user == user_id)
        .map(|(session, _, _)| session)
        .collect()
}

/// Checks the first answer to see the deleted victim: `user_gone`, and none of the
/// victim's sessions left behind.
async fn first_sight_refuses(
    target: &Target,
    scene: &Scene,
    verdicts: &mut Verdicts,
    name: &str,
    answer: &Answer,
) {
    verdicts.check(name, answer, &user_gone());
    let remaining = victim_sessions(target, scene).await;
    if !remaining.is_empty() {
        verdicts.fail(
            format!("after {name}"),
            format!("sessions left: {remaining:?}"),
        );
    }
}

/// The answer of every route that loads the user, and of `/refresh/`.
fn user_gone() -> Expected {
    token_not_valid("Token is invalid or expired")
}

/// The answer to an access token of a session that has been ended.
fn session_ended() -> Expected {
    token_not_valid("Session is no longer active.")
}

/// Checks the routes that load the user with the access token of `tokens`, an ended
/// session's, and `/refresh/` with its refresh token.
async fn user_routes_refuse(target: &Target, verdicts: &mut Verdicts, tokens: &Tokens) {
    let client = &target.client;
    let requests = [
        ("GET /user/", client.get(target.url("/user/"))),
        (
            "PATCH /user/",
            client
                .patch(target.url("/user/"))
                .json(&json!({"first_name": "Ghost"})),
        ),
        (
            "POST /password/change/",
            client.post(target.url("/password/change/")).json(&json!({
                "old_password": PASSWORD,
                "new_password1": "a new password 123",
                "new_password2": "a new password 123",
            })),
        ),
    ];
    for (name, request) in requests.into_iter().chain(session_routes(target, tokens)) {
        let answer = target.send(request.bearer_auth(&tokens.access)).await;
        verdicts.check(name, &answer, &session_ended());
    }
    let answer = target.refresh_cookie(&tokens.refresh).await;
    verdicts.check("POST /refresh/", &answer, &user_gone());
}

/// The session routes, which load the user too, with their bodies but no credentials.
fn session_routes(
    target: &Target,
    tokens: &Tokens,
) -> [(&'static str, reqwest::RequestBuilder); 4] {
    let client = &target.client;
    // The user is loaded before the session is looked up: any id gets the same answer.
    let session = "0123456789abcdef0123456789abcdef";
    [
        ("GET /sessions/", client.get(target.url("/sessions/"))),
        (
            "DELETE /sessions/{id}/",
            client.delete(target.url(&format!("/sessions/{session}/"))),
        ),
        (
            "POST /logout/",
            client
                .post(target.url("/logout/"))
                .header(COOKIE, format!("refresh_token={}", tokens.refresh)),
        ),
        ("POST /logout-all/", client.post(target.url("/logout-all/"))),
    ]
}

/// The bystander is unaffected: their session rotates.
async fn bystander_unaffected(target: &Target, scene: &Scene, before: &[String]) {
    assert_eq!(
        sessions_of(target, &scene.bystander_id).await,
        before,
        "the bystander's sessions are untouched"
    );
    let next = target.rotate(&scene.bystander).await;
    let answer = target.get_bearer("/user/", &next.access).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["email"], BYSTANDER);
}

#[tokio::test]
async fn a_deleted_users_token_at_a_user_route_is_refused_and_ends_every_session() {
    let target = Target::sqlite(&[]).await;
    let (scene, second) = deleted_victim(&target).await;
    let bystander_sessions = sessions_of(&target, &scene.bystander_id).await;
    let mut verdicts = Verdicts::new("deleted user, user route first");
    // Stateless verification: the access token is valid until it expires.
    let answer = target.get_bearer("/whoami/", &scene.victim.access).await;
    verdicts.check("GET /whoami/ before", &answer, &Expected::ok());
    // The first route that loads the user refuses and deletes every session.
    let answer = target.get_bearer("/user/", &scene.victim.access).await;
    first_sight_refuses(&target, &scene, &mut verdicts, "GET /user/", &answer).await;
    user_routes_refuse(&target, &mut verdicts, &second).await;
    // The session is ended: the access-token-only route refuses it too.
    let answer = target.get_bearer("/whoami/", &second.access).await;
    verdicts.check("GET /whoami/ after", &answer, &session_ended());
    verdicts.finish();
    bystander_unaffected(&target, &scene, &bystander_sessions).await;
}

#[tokio::test]
async fn a_deleted_users_token_at_a_session_route_is_refused_and_ends_every_session() {
    for route in 0..4 {
        let target = Target::sqlite(&[]).await;
        let (scene, second) = deleted_victim(&target).await;
        let bystander_sessions = sessions_of(&target, &scene.bystander_id).await;
        let mut verdicts = Verdicts::new("deleted user, session route first");
        let routes = session_routes(&target, &scene.victim);
        let (name, request) = routes.into_iter().nth(route).unwrap();
        let answer = target.send(request.bearer_auth(&scene.victim.access)).await;
        first_sight_refuses(&target, &scene, &mut verdicts, name, &answer).await;
        user_routes_refuse(&target, &mut verdicts, &second).await;
        verdicts.finish();
        bystander_unaffected(&target, &scene, &bystander_sessions).await;
    }
}

#[tokio::test]
async fn a_deleted_users_refresh_token_is_refused_and_ends_every_session() {
    let target = Target::sqlite(&[]).await;
    let (scene, second) = deleted_victim(&target).await;
    let bystander_sessions = sessions_of(&target, &scene.bystander_id).await;
    let mut verdicts = Verdicts::new("deleted user, refresh first");
    let answer = target.refresh_cookie(&scene.victim.refresh).await;
    first_sight_refuses(&target, &scene, &mut verdicts, "POST /refresh/", &answer).await;
    user_routes_refuse(&target, &mut verdicts, &second).await;
    verdicts.finish();
    bystander_unaffected(&target, &scene, &bystander_sessions).await;
}

#[tokio::test]
async fn with_the_session_check_a_deleted_users_access_token_is_refused_everywhere() {
    let target = Target::sqlite(&[("JWT_ALLAUTH_ACCESS_TOKEN_SESSION_CHECK", "true")]).await;
    let (scene, second) = deleted_victim(&target).await;
    let bystander_sessions = sessions_of(&target, &scene.bystander_id).await;
    let mut verdicts = Verdicts::new("deleted user, session check on");
    let answer = target.refresh_cookie(&scene.victim.refresh).await;
    first_sight_refuses(&target, &scene, &mut verdicts, "POST /refresh/", &answer).await;
    // Every route now refuses the other device's access token: its session is gone.
    let closed = token_not_valid("Session is no longer active.");
    let client = &target.client;
    let requests = [
        ("GET /whoami/", client.get(target.url("/whoami/"))),
        ("GET /sessions/", client.get(target.url("/sessions/"))),
        ("POST /logout-all/", client.post(target.url("/logout-all/"))),
        ("GET /user/", client.get(target.url("/user/"))),
    ];
    for (name, request) in requests {
        let answer = target.send(request.bearer_auth(&second.access)).await;
        verdicts.check(name, &answer, &closed);
    }
    let answer = target.refresh_cookie(&second.refresh).await;
    verdicts.check("POST /refresh/ (second device)", &answer, &user_gone());
    verdicts.finish();
    bystander_unaffected(&target, &scene, &bystander_sessions).await;
}
