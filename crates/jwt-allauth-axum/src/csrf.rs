//! The CSRF check of the cookie-carrying routes (`/refresh/` and `/logout/` in cookie
//! mode): browsers tell where a request comes from with `Sec-Fetch-Site` and `Origin`.

use axum::http::{HeaderMap, HeaderName, header};

/// `Sec-Fetch-Site`, sent by current browsers with every request.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Whether a request carrying the refresh cookie may proceed, by the rule of the crate
/// documentation:
///
/// 1. `Sec-Fetch-Site: cross-site` is refused unless the `Origin` is one of
///    `trusted_origins`;
/// 2. otherwise an `Origin` is refused unless it is the request's own origin (its host
///    and port match the `Host` header, whatever the scheme) or one of `trusted_origins`;
///    `Origin: null` is never trusted;
/// 3. a request with neither header (curl, mobile apps, servers) is allowed.
pub(crate) fn allows(headers: &HeaderMap, trusted_origins: &[String]) -> bool {
    let origin = headers.get(header::ORIGIN).map(|value| value.to_str().ok());
    let trusted = |origin: &str| {
        origin != "null"
            && trusted_origins
                .iter()
                .any(|trusted| trusted.eq_ignore_ascii_case(origin))
    };
    let cross_site = headers
        .get(SEC_FETCH_SITE)
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    match origin {
        // Not visible ASCII: nothing to trust.
        Some(None) => false,
        Some(Some(origin)) if cross_site => trusted(origin),
        None if cross_site => false,
        Some(Some(origin)) => same_origin(origin, headers) || trusted(origin),
        None => true,
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the host and port of the `Host` header.
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some((_, authority)) = origin.split_once("://") else {
        return false;
    };
    headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .is_some_and(|host| !host.is_empty() && host.eq_ignore_ascii_case(authority))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn the_rule() {
        let trusted = vec!["https://app.example.com".to_owned()];
        let host = ("host", "api.example.com");
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (&[host], true),
            (&[host, ("origin", "https://api.example.com")], true),
            (&[host, ("origin", "http://API.example.com")], true),
            (&[host, ("origin", "https://api.example.com:8443")], false),
            (&[host, ("origin", "https://app.example.com")], true),
            (&[host, ("origin", "https://evil.example")], false),
            (&[host, ("origin", "null")], false),
            (&[("origin", "https://api.example.com")], false),
            (&[host, ("sec-fetch-site", "same-origin")], true),
            (&[host, ("sec-fetch-site", "none")], true),
            (&[host, ("sec-fetch-site", "cross-site")], false),
            (
                &[
                    host,
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://app.example.com"),
                ],
                true,
            ),
            (
                &[
                    host,
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://api.example.com"),
                ],
                false,
            ),
            (
                &[
                    host,
                    ("sec-fetch-site", "same-site"),
                    ("origin", "https://evil.example.com"),
                ],
                false,
            ),
        ];
        for (pairs, allowed) in cases {
            assert_eq!(allows(&headers(pairs), &trusted), *allowed, "{pairs:?}");
        }
    }
}
