//! The server's OpenAPI document and its route: the library's document
//! ([`jwt_allauth_axum::openapi`]), `/health/` and `/ready/`, and the answers the server's
//! own layers give on every route.

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use utoipa::openapi::schema::{OneOfBuilder, Schema};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::REQUEST_TIMEOUT;
use crate::health;
use crate::limits::{HEADER_LIMIT, HEADERS_TOO_LARGE_CODE, HEADERS_TOO_LARGE_DETAIL};

/// The path the OpenAPI document is served at.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The OpenAPI 3.1 document of the server, generated from the handlers: every route of
/// the wire contract ([`jwt_allauth_axum::openapi`]) with `/health/` and `/ready/`
/// ([`health::openapi`]). Every operation also lists what the server's layers answer
/// before or instead of the route: 431 over the [`HEADER_LIMIT`], and 503 past the
/// [`REQUEST_TIMEOUT`] (next to the database's 503 where the route has one).
pub fn openapi() -> OpenApi {
    let mut document = jwt_allauth_axum::openapi();
    document.merge(health::openapi());
    document.merge(crate::account_page::openapi());
    add_layer_responses(&mut document);
    document
}

/// Adds the 431 of the header limit and the 503 of the timeout to every operation.
fn add_layer_responses(document: &mut OpenApi) {
    let too_large = ResponseBuilder::new()
        .description(format!(
            "The request's header block is over {} KiB: `{{\"detail\":\"{HEADERS_TOO_LARGE_DETAIL}\",\
             \"code\":\"{}\"}}`.",
            HEADER_LIMIT / 1024,
            HEADERS_TOO_LARGE_CODE.as_str()
        ))
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build();
    let timed_out = format!(
        "The request took over {} s: `{{\"detail\":\"Request timed out.\"}}`.",
        REQUEST_TIMEOUT.as_secs()
    );
    let operations = document.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
    });
    for operation in operations {
        let responses = &mut operation.responses.responses;
        responses.insert("431".to_owned(), RefOr::T(too_large.clone()));
        let unavailable = match responses.remove("503") {
            // The database's 503 (`ErrorBody`), or the timeout's (`Detail`).
            Some(RefOr::T(database)) => ResponseBuilder::new()
                .description(format!("{} Or: {timed_out}", database.description))
                .content(
                    "application/json",
                    Content::new(Some(Schema::OneOf(
                        OneOfBuilder::new()
                            .item(Ref::from_schema_name("ErrorBody"))
                            .item(Ref::from_schema_name("Detail"))
                            .build(),
                    ))),
                )
                .build(),
            _ => ResponseBuilder::new()
                .description(timed_out.clone())
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name("Detail"))),
                )
                .build(),
        };
        responses.insert("503".to_owned(), RefOr::T(unavailable));
    }
}

/// `GET /openapi.json`: the [`openapi`] document, built and serialized once.
pub(crate) fn openapi_router() -> Router {
    let json = openapi()
        .to_json()
        .map(Bytes::from)
        .inspect_err(|error| {
            // Cannot happen (the document is plain data): answer 500 rather than panic.
            tracing::error!(%error, "the OpenAPI document cannot be serialized");
        })
        .ok();
    Router::new().route(
        OPENAPI_PATH,
        get(move || {
            let json = json.clone();
            async move {
                match json {
                    Some(json) => (
                        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                        json,
                    )
                        .into_response(),
                    None => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(json!({"detail": "Internal server error."})),
                    )
                        .into_response(),
                }
            }
        }),
    )
}
