//! The `max-age` of a JWKS answer.

use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::CACHE_CONTROL;

/// The freshness lifetime the `Cache-Control` headers of an answer give (RFC 9111
/// §5.2.2.1): its `max-age`; zero with `no-cache` or `no-store`; `None` when no header
/// says (or none parses). Directive names are matched case-insensitively.
pub(super) fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age")
                && let Some(seconds) = argument.and_then(|text| text.parse::<u64>().ok())
            {
                found = Some(Duration::from_secs(seconds));
            }
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn max_age_reads_the_directive() {
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(max_age(&headers(&[])), None);
        assert_eq!(max_age(&headers(&["public, max-age=300"])), secs(300));
        assert_eq!(max_age(&headers(&["Max-Age = 60 , public"])), secs(60));
        assert_eq!(max_age(&headers(&["max-age=\"42\""])), secs(42));
        assert_eq!(max_age(&headers(&["public", "max-age=7"])), secs(7));
        assert_eq!(max_age(&headers(&["max-age=-1"])), None);
        assert_eq!(max_age(&headers(&["max-age=abc"])), None);
        assert_eq!(max_age(&headers(&["max-age=300, no-cache"])), secs(0));
        assert_eq!(max_age(&headers(&["no-store"])), secs(0));
    }
}
