//! Parsers for the values of the account settings; the shared ones are
//! [`jwt_allauth::settings::value`]'s.

use std::time::Duration;

use jwt_allauth::settings::Value;
use jwt_allauth::settings::value::{Reason, expected, optional_string, parse_duration, string};

use super::{EmailVerification, RateLimit, Registration};

/// `mandatory`, `optional` or `none` in any case; `true`/`false` as `mandatory`/`none`.
pub(super) fn email_verification(value: &Value) -> Result<EmailVerification, Reason> {
    let text = match value {
        Value::Bool(true) => "mandatory".to_owned(),
        Value::Bool(false) => "none".to_owned(),
        Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => String::new(),
    };
    match text.as_str() {
        "mandatory" | "true" => Ok(EmailVerification::Mandatory),
        "optional" => Ok(EmailVerification::Optional),
        "none" | "false" => Ok(EmailVerification::None),
        _ => Err(expected("expected mandatory, optional or none", value)),
    }
}

/// `open` or `closed`, in any case.
pub(super) fn registration(value: &Value) -> Result<Registration, Reason> {
    match value
        .as_str()
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("open") => Ok(Registration::Open),
        Some("closed") => Ok(Registration::Closed),
        _ => Err(expected("expected open or closed", value)),
    }
}

/// Whether `text` is an absolute `http`/`https` URL with a host, no user info, no
/// fragment and no whitespace or control characters.
fn is_web_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && !host.is_empty()
        && !host.contains('@')
        && !text.contains('#')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An absolute `http`/`https` URL; empty means none.
pub(super) fn optional_url(value: &Value) -> Result<Option<String>, Reason> {
    match optional_string(value)? {
        None => Ok(None),
        Some(url) if is_web_url(url.trim()) => Ok(Some(url.trim().to_owned())),
        Some(_) => Err(expected(
            "expected an absolute http or https URL like https://app.example.com/page",
            value,
        )),
    }
}

/// A base URL for links: absolute `http`/`https`, no query; a trailing `/` dropped.
pub(super) fn base_url(value: &Value) -> Result<Option<String>, Reason> {
    let bad = || {
        expected(
            "expected an absolute http or https URL without query, like \
             https://auth.example.com",
            value,
        )
    };
    match optional_url(value).map_err(|_| bad())? {
        Some(url) if url.contains('?') => Err(bad()),
        Some(url) => Ok(Some(url.trim_end_matches('/').to_owned())),
        None => Ok(None),
    }
}

/// An absolute URL holding `{key}` exactly once; empty means none.
pub(super) fn key_template_url(value: &Value) -> Result<Option<String>, Reason> {
    let url = optional_url(value)?;
    if let Some(url) = &url
        && url.matches("{key}").count() != 1
    {
        return Err(expected(
            "expected a URL with {key} once, like https://app.example.com/verify?key={key}",
            value,
        ));
    }
    Ok(url)
}

/// `COUNT/DURATION` (`20/1h`), or `0` for no limit.
pub(super) fn rate_limit(value: &Value) -> Result<Option<RateLimit>, Reason> {
    let bad = || {
        expected(
            "expected COUNT/DURATION like 20/1h, or 0 for no limit",
            value,
        )
    };
    let text = match value {
        Value::Number(n) if n.as_u64() == Some(0) => return Ok(None),
        Value::String(_) => string(value)?.trim(),
        _ => return Err(bad()),
    };
    if text == "0" {
        return Ok(None);
    }
    let (count, window) = text.split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    let window = parse_duration(window.trim()).map_err(|_| bad())?;
    if count == 0 || window == Duration::ZERO {
        return Err(bad());
    }
    Ok(Some(RateLimit::new(count, window)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rate_limits() {
        assert_eq!(
            rate_limit(&json!("20/1h")),
            Ok(Some(RateLimit::new(20, Duration::from_secs(3600))))
        );
        assert_eq!(
            rate_limit(&json!(" 3 / 15m ")),
            Ok(Some(RateLimit::new(3, Duration::from_secs(900))))
        );
        assert_eq!(rate_limit(&json!("0")), Ok(None));
        assert_eq!(rate_limit(&json!(0)), Ok(None));
        for bad in [
            json!("20"),
            json!("0/1h"),
            json!("5/0s"),
            json!("x/1h"),
            json!("5/soon"),
            json!(5),
            json!(""),
        ] {
            assert!(rate_limit(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            base_url(&json!("https://auth.example.com/")),
            Ok(Some("https://auth.example.com".to_owned()))
        );
        assert_eq!(
            base_url(&json!("http://127.0.0.1:8000/auth")),
            Ok(Some("http://127.0.0.1:8000/auth".to_owned()))
        );
        assert_eq!(base_url(&json!("")), Ok(None));
        for bad in [
            "auth.example.com",
            "ftp://example.com",
            "https://",
            "https://user@example.com",
            "https://example.com/#x",
            "https://example.com/?a=b",
            "https://exa mple.com",
            "javascript://x",
        ] {
            assert!(base_url(&json!(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            key_template_url(&json!("https://app/verify?key={key}")),
            Ok(Some("https://app/verify?key={key}".to_owned()))
        );
        assert!(key_template_url(&json!("https://app/verify")).is_err());
        assert!(key_template_url(&json!("https://app/{key}/{key}")).is_err());
        assert_eq!(
            optional_url(&json!("https://app.example.com/reset?from=mail")),
            Ok(Some("https://app.example.com/reset?from=mail".to_owned()))
        );
    }

    #[test]
    fn modes() {
        assert_eq!(
            email_verification(&json!("Optional")),
            Ok(EmailVerification::Optional)
        );
        assert_eq!(
            email_verification(&json!(true)),
            Ok(EmailVerification::Mandatory)
        );
        assert_eq!(
            email_verification(&json!("false")),
            Ok(EmailVerification::None)
        );
        assert!(email_verification(&json!("sometimes")).is_err());
        assert_eq!(registration(&json!("CLOSED")), Ok(Registration::Closed));
        assert!(registration(&json!("invite")).is_err());
    }
}
