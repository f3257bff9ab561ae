//! Parsers for single setting values, shared by every group of settings.
//!
//! Every value arrives as JSON: environment variables and TOML strings as
//! [`Value::String`], native TOML values as their JSON form. A parser returns the reason
//! of a failure; [`settings_group!`](crate::settings_group) names the setting.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;

use super::Secret;
use crate::attributes::UserAttributes;
use crate::keys::Algorithm;

/// The reason a value was rejected, without the setting's name.
pub type Reason = String;

const DURATION_HINT: &str = "expected seconds or a duration like 30m or 14d";

/// The longest duration accepted, so that expiry times stay representable.
const MAX_DURATION_SECS: u64 = 100 * 365 * 24 * 60 * 60;

/// A short description of a value for error messages (never used for secrets).
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "nothing".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a table".to_owned(),
    }
}

/// The reason "`what`, got `value`".
pub fn expected(what: &str, value: &Value) -> Reason {
    format!("{what}, got {}", describe(value))
}

/// A string value.
pub fn string(value: &Value) -> Result<&str, Reason> {
    value
        .as_str()
        .ok_or_else(|| expected("expected a string", value))
}

/// A string value; empty means none.
pub fn optional_string(value: &Value) -> Result<Option<String>, Reason> {
    let s = string(value)?;
    Ok((!s.is_empty()).then(|| s.to_owned()))
}

/// A path; empty means none.
pub fn optional_path(value: &Value) -> Result<Option<PathBuf>, Reason> {
    Ok(optional_string(value)?.map(PathBuf::from))
}

/// The HMAC secret: any non-empty text, always `Some`. Its value never appears in a
/// reason.
pub fn secret(value: &Value) -> Result<Option<Secret>, Reason> {
    match value.as_str() {
        Some("") => Err(
            "must not be empty (leave it unset to have the server create a key file)".to_owned(),
        ),
        Some(s) => Ok(Some(Secret::new(s))),
        None => Err("expected a string".to_owned()),
    }
}

/// A verify-only secret (`PREVIOUS_SECRET_KEY`) or a database URL (`DATABASE_URL`);
/// empty means none. Its value never appears in a reason.
pub fn optional_secret(value: &Value) -> Result<Option<Secret>, Reason> {
    match value.as_str() {
        Some("") => Ok(None),
        Some(s) => Ok(Some(Secret::new(s))),
        None => Err("expected a string".to_owned()),
    }
}

/// An algorithm name, ignoring case; empty means none.
pub fn optional_algorithm(value: &Value) -> Result<Option<Algorithm>, Reason> {
    match string(value)? {
        "" => Ok(None),
        _ => algorithm(value).map(Some),
    }
}

/// A signing algorithm name, ignoring case.
pub fn algorithm(value: &Value) -> Result<Algorithm, Reason> {
    Algorithm::from_str(string(value)?).map_err(|e| e.to_string())
}

/// Parses seconds (`"90"`) or numbers with unit suffixes (`"30m"`, `"14d"`, `"1h30m"`).
pub fn parse_duration(text: &str) -> Result<Duration, Reason> {
    let bad = || format!("{DURATION_HINT}, got {text:?}");
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let secs = if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<u64>().map_err(|_| too_large(text))?
    } else {
        let mut total: u64 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (number, after) = rest.split_at(digits);
            let mut chars = after.chars();
            let unit = match chars.next().map(|c| c.to_ascii_lowercase()) {
                Some('s') => 1,
                Some('m') => 60,
                Some('h') => 60 * 60,
                Some('d') => 24 * 60 * 60,
                _ => return Err(bad()),
            };
            if number.is_empty() {
                return Err(bad());
            }
            let part = number
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(unit))
                .ok_or_else(|| too_large(text))?;
            total = total.checked_add(part).ok_or_else(|| too_large(text))?;
            rest = chars.as_str();
        }
        total
    };
    if secs > MAX_DURATION_SECS {
        return Err(too_large(text));
    }
    Ok(Duration::from_secs(secs))
}

fn too_large(text: &str) -> Reason {
    format!("the duration {text:?} is too large (at most 100 years)")
}

/// A duration: an integer of seconds or a duration string.
pub fn duration(value: &Value) -> Result<Duration, Reason> {
    match value {
        Value::String(s) => parse_duration(s),
        Value::Number(n) => match n.as_u64() {
            Some(secs) if secs <= MAX_DURATION_SECS => Ok(Duration::from_secs(secs)),
            Some(_) => Err(too_large(&n.to_string())),
            None => Err(expected(DURATION_HINT, value)),
        },
        _ => Err(expected(DURATION_HINT, value)),
    }
}

/// A duration of more than zero.
pub fn positive_duration(value: &Value) -> Result<Duration, Reason> {
    match duration(value)? {
        Duration::ZERO => Err(expected("expected a duration of more than zero", value)),
        duration => Ok(duration),
    }
}

/// A duration where an empty string, `none` or zero mean none.
pub fn optional_duration(value: &Value) -> Result<Option<Duration>, Reason> {
    if let Value::String(s) = value {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
    }
    let lifetime = duration(value).map_err(|reason| format!("{reason} (or none)"))?;
    Ok((!lifetime.is_zero()).then_some(lifetime))
}

/// A boolean: native, or `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` in any case.
pub fn boolean(value: &Value) -> Result<bool, Reason> {
    let bad = || expected("expected true or false", value);
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_u64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(bad()),
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// A non-negative integer that fits in `u32`.
pub fn count(value: &Value) -> Result<u32, Reason> {
    let parsed = match value {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse::<u32>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| expected("expected a whole number from 0 to 4294967295", value))
}

/// A whole number from 1 that fits in `u32`.
pub fn positive_count(value: &Value) -> Result<u32, Reason> {
    match count(value) {
        Ok(0) | Err(_) => Err(expected(
            "expected a whole number from 1 to 4294967295",
            value,
        )),
        Ok(n) => Ok(n),
    }
}

/// Structured settings given as text (environment, TOML string) hold JSON. An empty
/// string is `None`, meaning "nothing configured".
pub fn structured(value: &Value) -> Result<Option<Value>, Reason> {
    match value {
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => serde_json::from_str(s)
            .map(Some)
            .map_err(|e| format!("not valid JSON: {e}")),
        other => Ok(Some(other.clone())),
    }
}

/// A list given as a native array, a JSON array text or a comma-separated text (empty
/// items skipped), each item parsed by `item`; `what` names the list in the reason
/// (`"a list of networks"`).
pub fn list<T>(
    value: &Value,
    what: &str,
    item: impl Fn(&str) -> Result<T, Reason>,
) -> Result<Vec<T>, Reason> {
    let items = match value {
        Value::String(s) if s.trim_start().starts_with('[') => match structured(value)? {
            Some(Value::Array(items)) => items,
            _ => return Err(expected(&format!("expected {what}"), value)),
        },
        Value::String(s) => {
            return s
                .split(',')
                .filter(|part| !part.trim().is_empty())
                .map(item)
                .collect();
        }
        Value::Array(items) => items.clone(),
        _ => return Err(expected(&format!("expected {what}"), value)),
    };
    items.iter().map(|one| item(string(one)?)).collect()
}

/// User attributes: `{claim: "dot.path"}` or `["dot.path", ...]`, native or JSON text.
pub fn user_attributes(value: &Value) -> Result<UserAttributes, Reason> {
    let built = match structured(value)? {
        None => return Ok(UserAttributes::new()),
        Some(Value::Object(map)) => {
            let mut pairs = Vec::with_capacity(map.len());
            for (claim, path) in &map {
                let path = path.as_str().ok_or_else(|| {
                    format!(
                        "the path of claim `{claim}` must be a string, got {}",
                        describe(path)
                    )
                })?;
                pairs.push((claim.clone(), check_path(path)?));
            }
            if pairs.iter().any(|(claim, _)| claim.is_empty()) {
                return Err("a claim name must not be empty".to_owned());
            }
            UserAttributes::from_pairs(pairs)
        }
        Some(Value::Array(items)) => {
            let mut paths = Vec::with_capacity(items.len());
            for item in &items {
                let path = item
                    .as_str()
                    .ok_or_else(|| format!("each path must be a string, got {}", describe(item)))?;
                let path = check_path(path)?;
                if path.ends_with('.') {
                    return Err(format!("the path {path:?} does not name a claim"));
                }
                paths.push(path);
            }
            UserAttributes::from_paths(paths)
        }
        Some(other) => {
            return Err(expected(
                "expected a map of claim names to dot paths or a list of dot paths",
                &other,
            ));
        }
    };
    built.map_err(|e| e.to_string())
}

fn check_path(path: &str) -> Result<String, Reason> {
    if path.is_empty() {
        return Err("a dot path must not be empty".to_owned());
    }
    Ok(path.to_owned())
}

/// Lifetimes per purpose: `{purpose: duration}`, native or JSON text.
pub fn purpose_lifetimes(value: &Value) -> Result<BTreeMap<String, Duration>, Reason> {
    match structured(value)? {
        None => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(purpose, lifetime)| {
                let lifetime = duration(lifetime)
                    .map_err(|reason| format!("purpose `{purpose}`: {reason}"))?;
                Ok((purpose.clone(), lifetime))
            })
            .collect(),
        Some(other) => Err(expected("expected a map of purposes to durations", &other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secs(n: u64) -> Result<Duration, Reason> {
        Ok(Duration::from_secs(n))
    }

    #[test]
    fn duration_forms() {
        assert_eq!(parse_duration("90"), secs(90));
        assert_eq!(parse_duration(" 90 "), secs(90));
        assert_eq!(parse_duration("45s"), secs(45));
        assert_eq!(parse_duration("30m"), secs(30 * 60));
        assert_eq!(parse_duration("2h"), secs(2 * 3600));
        assert_eq!(parse_duration("14d"), secs(14 * 86_400));
        assert_eq!(parse_duration("1h30m"), secs(5400));
        assert_eq!(parse_duration("1d2h3m4s"), secs(86_400 + 7200 + 180 + 4));
        assert_eq!(parse_duration("0"), secs(0));
        assert_eq!(duration(&json!(90)), secs(90));
        assert_eq!(duration(&json!("90")), secs(90));
    }

    #[test]
    fn bad_durations() {
        for bad in [
            "", " ", "abc", "-5", "10x", "m", "1h30", "1.5h", "30 m", "h1", "+5",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(
                err.contains("expected seconds or a duration like 30m or 14d"),
                "{bad}: {err}"
            );
        }
        for bad in [
            json!(-5),
            json!(1.5),
            json!(true),
            json!([1]),
            json!({"a": 1}),
        ] {
            assert!(duration(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duration_overflow_is_rejected() {
        for big in [
            "18446744073709551616",
            "99999999999999999999d",
            "5000000000000000000d",
            "101000000000",
        ] {
            let err = parse_duration(big).expect_err(big);
            assert!(err.contains("too large"), "{big}: {err}");
        }
        assert!(
            duration(&json!(u64::MAX))
                .expect_err("too large")
                .contains("too large")
        );
        assert_eq!(parse_duration("36500d"), secs(36_500 * 86_400));
    }

    #[test]
    fn optional_durations() {
        for none in [
            json!(""),
            json!("none"),
            json!("None"),
            json!(0),
            json!("0"),
            json!("0s"),
        ] {
            assert_eq!(optional_duration(&none), Ok(None), "{none}");
        }
        assert_eq!(
            optional_duration(&json!("30d")),
            Ok(Some(Duration::from_secs(30 * 86_400)))
        );
        assert!(optional_duration(&json!("never")).is_err());
    }

    #[test]
    fn booleans() {
        for yes in ["true", "TRUE", "1", "yes", "Yes", "on", "ON", " true "] {
            assert_eq!(boolean(&json!(yes)), Ok(true), "{yes}");
        }
        for no in ["false", "False", "0", "no", "NO", "off", "Off"] {
            assert_eq!(boolean(&json!(no)), Ok(false), "{no}");
        }
        assert_eq!(boolean(&json!(true)), Ok(true));
        assert_eq!(boolean(&json!(false)), Ok(false));
        assert_eq!(boolean(&json!(1)), Ok(true));
        assert_eq!(boolean(&json!(0)), Ok(false));
        for bad in [json!(""), json!("maybe"), json!(2), json!(["true"])] {
            assert!(boolean(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts() {
        assert_eq!(count(&json!(7)), Ok(7));
        assert_eq!(count(&json!("7")), Ok(7));
        assert_eq!(count(&json!("0")), Ok(0));
        for bad in [
            json!(-1),
            json!("-1"),
            json!("x"),
            json!(4_294_967_296_u64),
            json!(1.5),
            json!(""),
        ] {
            assert!(count(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn positive_durations_and_counts() {
        assert_eq!(
            positive_duration(&json!("10s")),
            Ok(Duration::from_secs(10))
        );
        assert_eq!(positive_duration(&json!(1)), Ok(Duration::from_secs(1)));
        for bad in [json!(0), json!("0"), json!("0s"), json!("x"), json!(-1)] {
            assert!(positive_duration(&bad).is_err(), "{bad}");
        }
        assert_eq!(positive_count(&json!(1)), Ok(1));
        assert_eq!(positive_count(&json!("4096")), Ok(4096));
        for bad in [json!(0), json!("0"), json!(-1), json!("x"), json!(1.5)] {
            assert!(positive_count(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_reasons_never_quote_the_secret() {
        assert_eq!(
            secret(&json!("s3cr3t")).map(|s| s.map(|s| s.expose().to_owned())),
            Ok(Some("s3cr3t".to_owned()))
        );
        assert!(secret(&json!("")).is_err());
        let err = secret(&json!(123_456_789)).expect_err("not a string");
        assert!(!err.contains("123456789"), "{err}");
    }
}
