//! Tests of the account settings as a group: defaults and every setting by name.

use jwt_allauth::settings::SettingsGroup;
use serde_json::json;

use super::*;

#[test]
fn defaults_are_the_contract_s() {
    let s = AccountSettings::default();
    assert_eq!(s.email_verification, EmailVerification::Mandatory);
    assert_eq!(s.registration, Registration::Open);
    assert_eq!(s.public_url, None);
    assert_eq!(s.email_verification_url, None);
    assert_eq!(s.email_verified_redirect, None);
    assert_eq!(s.password_reset_redirect, None);
    assert_eq!(s.password_reset_request_url, None);
    let limit = |count, secs| Some(RateLimit::new(count, Duration::from_secs(secs)));
    assert_eq!(s.signups_per_ip, limit(20, 3600));
    assert_eq!(s.mails_per_address, limit(3, 900));
    assert_eq!(s.reset_requests_per_address, limit(5, 60));
    assert_eq!(s.reset_requests_per_ip, limit(20, 60));
}

#[test]
fn every_setting_by_name() {
    let all = [
        ("EMAIL_VERIFICATION", json!("optional")),
        ("REGISTRATION", json!("closed")),
        ("PUBLIC_URL", json!("https://auth.example.com/")),
        (
            "EMAIL_VERIFICATION_URL",
            json!("https://app.example.com/verify?key={key}"),
        ),
        (
            "EMAIL_VERIFIED_REDIRECT",
            json!("https://app.example.com/ok"),
        ),
        (
            "PASSWORD_RESET_REDIRECT",
            json!("https://app.example.com/reset"),
        ),
        (
            "PASSWORD_RESET_REQUEST_URL",
            json!("https://app.example.com/forgot"),
        ),
        ("SIGNUPS_PER_IP", json!("0")),
        ("MAILS_PER_ADDRESS", json!("1/1d")),
        ("RESET_REQUESTS_PER_ADDRESS", json!("2/30s")),
        ("RESET_REQUESTS_PER_IP", json!(0)),
    ];
    let names: Vec<_> = all.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, AccountSettings::NAMES);
    let mut s = AccountSettings::default();
    for (name, value) in &all {
        s.set(name, value).expect(name);
    }
    assert_eq!(s.email_verification, EmailVerification::Optional);
    assert_eq!(s.registration, Registration::Closed);
    assert_eq!(s.public_url.as_deref(), Some("https://auth.example.com"));
    assert_eq!(
        s.email_verification_url.as_deref(),
        Some("https://app.example.com/verify?key={key}")
    );
    assert_eq!(
        s.email_verified_redirect.as_deref(),
        Some("https://app.example.com/ok")
    );
    assert_eq!(
        s.password_reset_redirect.as_deref(),
        Some("https://app.example.com/reset")
    );
    assert_eq!(
        s.password_reset_request_url.as_deref(),
        Some("https://app.example.com/forgot")
    );
    assert_eq!(s.signups_per_ip, None);
    assert_eq!(
        s.mails_per_address,
        Some(RateLimit::new(1, Duration::from_secs(86_400)))
    );
    assert_eq!(
        s.reset_requests_per_address,
        Some(RateLimit::new(2, Duration::from_secs(30)))
    );
    assert_eq!(s.reset_requests_per_ip, None);
}

#[test]
fn a_bad_value_names_the_setting() {
    let mut s = AccountSettings::default();
    let err = s
        .set("PUBLIC_URL", &json!("auth.example.com"))
        .expect_err("not absolute");
    assert!(
        err.to_string()
            .starts_with("invalid value for PUBLIC_URL: "),
        "{err}"
    );
    let err = s
        .set("MAILS_PER_ADDRESS", &json!("lots"))
        .expect_err("not a rate");
    assert_eq!(
        err.to_string(),
        "invalid value for MAILS_PER_ADDRESS: expected COUNT/DURATION like 20/1h, or 0 for no \
         limit, got \"lots\""
    );
    assert_eq!(s, AccountSettings::default());
}
