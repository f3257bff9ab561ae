//! Tests of the HTTP settings as a group: defaults, every setting by name, and the
//! checks of the refresh cookie. Loading them from a file and the environment is the
//! server's (`server/src/config/tests.rs`).

use jwt_allauth::settings::SettingsGroup;
use serde_json::json;

use super::*;

fn net(s: &str) -> IpNet {
    s.parse().expect("valid network")
}

#[test]
fn defaults() {
    let s = HttpSettings::default();
    assert!(s.refresh_token_as_cookie);
    assert_eq!(s.cookie_name, "refresh_token");
    assert!(s.cookie_secure);
    assert_eq!(s.cookie_samesite, SameSite::Lax);
    assert_eq!(s.cookie_path, "/");
    assert_eq!(s.cookie_domain, None);
    assert!(s.collect_user_agent);
    assert!(s.trusted_proxies.is_empty());
    assert!(s.csrf_trusted_origins.is_empty());
    assert_eq!(s.login_failures_per_ip, 10);
    assert_eq!(s.login_failures_per_email, 5);
    assert_eq!(s.validate(), Ok(()));
}

#[test]
fn every_setting_by_name() {
    let all = [
        ("REFRESH_TOKEN_AS_COOKIE", json!("false")),
        ("COOKIE_NAME", json!("rt")),
        ("COOKIE_SECURE", json!("off")),
        ("COOKIE_SAMESITE", json!("Strict")),
        ("COOKIE_PATH", json!("/auth")),
        ("COOKIE_DOMAIN", json!("example.com")),
        ("COLLECT_USER_AGENT", json!(false)),
        ("TRUSTED_PROXIES", json!(["10.0.0.0/8", "192.168.1.1"])),
        (
            "CSRF_TRUSTED_ORIGINS",
            json!("https://App.example.com, http://localhost:3000"),
        ),
        ("LOGIN_FAILURES_PER_IP", json!(0)),
        ("LOGIN_FAILURES_PER_EMAIL", json!("3")),
    ];
    let names: Vec<_> = all.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, HttpSettings::NAMES);
    let mut s = HttpSettings::default();
    for (name, value) in &all {
        s.set(name, value).expect(name);
    }
    assert!(!s.refresh_token_as_cookie);
    assert_eq!(s.cookie_name, "rt");
    assert!(!s.cookie_secure);
    assert_eq!(s.cookie_samesite, SameSite::Strict);
    assert_eq!(s.cookie_path, "/auth");
    assert_eq!(s.cookie_domain.as_deref(), Some("example.com"));
    assert!(!s.collect_user_agent);
    assert_eq!(
        s.trusted_proxies,
        vec![net("10.0.0.0/8"), net("192.168.1.1/32")]
    );
    assert_eq!(
        s.csrf_trusted_origins,
        vec!["https://app.example.com", "http://localhost:3000"]
    );
    assert_eq!(s.login_failures_per_ip, 0);
    assert_eq!(s.login_failures_per_email, 3);
}

#[test]
fn a_bad_value_names_the_setting() {
    let mut s = HttpSettings::default();
    let err = s
        .set("COOKIE_SAMESITE", &json!("relaxed"))
        .expect_err("not a SameSite value");
    assert_eq!(
        err.to_string(),
        "invalid value for COOKIE_SAMESITE: expected strict, lax or none, got \"relaxed\""
    );
    assert_eq!(s, HttpSettings::default());
    assert!(matches!(
        s.set("SECRET_KEY", &json!("x")),
        Err(SettingsError::UnknownSetting { .. })
    ));
}

fn refused(s: &HttpSettings, setting: &str) -> String {
    match s.validate() {
        Err(SettingsError::Invalid {
            setting: at,
            reason,
        }) => {
            assert_eq!(at, setting, "{reason}");
            reason
        }
        other => panic!("expected {setting} refused, got {other:?}"),
    }
}

/// Issue 10, finding 8: browsers silently drop a `__Host-` cookie that is not Secure, has
/// a Domain or another Path than `/`, a `__Secure-` one without Secure, and a
/// `SameSite=None` one without Secure.
#[test]
fn finding_8_cookies_browsers_would_drop_are_refused() {
    let host = HttpSettings {
        cookie_name: "__Host-refresh_token".to_owned(),
        ..HttpSettings::default()
    };
    assert_eq!(host.validate(), Ok(()));
    let reason = refused(
        &HttpSettings {
            cookie_secure: false,
            ..host.clone()
        },
        "COOKIE_SECURE",
    );
    assert!(reason.contains("__Host-refresh_token"), "{reason}");
    refused(
        &HttpSettings {
            cookie_domain: Some("example.com".to_owned()),
            ..host.clone()
        },
        "COOKIE_DOMAIN",
    );
    refused(
        &HttpSettings {
            cookie_path: "/api/".to_owned(),
            ..host
        },
        "COOKIE_PATH",
    );
    // Browsers match the prefix in any case; elsewhere in the name it is no prefix.
    let mut s = HttpSettings {
        cookie_name: "__HOST-rt".to_owned(),
        cookie_secure: false,
        ..HttpSettings::default()
    };
    refused(&s, "COOKIE_SECURE");
    s.cookie_name = "x__Host-rt".to_owned();
    assert_eq!(s.validate(), Ok(()));
    s.cookie_name = "__Secure-rt".to_owned();
    refused(&s, "COOKIE_SECURE");
    let none = HttpSettings {
        cookie_samesite: SameSite::None,
        cookie_secure: false,
        ..HttpSettings::default()
    };
    let reason = refused(&none, "COOKIE_SAMESITE");
    assert!(reason.contains("COOKIE_SECURE"), "{reason}");
}
