//! A resource server: a service of its own, with no database and no user table, that
//! protects its routes with the access tokens a `jwt-allauth` server issues. It verifies
//! them with the server's public keys, read from its JWKS URL
//! (`/.well-known/jwks.json`) and kept fresh by a
//! [`RemoteKeySet`]; it never holds a key that
//! could sign a token.
//!
//! Routes:
//! - `GET /public/`: open to everyone; says who is calling when a valid token is sent
//!   (`Option<AuthUser>`);
//! - `GET /me/`: the caller's `user_id`, `role` and `email_verified` (`AuthUser`; 401
//!   with the contract's body without a valid token);
//! - `GET /staff/`: staff only (`RequireRole<1000>`; 403 for other users).

use axum::Json;
use axum::Router;
use axum::routing::get;
use jwt_allauth_axum::jwks::{JwksError, RemoteKeySet};
use jwt_allauth_axum::{AuthUser, Authenticator, Clock, RequireRole};
use serde_json::{Value, json};

/// The role of staff users (`is_staff` on the server).
pub const STAFF: i64 = 1000;

/// The service's routes, verifying tokens with `keys`.
pub fn app(keys: RemoteKeySet) -> Router {
    Router::new()
        .route("/public/", get(public))
        .route("/me/", get(me))
        .route("/staff/", get(staff))
        .with_state(Authenticator::from_jwks(keys, Clock::system()))
}

/// Fetches the key set at `jwks_url` once (the service does not start without keys) and
/// returns the service's routes.
pub async fn app_from_jwks_url(jwks_url: &str) -> Result<Router, JwksError> {
    let keys = RemoteKeySet::builder(jwks_url).build().await?;
    Ok(app(keys))
}

async fn public(caller: Option<AuthUser>) -> Json<Value> {
    Json(match caller {
        Some(caller) => json!({"hello": caller.user_id()}),
        None => json!({"hello": "stranger"}),
    })
}

async fn me(caller: AuthUser) -> Json<Value> {
    Json(json!({
        "user_id": caller.user_id(),
        "role": caller.role(),
        "email_verified": caller.claims().email_verified,
    }))
}

async fn staff(caller: RequireRole<STAFF>) -> Json<Value> {
    Json(json!({"staff": caller.user_id()}))
}
