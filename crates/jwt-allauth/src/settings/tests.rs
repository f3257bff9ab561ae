//! Tests of the token and session settings as a group: defaults, every setting by name,
//! and errors that name the setting. Loading them from a file and the environment is the
//! server's (`server/src/config/tests.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::attributes::UserAttributes;
use crate::keys::Algorithm;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn defaults() {
    let s = Settings::default();
    assert_eq!(s.algorithm, Algorithm::HS256);
    assert_eq!(s.secret_key, None);
    assert_eq!(s.private_key_file, None);
    assert_eq!(s.public_key_file, None);
    assert_eq!(s.key_id, None);
    assert_eq!(s.previous_algorithm, None);
    assert_eq!(s.previous_secret_key, None);
    assert_eq!(s.previous_public_key_file, None);
    assert_eq!(s.previous_key_id, None);
    assert_eq!(s.access_token_lifetime, secs(30 * MINUTE));
    assert_eq!(s.refresh_token_lifetime, secs(14 * DAY));
    assert_eq!(s.session_lifetime, None);
    assert_eq!(s.reuse_interval, Duration::ZERO);
    assert!(s.user_attributes.is_empty());
    assert!(!s.access_token_session_check);
    assert_eq!(s.leeway, Duration::ZERO);
    assert_eq!(s.issuer, None);
    assert_eq!(s.audience, None);
    assert_eq!(s.purpose_token_lifetime, secs(DAY));
    assert_eq!(
        s.purpose_token_lifetimes,
        BTreeMap::from([
            ("email_verification".to_owned(), secs(3 * DAY)),
            ("password_reset".to_owned(), secs(HOUR)),
        ])
    );
    assert_eq!(s.purpose_token_lifetime_for("password_reset"), secs(HOUR));
    assert_eq!(s.purpose_token_lifetime_for("other"), secs(DAY));
    assert_eq!(s.event_retention, secs(90 * DAY));
}

/// Every setting of the group with a non-default value, as an environment variable would
/// give it.
const ALL: [(&str, &str); 21] = [
    ("ALGORITHM", "es256"),
    ("SECRET_KEY", "the-secret"),
    ("PRIVATE_KEY_FILE", "/keys/private.pem"),
    ("PUBLIC_KEY_FILE", "/keys/public.pem"),
    ("KEY_ID", "k1"),
    ("PREVIOUS_ALGORITHM", "RS256"),
    ("PREVIOUS_SECRET_KEY", "previous-secret"),
    ("PREVIOUS_PUBLIC_KEY_FILE", "/keys/previous.pem"),
    ("PREVIOUS_KEY_ID", "k0"),
    ("ACCESS_TOKEN_LIFETIME", "15m"),
    ("REFRESH_TOKEN_LIFETIME", "604800"),
    ("SESSION_LIFETIME", "90d"),
    ("REUSE_INTERVAL", "10s"),
    (
        "USER_ATTRIBUTES",
        r#"{"org_id": "profile.organization.id"}"#,
    ),
    ("ACCESS_TOKEN_SESSION_CHECK", "yes"),
    ("LEEWAY", "5"),
    ("ISSUER", "https://issuer.example"),
    ("AUDIENCE", "my-api"),
    ("PURPOSE_TOKEN_LIFETIME", "2h"),
    (
        "PURPOSE_TOKEN_LIFETIMES",
        r#"{"password_reset": "1h", "email_verification": 172800}"#,
    ),
    ("EVENT_RETENTION", "30d"),
];

#[test]
fn every_setting_by_name() {
    let names: Vec<_> = ALL.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, Settings::NAMES);
    assert_eq!(Settings::default().names(), Settings::NAMES);
    let mut s = Settings::default();
    for (name, value) in ALL {
        s.set(name, &json!(value)).expect(name);
    }
    assert_eq!(s.algorithm, Algorithm::ES256);
    assert_eq!(
        s.secret_key.as_ref().map(Secret::expose),
        Some("the-secret")
    );
    assert_eq!(s.private_key_file, Some(PathBuf::from("/keys/private.pem")));
    assert_eq!(s.public_key_file, Some(PathBuf::from("/keys/public.pem")));
    assert_eq!(s.key_id.as_deref(), Some("k1"));
    assert_eq!(s.previous_algorithm, Some(Algorithm::RS256));
    assert_eq!(
        s.previous_secret_key.as_ref().map(Secret::expose),
        Some("previous-secret")
    );
    assert_eq!(
        s.previous_public_key_file,
        Some(PathBuf::from("/keys/previous.pem"))
    );
    assert_eq!(s.previous_key_id.as_deref(), Some("k0"));
    assert_eq!(s.access_token_lifetime, secs(15 * MINUTE));
    assert_eq!(s.refresh_token_lifetime, secs(7 * DAY));
    assert_eq!(s.session_lifetime, Some(secs(90 * DAY)));
    assert_eq!(s.reuse_interval, secs(10));
    assert_eq!(
        s.user_attributes,
        UserAttributes::from_pairs([("org_id", "profile.organization.id")]).expect("not reserved")
    );
    assert!(s.access_token_session_check);
    assert_eq!(s.leeway, secs(5));
    assert_eq!(s.issuer.as_deref(), Some("https://issuer.example"));
    assert_eq!(s.audience.as_deref(), Some("my-api"));
    assert_eq!(s.purpose_token_lifetime, secs(2 * HOUR));
    assert_eq!(s.event_retention, secs(30 * DAY));
    assert_eq!(
        s.purpose_token_lifetimes,
        BTreeMap::from([
            ("password_reset".to_owned(), secs(HOUR)),
            ("email_verification".to_owned(), secs(2 * DAY)),
        ])
    );
    assert_eq!(s.purpose_token_lifetime_for("other"), secs(2 * HOUR));
}

#[test]
fn a_bad_value_names_the_setting_and_changes_nothing() {
    let mut s = Settings::default();
    let err = s
        .set("ACCESS_TOKEN_LIFETIME", &json!("soon"))
        .expect_err("not a duration");
    assert_eq!(
        err,
        SettingsError::invalid(
            "ACCESS_TOKEN_LIFETIME",
            "expected seconds or a duration like 30m or 14d, got \"soon\""
        )
    );
    assert_eq!(
        err.to_string(),
        "invalid value for ACCESS_TOKEN_LIFETIME: expected seconds or a duration like 30m or \
         14d, got \"soon\""
    );
    assert_eq!(s, Settings::default());
}

#[test]
fn a_name_of_another_group_is_unknown_here() {
    let mut s = Settings::default();
    for name in ["COOKIE_NAME", "DATABASE_URL", "access_token_lifetime", ""] {
        assert_eq!(
            s.set(name, &json!("x")),
            Err(SettingsError::UnknownSetting {
                name: name.to_owned()
            })
        );
    }
}

#[test]
fn secrets_never_appear_in_errors_or_debug() {
    let mut s = Settings::default();
    s.set("SECRET_KEY", &json!("hunter2-hunter2")).expect("set");
    s.set("PREVIOUS_SECRET_KEY", &json!("old-hunter2"))
        .expect("set");
    let debug = format!("{s:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    let err = s.set("SECRET_KEY", &json!(12_345)).expect_err("a number");
    assert!(!err.to_string().contains("12345"), "{err}");
    assert!(s.set("SECRET_KEY", &json!("")).is_err());
}

#[test]
fn user_attributes_reject_reserved_claim_names() {
    let mut s = Settings::default();
    for reserved in ["exp", "session", "role", "email_verified"] {
        let err = s
            .set("USER_ATTRIBUTES", &json!({ reserved: "profile.x" }))
            .expect_err(reserved);
        assert!(
            err.to_string()
                .starts_with("invalid value for USER_ATTRIBUTES: "),
            "{err}"
        );
    }
}
