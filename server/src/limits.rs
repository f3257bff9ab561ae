//! The request header size limit.
//!
//! A request whose header block is larger than [`HEADER_LIMIT`] (16 KiB) is answered 431
//! `{"detail":"Request header fields too large.","code":"headers_too_large"}` before any
//! route, extractor or token check sees it. The block is measured as HTTP/1.1 sends it:
//! for each field, its name, `": "`, its value and CRLF ([`header_block_len`]); the
//! request line is not counted.
//!
//! hyper, which serves the connections ([`crate::connections`]) with its default HTTP/1
//! settings, has limits of its own that apply first: a request head larger than about
//! 408 KiB (its read buffer), or with more than 100 header fields, is answered 431 with an
//! empty body and the connection closed, and a head that does not parse (a bare CR or
//! LF, a control character in a value) is answered 400 with an empty body. Everything
//! smaller and well formed reaches this limit.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use jwt_allauth::keys::MAX_TOKEN_BYTES;
use jwt_allauth::tokens::MAX_COOKIE_BYTES;
use jwt_allauth_axum::{ErrorBody, ErrorCode};

/// The largest header block accepted, in bytes: 16 KiB, counted by [`header_block_len`].
///
/// It holds the longest credentials the server mints, both at once as `/logout/` takes
/// them in cookie mode, with [`HEADER_ROOM`] to spare: an access token of up to
/// [`MAX_TOKEN_BYTES`] (8 KiB, the verification limit) as `Authorization: Bearer`, and a
/// refresh cookie of up to [`MAX_COOKIE_BYTES`] (4 KiB, name and value, what browsers
/// keep). Neither is ever minted longer (`TokenCodec::max_token_bytes`). In body mode
/// the refresh token travels in the body instead.
pub const HEADER_LIMIT: usize = 16 * 1024;

/// What [`HEADER_LIMIT`] leaves for the other headers of a request that carries the
/// longest access token and the longest refresh cookie the server mints: 4061 bytes, for
/// the `Host`, `User-Agent`, `Accept-*`, `Origin`, `Sec-Fetch-*` headers and the site's
/// other cookies. In practice the access token of a session in cookie mode
/// is about as long as its refresh token, which leaves some 8 KiB.
pub const HEADER_ROOM: usize = HEADER_LIMIT
    - ("authorization: Bearer \r\n".len() + MAX_TOKEN_BYTES)
    - ("cookie: =\r\n".len() + MAX_COOKIE_BYTES);

const _: () = assert!(
    HEADER_ROOM >= 3 * 1024,
    "HEADER_LIMIT must fit the longest tokens"
);

/// The `detail` of the 431 answer.
pub const HEADERS_TOO_LARGE_DETAIL: &str = "Request header fields too large.";

/// The `code` of the 431 answer.
pub const HEADERS_TOO_LARGE_CODE: ErrorCode = ErrorCode::HeadersTooLarge;

/// Bytes a field takes besides its name and value on the wire: `": "` and CRLF.
const FIELD_OVERHEAD: usize = 4;

/// The size of `headers` as HTTP/1.1 header lines: `name: value\r\n` for each field
/// (a field given several times counts once per value).
pub fn header_block_len(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + FIELD_OVERHEAD)
        .fold(0, usize::saturating_add)
}

/// `router` answering [`headers_too_large`] to a request whose header block is over
/// `limit` bytes ([`header_block_len`]).
pub fn with_header_limit(router: Router, limit: usize) -> Router {
    router.layer(middleware::from_fn(
        move |request: Request<Body>, next: Next| async move {
            if header_block_len(request.headers()) > limit {
                // The size only: the headers may carry credentials.
                tracing::warn!(limit, "request headers too large");
                return headers_too_large();
            }
            next.run(request).await
        },
    ))
}

/// 431 `{"detail":"Request header fields too large.","code":"headers_too_large"}`.
pub fn headers_too_large() -> Response {
    (
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        axum::Json(ErrorBody::new(
            HEADERS_TOO_LARGE_DETAIL,
            HEADERS_TOO_LARGE_CODE,
        )),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderName, HeaderValue, header};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[test]
    fn the_block_is_measured_as_http_1_sends_it() {
        let mut headers = HeaderMap::new();
        assert_eq!(header_block_len(&headers), 0);
        headers.insert(header::HOST, HeaderValue::from_static("example.com"));
        // "host: example.com\r\n"
        assert_eq!(header_block_len(&headers), 19);
        headers.append(header::COOKIE, HeaderValue::from_static("a=1"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        // + 2 × "cookie: a=1\r\n"
        assert_eq!(header_block_len(&headers), 19 + 2 * 13);
    }

    #[tokio::test]
    async fn a_block_one_byte_over_the_limit_is_431_and_at_the_limit_passes() {
        let limit = 64;
        let router = with_header_limit(Router::new().route("/", get(|| async { "ok" })), limit);
        let name = HeaderName::from_static("x-padding");
        // "x-padding: <value>\r\n" is 13 bytes besides the value.
        for (value_len, expected) in [
            (limit - 13, StatusCode::OK),
            (limit - 12, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        ] {
            let request = Request::get("/")
                .header(&name, "v".repeat(value_len))
                .body(Body::empty())
                .expect("request");
            let response = router.clone().oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), expected, "value of {value_len} bytes");
        }
    }
}
