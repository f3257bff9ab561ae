//! Parsers for the values of the HTTP settings; the shared ones are
//! [`jwt_allauth::settings::value`]'s.

use std::net::IpAddr;

use ipnet::IpNet;
use jwt_allauth::settings::Value;
use jwt_allauth::settings::value::{Reason, expected, list, optional_string, string};

use super::SameSite;

/// `strict`, `lax` or `none`, ignoring case.
pub(super) fn same_site(value: &Value) -> Result<SameSite, Reason> {
    match value
        .as_str()
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("strict") => Ok(SameSite::Strict),
        Some("lax") => Ok(SameSite::Lax),
        Some("none") => Ok(SameSite::None),
        _ => Err(expected("expected strict, lax or none", value)),
    }
}

/// A cookie name: an RFC 6265 token.
pub(super) fn cookie_name(value: &Value) -> Result<String, Reason> {
    let s = string(value)?;
    let is_token_char = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c);
    if s.is_empty() || !s.chars().all(is_token_char) {
        return Err(expected(
            "expected a non-empty cookie name without spaces or separators",
            value,
        ));
    }
    Ok(s.to_owned())
}

/// A cookie path: starts with `/`, no `;` or control characters.
pub(super) fn cookie_path(value: &Value) -> Result<String, Reason> {
    let s = string(value)?;
    if !s.starts_with('/') || s.chars().any(|c| c == ';' || c.is_control()) {
        return Err(expected("expected a path starting with /", value));
    }
    Ok(s.to_owned())
}

/// A cookie domain; empty means none (a host-only cookie).
pub(super) fn cookie_domain(value: &Value) -> Result<Option<String>, Reason> {
    let domain = optional_string(value)?;
    if let Some(d) = &domain
        && d.chars()
            .any(|c| c == ';' || c.is_whitespace() || c.is_control())
    {
        return Err(expected("expected a domain name", value));
    }
    Ok(domain)
}

/// A network (`10.0.0.0/8`) or a single address (`/32` or `/128`).
fn network(text: &str) -> Result<IpNet, Reason> {
    let t = text.trim();
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("expected networks like 10.0.0.0/8 or addresses like 10.1.2.3, got {text:?}")
        })
}

/// Trusted proxies: a list, a JSON array text or a comma-separated text.
pub(super) fn trusted_proxies(value: &Value) -> Result<Vec<IpNet>, Reason> {
    list(value, "a list of networks", network)
}

/// An origin `scheme://host[:port]`, lowercased: no path, query, fragment or user info.
fn origin(text: &str) -> Result<String, Reason> {
    let t = text.trim();
    let bad = || format!("expected origins like https://app.example.com (no path), got {text:?}");
    let (scheme, authority) = t.split_once("://").ok_or_else(bad)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let authority_ok = !authority.is_empty()
        && !authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '@'));
    if !scheme_ok || !authority_ok {
        return Err(bad());
    }
    Ok(t.to_ascii_lowercase())
}

/// CSRF trusted origins: a list, a JSON array text or a comma-separated text.
pub(super) fn origins(value: &Value) -> Result<Vec<String>, Reason> {
    list(value, "a list of origins", origin)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn same_site_values() {
        assert_eq!(same_site(&json!("Strict")), Ok(SameSite::Strict));
        assert_eq!(same_site(&json!("lax")), Ok(SameSite::Lax));
        assert_eq!(same_site(&json!("NONE")), Ok(SameSite::None));
        assert!(same_site(&json!("relaxed")).is_err());
        assert!(same_site(&json!(1)).is_err());
    }

    #[test]
    fn networks() {
        let expect = |s: &str| s.parse::<IpNet>().expect("valid");
        assert_eq!(network("10.0.0.0/8"), Ok(expect("10.0.0.0/8")));
        assert_eq!(network("10.1.2.3"), Ok(expect("10.1.2.3/32")));
        assert_eq!(network("::1"), Ok(expect("::1/128")));
        assert_eq!(network("fd00::/8"), Ok(expect("fd00::/8")));
        assert!(network("10.0.0.0/33").is_err());
        assert!(network("proxy.local").is_err());
        assert_eq!(trusted_proxies(&json!("")), Ok(vec![]));
        assert_eq!(
            trusted_proxies(&json!("10.0.0.0/8, 192.168.1.1,")),
            Ok(vec![expect("10.0.0.0/8"), expect("192.168.1.1/32")])
        );
        assert_eq!(
            trusted_proxies(&json!(r#"["::1"]"#)),
            Ok(vec![expect("::1/128")])
        );
        assert!(trusted_proxies(&json!([1])).is_err());
        assert!(trusted_proxies(&json!(true)).is_err());
    }

    #[test]
    fn cookie_values() {
        assert_eq!(
            cookie_name(&json!("__Host-refresh")),
            Ok("__Host-refresh".to_owned())
        );
        for bad in ["", "a b", "a;b", "a=b"] {
            assert!(cookie_name(&json!(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(cookie_path(&json!("/auth")), Ok("/auth".to_owned()));
        for bad in ["", "auth", "/a;b"] {
            assert!(cookie_path(&json!(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(cookie_domain(&json!("")), Ok(None));
        assert_eq!(
            cookie_domain(&json!("example.com")),
            Ok(Some("example.com".to_owned()))
        );
        assert!(cookie_domain(&json!("a b")).is_err());
    }
}
