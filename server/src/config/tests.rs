//! Tests of loading the configuration from TOML and environment variables.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use jwt_allauth::keys::Algorithm;
use jwt_allauth::settings::ENV_PREFIX;
use jwt_allauth::{Secret, UserAttributes};
use jwt_allauth_axum::AccountSettings;
use jwt_allauth_axum::account_settings::{EmailVerification, RateLimit, Registration};
use jwt_allauth_axum::http_settings::SameSite;

use super::*;

const RESERVED: [&str; 9] = [
    "token_type",
    "exp",
    "iat",
    "jti",
    "user_id",
    "session",
    "session_iat",
    "role",
    "email_verified",
];

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

fn toml(text: &str) -> Config {
    Config::from_toml_str(text).expect("valid settings")
}

fn toml_err(text: &str) -> ConfigError {
    Config::from_toml_str(text).expect_err("invalid settings")
}

fn env(vars: &[(&str, &str)]) -> Config {
    let mut settings = Config::default();
    settings
        .apply_env_vars(vars.iter().copied())
        .expect("valid variables");
    settings
}

fn env_err(vars: &[(&str, &str)]) -> ConfigError {
    let mut settings = Config::default();
    let err = settings
        .apply_env_vars(vars.iter().copied())
        .expect_err("invalid variables");
    assert_eq!(
        settings,
        Config::default(),
        "a failed overlay changes nothing"
    );
    err
}

/// Asserts `err` is `Invalid` for `setting`, and that the message names it.
fn assert_invalid(err: &ConfigError, setting: &str) {
    match err {
        ConfigError::Invalid { setting: s, .. } => assert_eq!(s, setting, "{err}"),
        other => panic!("expected Invalid for {setting}, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("invalid value for {setting}: ")),
        "{err}"
    );
}

fn net(s: &str) -> IpNet {
    s.parse().expect("valid network")
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn defaults() {
    let s = Config::default();
    assert_eq!(s.tokens.algorithm, Algorithm::HS256);
    assert_eq!(s.tokens.secret_key, None);
    assert_eq!(s.tokens.private_key_file, None);
    assert_eq!(s.tokens.public_key_file, None);
    assert_eq!(s.tokens.key_id, None);
    assert_eq!(s.tokens.previous_algorithm, None);
    assert_eq!(s.tokens.previous_secret_key, None);
    assert_eq!(s.tokens.previous_public_key_file, None);
    assert_eq!(s.tokens.previous_key_id, None);
    assert_eq!(s.tokens.access_token_lifetime, secs(30 * MINUTE));
    assert_eq!(s.tokens.refresh_token_lifetime, secs(14 * DAY));
    assert_eq!(s.tokens.session_lifetime, None);
    assert_eq!(s.tokens.reuse_interval, Duration::ZERO);
    assert!(s.http.refresh_token_as_cookie);
    assert_eq!(s.http.cookie_name, "refresh_token");
    assert!(s.http.cookie_secure);
    assert_eq!(s.http.cookie_samesite, SameSite::Lax);
    assert_eq!(s.http.cookie_path, "/");
    assert_eq!(s.http.cookie_domain, None);
    assert!(s.tokens.user_attributes.is_empty());
    assert!(!s.tokens.access_token_session_check);
    assert!(s.http.collect_user_agent);
    assert!(s.http.trusted_proxies.is_empty());
    assert!(s.http.csrf_trusted_origins.is_empty());
    assert_eq!(s.tokens.leeway, Duration::ZERO);
    assert_eq!(s.tokens.issuer, None);
    assert_eq!(s.tokens.audience, None);
    assert_eq!(s.http.login_failures_per_ip, 10);
    assert_eq!(s.http.login_failures_per_email, 5);
    assert_eq!(s.tokens.purpose_token_lifetime, secs(DAY));
    assert_eq!(
        s.tokens.purpose_token_lifetimes,
        BTreeMap::from([
            ("email_verification".to_owned(), secs(3 * DAY)),
            ("password_reset".to_owned(), secs(HOUR)),
        ])
    );
    assert_eq!(s.server.database_url, None);
    assert_eq!(s.server.bind, SocketAddr::from(([127, 0, 0, 1], 8000)));
    assert!(!s.server.development_mode);
    assert_eq!(s.server.header_read_timeout, secs(10));
    assert_eq!(s.server.idle_timeout, secs(60));
    assert_eq!(s.server.max_connections, 4096);
    assert!(s.server.revocation_feed);
    assert_eq!(s.server.metrics_bind, None);
    assert_eq!(
        s.tokens.purpose_token_lifetime_for("password_reset"),
        secs(HOUR)
    );
    assert_eq!(s.accounts, AccountSettings::default());
    assert_eq!(s.mail, MailSettings::default());
    assert_eq!(s.public_url(), "http://127.0.0.1:8000");
    assert_eq!(Config::from_toml_str("").expect("empty file"), s);
    assert_eq!(env(&[]), s);
}

/// Every setting with a non-default value, as TOML text (`key = value` lines) and as
/// environment variables.
const ALL_TOML: &str = r#"
algorithm = "es256"
secret_key = "toml-secret"
private_key_file = "/keys/private.pem"
public_key_file = "/keys/public.pem"
key_id = "k1"
previous_algorithm = "rs256"
previous_secret_key = "previous-secret"
previous_public_key_file = "/keys/previous.pem"
previous_key_id = "k0"
access_token_lifetime = "15m"
refresh_token_lifetime = 604800
session_lifetime = "90d"
reuse_interval = "10s"
refresh_token_as_cookie = false
cookie_name = "rt"
cookie_secure = "off"
cookie_samesite = "Strict"
cookie_path = "/auth"
cookie_domain = "example.com"
user_attributes = { org_id = "profile.organization.id" }
access_token_session_check = true
collect_user_agent = false
trusted_proxies = ["10.0.0.0/8", "192.168.1.1"]
csrf_trusted_origins = ["https://app.example.com", "http://localhost:3000"]
leeway = 5
issuer = "https://issuer.example"
audience = "my-api"
login_failures_per_ip = 0
login_failures_per_email = "3"
purpose_token_lifetime = "2h"
event_retention = "30d"
purpose_token_lifetimes = { password_reset = "1h", email_verification = 172800 }
database_url = "postgres://db/app"
bind = "0.0.0.0:9000"
development_mode = true
header_read_timeout = "5s"
idle_timeout = 120
max_connections = 100
revocation_feed = false
webhook_urls = "https://hooks.example.com/auth"
webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
metrics_bind = "127.0.0.1:9100"
email_verification = "optional"
registration = "closed"
public_url = "https://auth.example.com/"
email_verification_url = "https://app.example.com/verify?key={key}"
email_verified_redirect = "https://app.example.com/verified"
password_reset_redirect = "https://app.example.com/reset"
password_reset_request_url = "https://app.example.com/forgot"
signups_per_ip = "0"
mails_per_address = "1/1d"
reset_requests_per_address = "2/30s"
reset_requests_per_ip = "9/2m"
email_url = "file:///var/mail/jwt-allauth"
email_from = "Accounts <accounts@example.com>"
email_templates_dir = "/etc/jwt-allauth/mail"
new_device_email = false
key_encryption_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
key_encryption_key_file = "/run/secrets/kek"
key_reload_interval = "5s"
"#;

const ALL_ENV: [(&str, &str); 60] = [
    ("JWT_ALLAUTH_ALGORITHM", "es256"),
    ("JWT_ALLAUTH_SECRET_KEY", "toml-secret"),
    ("JWT_ALLAUTH_PRIVATE_KEY_FILE", "/keys/private.pem"),
    ("JWT_ALLAUTH_PUBLIC_KEY_FILE", "/keys/public.pem"),
    ("JWT_ALLAUTH_KEY_ID", "k1"),
    ("JWT_ALLAUTH_PREVIOUS_ALGORITHM", "RS256"),
    ("JWT_ALLAUTH_PREVIOUS_SECRET_KEY", "previous-secret"),
    ("JWT_ALLAUTH_PREVIOUS_PUBLIC_KEY_FILE", "/keys/previous.pem"),
    ("JWT_ALLAUTH_PREVIOUS_KEY_ID", "k0"),
    ("JWT_ALLAUTH_ACCESS_TOKEN_LIFETIME", "15m"),
    ("JWT_ALLAUTH_REFRESH_TOKEN_LIFETIME", "604800"),
    ("JWT_ALLAUTH_SESSION_LIFETIME", "90d"),
    ("JWT_ALLAUTH_REUSE_INTERVAL", "10s"),
    ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false"),
    ("JWT_ALLAUTH_COOKIE_NAME", "rt"),
    ("JWT_ALLAUTH_COOKIE_SECURE", "off"),
    ("JWT_ALLAUTH_COOKIE_SAMESITE", "Strict"),
    ("JWT_ALLAUTH_COOKIE_PATH", "/auth"),
    ("JWT_ALLAUTH_COOKIE_DOMAIN", "example.com"),
    (
        "JWT_ALLAUTH_USER_ATTRIBUTES",
        r#"{"org_id": "profile.organization.id"}"#,
    ),
    ("JWT_ALLAUTH_ACCESS_TOKEN_SESSION_CHECK", "yes"),
    ("JWT_ALLAUTH_COLLECT_USER_AGENT", "0"),
    ("JWT_ALLAUTH_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
    (
        "JWT_ALLAUTH_CSRF_TRUSTED_ORIGINS",
        "https://app.example.com, http://localhost:3000",
    ),
    ("JWT_ALLAUTH_LEEWAY", "5"),
    ("JWT_ALLAUTH_ISSUER", "https://issuer.example"),
    ("JWT_ALLAUTH_AUDIENCE", "my-api"),
    ("JWT_ALLAUTH_LOGIN_FAILURES_PER_IP", "0"),
    ("JWT_ALLAUTH_LOGIN_FAILURES_PER_EMAIL", "3"),
    ("JWT_ALLAUTH_PURPOSE_TOKEN_LIFETIME", "2h"),
    ("JWT_ALLAUTH_EVENT_RETENTION", "30d"),
    (
        "JWT_ALLAUTH_PURPOSE_TOKEN_LIFETIMES",
        r#"{"password_reset": "1h", "email_verification": 172800}"#,
    ),
    ("JWT_ALLAUTH_DATABASE_URL", "postgres://db/app"),
    ("JWT_ALLAUTH_BIND", "0.0.0.0:9000"),
    ("JWT_ALLAUTH_DEVELOPMENT_MODE", "on"),
    ("JWT_ALLAUTH_HEADER_READ_TIMEOUT", "5s"),
    ("JWT_ALLAUTH_IDLE_TIMEOUT", "2m"),
    ("JWT_ALLAUTH_MAX_CONNECTIONS", "100"),
    ("JWT_ALLAUTH_REVOCATION_FEED", "off"),
    ("JWT_ALLAUTH_WEBHOOK_URLS", "https://hooks.example.com/auth"),
    (
        "JWT_ALLAUTH_WEBHOOK_SECRET",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ),
    ("JWT_ALLAUTH_METRICS_BIND", "127.0.0.1:9100"),
    ("JWT_ALLAUTH_EMAIL_VERIFICATION", "optional"),
    ("JWT_ALLAUTH_REGISTRATION", "closed"),
    ("JWT_ALLAUTH_PUBLIC_URL", "https://auth.example.com/"),
    (
        "JWT_ALLAUTH_EMAIL_VERIFICATION_URL",
        "https://app.example.com/verify?key={key}",
    ),
    (
        "JWT_ALLAUTH_EMAIL_VERIFIED_REDIRECT",
        "https://app.example.com/verified",
    ),
    (
        "JWT_ALLAUTH_PASSWORD_RESET_REDIRECT",
        "https://app.example.com/reset",
    ),
    (
        "JWT_ALLAUTH_PASSWORD_RESET_REQUEST_URL",
        "https://app.example.com/forgot",
    ),
    ("JWT_ALLAUTH_SIGNUPS_PER_IP", "0"),
    ("JWT_ALLAUTH_MAILS_PER_ADDRESS", "1/1d"),
    ("JWT_ALLAUTH_RESET_REQUESTS_PER_ADDRESS", "2/30s"),
    ("JWT_ALLAUTH_RESET_REQUESTS_PER_IP", "9/2m"),
    ("JWT_ALLAUTH_EMAIL_URL", "file:///var/mail/jwt-allauth"),
    ("JWT_ALLAUTH_EMAIL_FROM", "Accounts <accounts@example.com>"),
    ("JWT_ALLAUTH_EMAIL_TEMPLATES_DIR", "/etc/jwt-allauth/mail"),
    ("JWT_ALLAUTH_NEW_DEVICE_EMAIL", "false"),
    (
        "JWT_ALLAUTH_KEY_ENCRYPTION_KEY",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    ),
    ("JWT_ALLAUTH_KEY_ENCRYPTION_KEY_FILE", "/run/secrets/kek"),
    ("JWT_ALLAUTH_KEY_RELOAD_INTERVAL", "5s"),
];

fn assert_all_set(s: &Config) {
    assert_eq!(s.tokens.algorithm, Algorithm::ES256);
    assert_eq!(
        s.tokens.secret_key.as_ref().map(Secret::expose),
        Some("toml-secret")
    );
    assert_eq!(
        s.tokens.private_key_file,
        Some(PathBuf::from("/keys/private.pem"))
    );
    assert_eq!(
        s.tokens.public_key_file,
        Some(PathBuf::from("/keys/public.pem"))
    );
    assert_eq!(s.tokens.key_id.as_deref(), Some("k1"));
    assert_eq!(s.tokens.previous_algorithm, Some(Algorithm::RS256));
    assert_eq!(
        s.tokens.previous_secret_key.as_ref().map(Secret::expose),
        Some("previous-secret")
    );
    assert_eq!(
        s.tokens.previous_public_key_file,
        Some(PathBuf::from("/keys/previous.pem"))
    );
    assert_eq!(s.tokens.previous_key_id.as_deref(), Some("k0"));
    assert_eq!(s.tokens.access_token_lifetime, secs(15 * MINUTE));
    assert_eq!(s.tokens.refresh_token_lifetime, secs(7 * DAY));
    assert_eq!(s.tokens.session_lifetime, Some(secs(90 * DAY)));
    assert_eq!(s.tokens.reuse_interval, secs(10));
    assert!(!s.http.refresh_token_as_cookie);
    assert_eq!(s.http.cookie_name, "rt");
    assert!(!s.http.cookie_secure);
    assert_eq!(s.http.cookie_samesite, SameSite::Strict);
    assert_eq!(s.http.cookie_path, "/auth");
    assert_eq!(s.http.cookie_domain.as_deref(), Some("example.com"));
    assert_eq!(
        s.tokens.user_attributes,
        UserAttributes::from_pairs([("org_id", "profile.organization.id")]).expect("not reserved")
    );
    assert!(s.tokens.access_token_session_check);
    assert!(!s.http.collect_user_agent);
    assert_eq!(
        s.http.trusted_proxies,
        vec![net("10.0.0.0/8"), net("192.168.1.1/32")]
    );
    assert_eq!(
        s.http.csrf_trusted_origins,
        vec!["https://app.example.com", "http://localhost:3000"]
    );
    assert_eq!(s.tokens.leeway, secs(5));
    assert_eq!(s.tokens.issuer.as_deref(), Some("https://issuer.example"));
    assert_eq!(s.tokens.audience.as_deref(), Some("my-api"));
    assert_eq!(s.http.login_failures_per_ip, 0);
    assert_eq!(s.http.login_failures_per_email, 3);
    assert_eq!(s.tokens.purpose_token_lifetime, secs(2 * HOUR));
    assert_eq!(s.tokens.event_retention, secs(30 * DAY));
    assert_eq!(
        s.tokens.purpose_token_lifetimes,
        BTreeMap::from([
            ("password_reset".to_owned(), secs(HOUR)),
            ("email_verification".to_owned(), secs(2 * DAY)),
        ])
    );
    assert_eq!(
        s.tokens.purpose_token_lifetime_for("password_reset"),
        secs(HOUR)
    );
    assert_eq!(s.tokens.purpose_token_lifetime_for("other"), secs(2 * HOUR));
    assert_eq!(
        s.server.database_url.as_ref().map(Secret::expose),
        Some("postgres://db/app")
    );
    assert_eq!(s.server.bind, SocketAddr::from(([0, 0, 0, 0], 9000)));
    assert!(s.server.development_mode);
    assert_eq!(s.server.header_read_timeout, secs(5));
    assert_eq!(s.server.idle_timeout, secs(2 * MINUTE));
    assert_eq!(s.server.max_connections, 100);
    assert!(!s.server.revocation_feed);
    assert_eq!(s.server.webhook_urls.len(), 1);
    assert!(s.server.webhook_secret.is_some());
    assert_eq!(
        s.server.metrics_bind,
        Some(SocketAddr::from(([127, 0, 0, 1], 9100)))
    );
    let a = &s.accounts;
    assert_eq!(a.email_verification, EmailVerification::Optional);
    assert_eq!(a.registration, Registration::Closed);
    assert_eq!(a.public_url.as_deref(), Some("https://auth.example.com"));
    assert_eq!(s.public_url(), "https://auth.example.com");
    assert_eq!(
        a.email_verification_url.as_deref(),
        Some("https://app.example.com/verify?key={key}")
    );
    assert_eq!(
        a.email_verified_redirect.as_deref(),
        Some("https://app.example.com/verified")
    );
    assert_eq!(
        a.password_reset_redirect.as_deref(),
        Some("https://app.example.com/reset")
    );
    assert_eq!(
        a.password_reset_request_url.as_deref(),
        Some("https://app.example.com/forgot")
    );
    assert_eq!(a.signups_per_ip, None);
    assert_eq!(a.mails_per_address, Some(RateLimit::new(1, secs(DAY))));
    assert_eq!(
        a.reset_requests_per_address,
        Some(RateLimit::new(2, secs(30)))
    );
    assert_eq!(
        a.reset_requests_per_ip,
        Some(RateLimit::new(9, secs(2 * MINUTE)))
    );
    assert_eq!(
        s.mail.email_url,
        Some(crate::mail::EmailUrl::File("/var/mail/jwt-allauth".into()))
    );
    assert_eq!(
        s.mail.email_from.to_string(),
        "Accounts <accounts@example.com>"
    );
    assert_eq!(
        s.mail.email_templates_dir,
        Some(PathBuf::from("/etc/jwt-allauth/mail"))
    );
    assert_eq!(s.mail.new_device_email, Some(false));
    assert!(!s.mail.new_device_email_enabled());
    assert_eq!(
        s.keys.key_encryption_key.as_ref().map(Secret::expose),
        Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    );
    assert_eq!(
        s.keys.key_encryption_key_file,
        Some(PathBuf::from("/run/secrets/kek"))
    );
    assert_eq!(s.keys.key_reload_interval, Duration::from_secs(5));
}

#[test]
fn every_setting_from_toml() {
    assert_all_set(&toml(ALL_TOML));
}

#[test]
fn every_setting_from_env() {
    assert_all_set(&env(&ALL_ENV));
}

#[test]
fn the_test_lists_cover_every_setting() {
    let mut env_names: Vec<_> = ALL_ENV
        .iter()
        .map(|(k, _)| k.strip_prefix(ENV_PREFIX).expect("prefixed"))
        .collect();
    let mut names: Vec<_> = Config::names().collect();
    env_names.sort_unstable();
    names.sort_unstable();
    assert_eq!(env_names, names);
    let table: toml::Table = toml::from_str(ALL_TOML).expect("TOML");
    assert_eq!(table.len(), Config::names().count());
    for name in Config::names() {
        assert!(table.contains_key(&name.to_ascii_lowercase()), "{name}");
    }
}

#[test]
fn every_setting_from_toml_strings() {
    // Every setting can be given as a string in TOML, like in the environment.
    let text: String = ALL_ENV
        .iter()
        .map(|(k, v)| {
            format!(
                "{} = {}\n",
                k.strip_prefix(ENV_PREFIX).expect("prefixed"),
                toml::Value::from(*v)
            )
        })
        .collect();
    assert_all_set(&toml(&text));
}

#[test]
fn toml_keys_ignore_case() {
    let s = toml("ACCESS_TOKEN_LIFETIME = \"2h\"\nLeeway = 3\ncookie_NAME = \"x\"");
    assert_eq!(s.tokens.access_token_lifetime, secs(2 * HOUR));
    assert_eq!(s.tokens.leeway, secs(3));
    assert_eq!(s.http.cookie_name, "x");
    assert_eq!(
        toml("access_token_lifetime = \"2h\"")
            .tokens
            .access_token_lifetime,
        secs(2 * HOUR)
    );
}

#[test]
fn a_key_given_twice_in_different_case_is_an_error() {
    let err = toml_err("leeway = 1\nLEEWAY = 2");
    assert_invalid(&err, "LEEWAY");
    assert!(err.to_string().contains("twice"), "{err}");
}

#[test]
fn unknown_toml_key_is_an_error_naming_it() {
    let err = toml_err("access_token_lifetime = 60\nacess_token_lifetime = 60");
    assert!(
        matches!(&err, ConfigError::UnknownSetting { name } if name == "acess_token_lifetime"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "unknown setting `acess_token_lifetime` in the configuration file"
    );
}

#[test]
fn not_toml_is_an_error_with_a_position_and_source() {
    let err = toml_err("leeway = 1\nsecret_key = \"hunter2-unterminated\ncookie = 1");
    match &err {
        ConfigError::Toml {
            path, line, column, ..
        } => {
            assert_eq!(path, &None);
            assert_eq!(*line, Some(2));
            assert!(column.is_some());
        }
        other => panic!("expected a TOML error, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("the configuration is not valid TOML (line 2, column "),
        "{err}"
    );
    assert!(err.source().is_some());
    assert_secret_absent(&err, "hunter2");
}

#[test]
fn durations() {
    for (text, expected) in [
        ("\"90\"", 90),
        ("90", 90),
        ("\"30m\"", 30 * MINUTE),
        ("\"14d\"", 14 * DAY),
        ("\"2h\"", 2 * HOUR),
        ("\"45s\"", 45),
        ("\"1h30m\"", 90 * MINUTE),
    ] {
        assert_eq!(
            toml(&format!("access_token_lifetime = {text}"))
                .tokens
                .access_token_lifetime,
            secs(expected),
            "{text}"
        );
    }
    for (text, expected) in [
        ("90", 90),
        ("30m", 30 * MINUTE),
        ("14d", 14 * DAY),
        ("2h", 2 * HOUR),
    ] {
        assert_eq!(
            env(&[("JWT_ALLAUTH_REFRESH_TOKEN_LIFETIME", text)])
                .tokens
                .refresh_token_lifetime,
            secs(expected)
        );
    }
}

#[test]
fn bad_durations_name_the_setting() {
    for bad in ["abc", "-5", "10x", "", "1.5h", "99999999999999999999999"] {
        let err = env_err(&[("JWT_ALLAUTH_ACCESS_TOKEN_LIFETIME", bad)]);
        assert_invalid(&err, "ACCESS_TOKEN_LIFETIME");
        assert!(err.to_string().contains(bad), "quotes the bad value: {err}");
        let err = toml_err(&format!("leeway = {:?}", bad));
        assert_invalid(&err, "LEEWAY");
    }
    let err = env_err(&[("JWT_ALLAUTH_ACCESS_TOKEN_LIFETIME", "abc")]);
    assert_eq!(
        err.to_string(),
        "invalid value for ACCESS_TOKEN_LIFETIME: expected seconds or a duration like 30m or 14d, got \"abc\""
    );
    for bad in ["-5", "1.5", "true", "[1]"] {
        assert_invalid(
            &toml_err(&format!("reuse_interval = {bad}")),
            "REUSE_INTERVAL",
        );
    }
    assert_invalid(
        &toml_err("purpose_token_lifetime = 1979-05-27"),
        "PURPOSE_TOKEN_LIFETIME",
    );
}

#[test]
fn session_lifetime_none_forms() {
    let with_session = toml("session_lifetime = \"30d\"");
    assert_eq!(with_session.tokens.session_lifetime, Some(secs(30 * DAY)));
    for none in ["\"\"", "0", "\"0\"", "\"none\"", "\"NONE\""] {
        let mut s = with_session.clone();
        s.apply_toml_str(&format!("session_lifetime = {none}"))
            .expect("valid");
        assert_eq!(s.tokens.session_lifetime, None, "{none}");
    }
    for none in ["", "0", "none"] {
        let mut s = with_session.clone();
        s.apply_env_vars([("JWT_ALLAUTH_SESSION_LIFETIME", none)])
            .expect("valid");
        assert_eq!(s.tokens.session_lifetime, None, "{none:?}");
    }
    assert_invalid(
        &env_err(&[("JWT_ALLAUTH_SESSION_LIFETIME", "forever")]),
        "SESSION_LIFETIME",
    );
}

#[test]
fn booleans() {
    for (text, expected) in [
        ("true", true),
        ("false", false),
        ("\"true\"", true),
        ("\"FALSE\"", false),
        ("\"1\"", true),
        ("\"0\"", false),
        ("\"yes\"", true),
        ("\"No\"", false),
        ("\"on\"", true),
        ("\"OFF\"", false),
    ] {
        assert_eq!(
            toml(&format!("access_token_session_check = {text}"))
                .tokens
                .access_token_session_check,
            expected,
            "{text}"
        );
    }
    for (text, expected) in [
        ("True", true),
        ("0", false),
        ("YES", true),
        ("off", false),
        ("on", true),
    ] {
        assert_eq!(
            env(&[("JWT_ALLAUTH_COOKIE_SECURE", text)])
                .http
                .cookie_secure,
            expected,
            "{text}"
        );
    }
    for bad in ["", "maybe", "2", "y"] {
        assert_invalid(
            &env_err(&[("JWT_ALLAUTH_COLLECT_USER_AGENT", bad)]),
            "COLLECT_USER_AGENT",
        );
    }
    assert_invalid(
        &toml_err("refresh_token_as_cookie = \"sure\""),
        "REFRESH_TOKEN_AS_COOKIE",
    );
}

#[test]
fn login_failure_counts() {
    assert_eq!(
        toml("login_failures_per_ip = 100")
            .http
            .login_failures_per_ip,
        100
    );
    assert_eq!(
        env(&[("JWT_ALLAUTH_LOGIN_FAILURES_PER_EMAIL", " 7 ")])
            .http
            .login_failures_per_email,
        7
    );
    for bad in ["-1", "ten", "", "4294967296"] {
        assert_invalid(
            &env_err(&[("JWT_ALLAUTH_LOGIN_FAILURES_PER_IP", bad)]),
            "LOGIN_FAILURES_PER_IP",
        );
    }
    assert_invalid(
        &toml_err("login_failures_per_email = -3"),
        "LOGIN_FAILURES_PER_EMAIL",
    );
}

#[test]
fn algorithms() {
    for (text, alg) in [
        ("HS256", Algorithm::HS256),
        ("hs384", Algorithm::HS384),
        ("HS512", Algorithm::HS512),
        ("eddsa", Algorithm::EdDSA),
        ("ES256", Algorithm::ES256),
        ("rs256", Algorithm::RS256),
    ] {
        assert_eq!(
            env(&[("JWT_ALLAUTH_ALGORITHM", text)]).tokens.algorithm,
            alg
        );
    }
    let err = env_err(&[("JWT_ALLAUTH_ALGORITHM", "none")]);
    assert_invalid(&err, "ALGORITHM");
    assert!(err.to_string().contains("`none`"), "{err}");
    assert_invalid(&toml_err("algorithm = 256"), "ALGORITHM");
}

#[test]
fn same_site() {
    for (text, expected) in [
        ("strict", SameSite::Strict),
        ("Lax", SameSite::Lax),
        ("NONE", SameSite::None),
        ("None", SameSite::None),
    ] {
        assert_eq!(
            env(&[("JWT_ALLAUTH_COOKIE_SAMESITE", text)])
                .http
                .cookie_samesite,
            expected
        );
        assert_eq!(
            toml(&format!("cookie_samesite = {text:?}"))
                .http
                .cookie_samesite,
            expected
        );
    }
    let err = env_err(&[("JWT_ALLAUTH_COOKIE_SAMESITE", "relaxed")]);
    assert_invalid(&err, "COOKIE_SAMESITE");
    assert!(err.to_string().contains("relaxed"), "{err}");
}

#[test]
fn cookie_name_path_and_domain() {
    assert_invalid(&env_err(&[("JWT_ALLAUTH_COOKIE_NAME", "")]), "COOKIE_NAME");
    assert_invalid(
        &env_err(&[("JWT_ALLAUTH_COOKIE_NAME", "my cookie")]),
        "COOKIE_NAME",
    );
    assert_invalid(
        &env_err(&[("JWT_ALLAUTH_COOKIE_PATH", "auth")]),
        "COOKIE_PATH",
    );
    assert_invalid(
        &env_err(&[("JWT_ALLAUTH_COOKIE_DOMAIN", "a;b")]),
        "COOKIE_DOMAIN",
    );
    let mut s = toml("cookie_domain = \"example.com\"");
    s.apply_env_vars([("JWT_ALLAUTH_COOKIE_DOMAIN", "")])
        .expect("valid");
    assert_eq!(s.http.cookie_domain, None);
}

#[test]
fn empty_optional_strings_mean_none() {
    let mut s = toml(ALL_TOML);
    s.apply_env_vars(
        [
            "COOKIE_DOMAIN",
            "ISSUER",
            "AUDIENCE",
            "KEY_ID",
            "DATABASE_URL",
            "PRIVATE_KEY_FILE",
            "PUBLIC_KEY_FILE",
            "PREVIOUS_ALGORITHM",
            "PREVIOUS_SECRET_KEY",
            "PREVIOUS_PUBLIC_KEY_FILE",
            "PREVIOUS_KEY_ID",
        ]
        .map(|name| (format!("{ENV_PREFIX}{name}"), "")),
    )
    .expect("valid");
    assert_eq!(s.http.cookie_domain, None);
    assert_eq!(s.tokens.issuer, None);
    assert_eq!(s.tokens.audience, None);
    assert_eq!(s.tokens.key_id, None);
    assert_eq!(s.server.database_url, None);
    assert_eq!(s.tokens.private_key_file, None);
    assert_eq!(s.tokens.public_key_file, None);
    assert_eq!(s.tokens.previous_algorithm, None);
    assert_eq!(s.tokens.previous_secret_key, None);
    assert_eq!(s.tokens.previous_public_key_file, None);
    assert_eq!(s.tokens.previous_key_id, None);
    let s = toml("issuer = \"\"\naudience = \"\"");
    assert_eq!((s.tokens.issuer, s.tokens.audience), (None, None));
    assert_invalid(&toml_err("issuer = 5"), "ISSUER");
}

#[test]
fn bind_addresses() {
    assert_eq!(
        env(&[("JWT_ALLAUTH_BIND", "[::1]:8080")]).server.bind,
        "[::1]:8080".parse().expect("addr")
    );
    for bad in ["localhost:8000", "127.0.0.1", "", "127.0.0.1:99999"] {
        let err = env_err(&[("JWT_ALLAUTH_BIND", bad)]);
        assert_invalid(&err, "BIND");
    }
    assert_invalid(&toml_err("bind = 8000"), "BIND");
}

#[test]
fn metrics_bind_is_off_unless_set() {
    assert_eq!(env(&[]).server.metrics_bind, None);
    assert_eq!(
        env(&[("JWT_ALLAUTH_METRICS_BIND", "")]).server.metrics_bind,
        None
    );
    assert_eq!(
        env(&[("JWT_ALLAUTH_METRICS_BIND", "127.0.0.1:9100")])
            .server
            .metrics_bind,
        Some("127.0.0.1:9100".parse().expect("addr"))
    );
    assert_eq!(
        toml("metrics_bind = \"[::1]:9100\"").server.metrics_bind,
        Some("[::1]:9100".parse().expect("addr"))
    );
    for bad in ["localhost:9100", "127.0.0.1", "9100"] {
        assert_invalid(
            &env_err(&[("JWT_ALLAUTH_METRICS_BIND", bad)]),
            "METRICS_BIND",
        );
    }
    assert_invalid(&toml_err("metrics_bind = 9100"), "METRICS_BIND");
}

#[test]
fn trusted_proxies() {
    let expected = vec![
        net("10.0.0.0/8"),
        net("192.168.1.1/32"),
        net("::1/128"),
        net("fd00::/8"),
    ];
    assert_eq!(
        toml(r#"trusted_proxies = ["10.0.0.0/8", "192.168.1.1", "::1", "fd00::/8"]"#)
            .http
            .trusted_proxies,
        expected
    );
    assert_eq!(
        env(&[(
            "JWT_ALLAUTH_TRUSTED_PROXIES",
            "10.0.0.0/8,192.168.1.1, ::1 ,fd00::/8"
        )])
        .http
        .trusted_proxies,
        expected
    );
    assert_eq!(
        env(&[(
            "JWT_ALLAUTH_TRUSTED_PROXIES",
            r#"["10.0.0.0/8", "192.168.1.1", "::1", "fd00::/8"]"#
        )])
        .http
        .trusted_proxies,
        expected
    );
    assert_eq!(
        toml(r#"trusted_proxies = "10.0.0.0/8""#)
            .http
            .trusted_proxies,
        vec![net("10.0.0.0/8")]
    );
    assert_eq!(toml("trusted_proxies = []").http.trusted_proxies, vec![]);
    let mut s = toml(r#"trusted_proxies = ["10.0.0.0/8"]"#);
    s.apply_env_vars([("JWT_ALLAUTH_TRUSTED_PROXIES", "")])
        .expect("valid");
    assert!(s.http.trusted_proxies.is_empty());
    for bad in [
        "10.0.0.0/33",
        "proxy.local",
        "10.0.0.0/8;10.1.0.0/16",
        "[\"10.0.0.0/8\"",
    ] {
        let err = env_err(&[("JWT_ALLAUTH_TRUSTED_PROXIES", bad)]);
        assert_invalid(&err, "TRUSTED_PROXIES");
    }
    assert_invalid(&toml_err("trusted_proxies = [10]"), "TRUSTED_PROXIES");
    assert_invalid(&toml_err("trusted_proxies = true"), "TRUSTED_PROXIES");
}

#[test]
fn csrf_trusted_origins() {
    let expected = vec!["https://app.example.com", "http://localhost:3000"];
    assert_eq!(
        toml(r#"csrf_trusted_origins = ["https://app.example.com", "HTTP://LocalHost:3000"]"#)
            .http
            .csrf_trusted_origins,
        expected
    );
    assert_eq!(
        env(&[(
            "JWT_ALLAUTH_CSRF_TRUSTED_ORIGINS",
            "https://app.example.com, http://localhost:3000,"
        )])
        .http
        .csrf_trusted_origins,
        expected
    );
    assert_eq!(
        env(&[(
            "JWT_ALLAUTH_CSRF_TRUSTED_ORIGINS",
            r#"["https://app.example.com", "http://localhost:3000"]"#
        )])
        .http
        .csrf_trusted_origins,
        expected
    );
    assert_eq!(
        toml(r#"csrf_trusted_origins = "https://app.example.com""#)
            .http
            .csrf_trusted_origins,
        vec!["https://app.example.com"]
    );
    assert!(
        toml("csrf_trusted_origins = []")
            .http
            .csrf_trusted_origins
            .is_empty()
    );
    let mut s = toml(r#"csrf_trusted_origins = ["https://app.example.com"]"#);
    s.apply_env_vars([("JWT_ALLAUTH_CSRF_TRUSTED_ORIGINS", "")])
        .expect("valid");
    assert!(s.http.csrf_trusted_origins.is_empty());
    for bad in [
        "null",
        "app.example.com",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://user@app.example.com",
        "https://",
        "[\"https://app.example.com\"",
    ] {
        let err = env_err(&[("JWT_ALLAUTH_CSRF_TRUSTED_ORIGINS", bad)]);
        assert_invalid(&err, "CSRF_TRUSTED_ORIGINS");
    }
    assert_invalid(
        &toml_err("csrf_trusted_origins = [10]"),
        "CSRF_TRUSTED_ORIGINS",
    );
    assert_invalid(
        &toml_err("csrf_trusted_origins = true"),
        "CSRF_TRUSTED_ORIGINS",
    );
}

#[test]
fn development_mode() {
    assert!(toml("development_mode = true").server.development_mode);
    assert!(
        env(&[("JWT_ALLAUTH_DEVELOPMENT_MODE", "yes")])
            .server
            .development_mode
    );
    assert!(
        !env(&[("JWT_ALLAUTH_DEVELOPMENT_MODE", "false")])
            .server
            .development_mode
    );
    assert_invalid(
        &env_err(&[("JWT_ALLAUTH_DEVELOPMENT_MODE", "maybe")]),
        "DEVELOPMENT_MODE",
    );
}

#[test]
fn connection_timeouts_and_cap_refuse_zero() {
    let s = toml("header_read_timeout = 1\nidle_timeout = \"2s\"\nmax_connections = 1");
    assert_eq!(
        (
            s.server.header_read_timeout,
            s.server.idle_timeout,
            s.server.max_connections
        ),
        (secs(1), secs(2), 1)
    );
    for name in ["HEADER_READ_TIMEOUT", "IDLE_TIMEOUT", "MAX_CONNECTIONS"] {
        let variable = format!("{ENV_PREFIX}{name}");
        assert_invalid(&env_err(&[(variable.as_str(), "0")]), name);
        assert_invalid(&env_err(&[(variable.as_str(), "soon")]), name);
    }
}

#[test]
fn user_attributes_map_and_list_forms() {
    let map = UserAttributes::from_pairs([("org_id", "profile.org.id"), ("plan", "profile.plan")])
        .expect("ok");
    let list = UserAttributes::from_paths(["profile.org_id", "first_name"]).expect("ok");

    assert_eq!(
        toml("[user_attributes]\norg_id = \"profile.org.id\"\nplan = \"profile.plan\"")
            .tokens
            .user_attributes,
        map
    );
    assert_eq!(
        toml(r#"user_attributes = ["profile.org_id", "first_name"]"#)
            .tokens
            .user_attributes,
        list
    );
    assert_eq!(
        env(&[(
            "JWT_ALLAUTH_USER_ATTRIBUTES",
            r#"{"org_id": "profile.org.id", "plan": "profile.plan"}"#
        )])
        .tokens
        .user_attributes,
        map
    );
    assert_eq!(
        env(&[(
            "JWT_ALLAUTH_USER_ATTRIBUTES",
            r#"["profile.org_id", "first_name"]"#
        )])
        .tokens
        .user_attributes,
        list
    );
    // JSON text inside a TOML string.
    assert_eq!(
        toml(r#"user_attributes = '["profile.org_id", "first_name"]'"#)
            .tokens
            .user_attributes,
        list
    );
    assert!(
        env(&[("JWT_ALLAUTH_USER_ATTRIBUTES", "")])
            .tokens
            .user_attributes
            .is_empty()
    );
    assert!(
        toml("user_attributes = []")
            .tokens
            .user_attributes
            .is_empty()
    );
}

#[test]
fn user_attributes_reject_reserved_claim_names() {
    for name in RESERVED {
        let expected =
            format!("invalid value for USER_ATTRIBUTES: the claim name `{name}` is reserved");
        let forms = [
            toml_err(&format!("user_attributes = {{ {name} = \"profile.x\" }}")),
            toml_err(&format!("user_attributes = [\"profile.{name}\"]")),
            env_err(&[(
                "JWT_ALLAUTH_USER_ATTRIBUTES",
                &format!(r#"{{"{name}": "profile.x"}}"#),
            )]),
            env_err(&[("JWT_ALLAUTH_USER_ATTRIBUTES", &format!(r#"["{name}"]"#))]),
        ];
        for err in forms {
            assert_invalid(&err, "USER_ATTRIBUTES");
            assert_eq!(err.to_string(), expected);
        }
    }
}

#[test]
fn user_attributes_reject_bad_shapes() {
    for bad in [
        "user_attributes = { org = 5 }",
        "user_attributes = [5]",
        "user_attributes = 5",
        "user_attributes = \"not json\"",
        "user_attributes = '\"a string\"'",
        "user_attributes = { org = \"\" }",
        "user_attributes = [\"profile.\"]",
        "user_attributes = { \"\" = \"profile.x\" }",
    ] {
        assert_invalid(&toml_err(bad), "USER_ATTRIBUTES");
    }
    for bad in ["{", "[1]", r#"{"org": ["a"]}"#, "42"] {
        assert_invalid(
            &env_err(&[("JWT_ALLAUTH_USER_ATTRIBUTES", bad)]),
            "USER_ATTRIBUTES",
        );
    }
}

#[test]
fn purpose_token_lifetimes() {
    let s = toml("[purpose_token_lifetimes]\npassword_reset = \"1h\"\nemail_verification = 86400");
    assert_eq!(
        s.tokens.purpose_token_lifetime_for("password_reset"),
        secs(HOUR)
    );
    assert_eq!(
        s.tokens.purpose_token_lifetime_for("email_verification"),
        secs(DAY)
    );
    let s = env(&[(
        "JWT_ALLAUTH_PURPOSE_TOKEN_LIFETIMES",
        r#"{"password_reset": "30m"}"#,
    )]);
    assert_eq!(
        s.tokens.purpose_token_lifetimes,
        BTreeMap::from([("password_reset".to_owned(), secs(30 * MINUTE))])
    );
    let err = env_err(&[(
        "JWT_ALLAUTH_PURPOSE_TOKEN_LIFETIMES",
        r#"{"password_reset": "soon"}"#,
    )]);
    assert_invalid(&err, "PURPOSE_TOKEN_LIFETIMES");
    assert!(err.to_string().contains("password_reset"), "{err}");
    assert_invalid(
        &toml_err("purpose_token_lifetimes = [\"1h\"]"),
        "PURPOSE_TOKEN_LIFETIMES",
    );
}

#[test]
fn unknown_prefixed_variables_are_ignored() {
    let s = env(&[
        ("JWT_ALLAUTH_TEST_POSTGRES_URL", "postgres://ci/test"),
        ("JWT_ALLAUTH_", "x"),
        ("JWT_ALLAUTH_leeway", "not even a duration"),
        ("PATH", "/usr/bin"),
        ("LEEWAY", "also ignored"),
    ]);
    assert_eq!(s, Config::default());
}

#[test]
fn database_url_precedence() {
    assert_eq!(
        env(&[("DATABASE_URL", "postgres://plain")])
            .server
            .database_url
            .as_ref()
            .map(Secret::expose),
        Some("postgres://plain")
    );
    for vars in [
        [
            ("DATABASE_URL", "postgres://plain"),
            ("JWT_ALLAUTH_DATABASE_URL", "postgres://prefixed"),
        ],
        [
            ("JWT_ALLAUTH_DATABASE_URL", "postgres://prefixed"),
            ("DATABASE_URL", "postgres://plain"),
        ],
    ] {
        assert_eq!(
            env(&vars).server.database_url.as_ref().map(Secret::expose),
            Some("postgres://prefixed")
        );
    }
    // The plain variable overrides the file; an empty one is ignored.
    let mut s = toml("database_url = \"sqlite://file.db\"");
    s.apply_env_vars([("DATABASE_URL", "")]).expect("valid");
    assert_eq!(
        s.server.database_url.as_ref().map(Secret::expose),
        Some("sqlite://file.db")
    );
    s.apply_env_vars([("DATABASE_URL", "postgres://plain")])
        .expect("valid");
    assert_eq!(
        s.server.database_url.as_ref().map(Secret::expose),
        Some("postgres://plain")
    );
}

#[test]
fn the_database_url_never_appears_in_debug() {
    let url = "postgres://app:Hunter2/SecretPw@db.example/auth?password=SecretPw";
    for s in [
        toml(&format!("database_url = {url:?}")),
        env(&[("DATABASE_URL", url)]),
        env(&[("JWT_ALLAUTH_DATABASE_URL", url)]),
    ] {
        assert_eq!(
            s.server.database_url.as_ref().map(Secret::expose),
            Some(url)
        );
        for text in [format!("{s:?}"), format!("{s:#?}")] {
            assert!(!text.contains("SecretPw"), "{text}");
        }
    }
}

#[test]
fn env_overrides_file_and_keeps_the_rest() {
    let mut s = toml("access_token_lifetime = \"5m\"\nleeway = 2\nissuer = \"file\"");
    s.apply_env_vars([
        ("JWT_ALLAUTH_ACCESS_TOKEN_LIFETIME", "10m"),
        ("JWT_ALLAUTH_ISSUER", "env"),
    ])
    .expect("valid");
    assert_eq!(s.tokens.access_token_lifetime, secs(10 * MINUTE));
    assert_eq!(s.tokens.issuer.as_deref(), Some("env"));
    assert_eq!(
        s.tokens.leeway,
        secs(2),
        "settings absent from the environment keep the file's value"
    );
}

#[test]
fn a_failed_overlay_leaves_settings_unchanged() {
    let mut s = toml("leeway = 2");
    let before = s.clone();
    s.apply_toml_str("leeway = 9\naccess_token_lifetime = \"soon\"")
        .expect_err("invalid");
    assert_eq!(s, before);
    s.apply_env_vars([("JWT_ALLAUTH_LEEWAY", "9"), ("JWT_ALLAUTH_BIND", "nowhere")])
        .expect_err("invalid");
    assert_eq!(s, before);
}

#[test]
fn load_reads_the_file_and_reports_its_path() {
    let dir = std::env::temp_dir().join(format!("jwt-allauth-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("good.toml");
    std::fs::write(&good, "issuer = \"from-file\"\n").expect("write");
    // The process environment is read too; no JWT_ALLAUTH_ISSUER is set by the test runner.
    if std::env::var_os("JWT_ALLAUTH_ISSUER").is_none() {
        let s = Config::load(Some(&good)).expect("loads");
        assert_eq!(s.tokens.issuer.as_deref(), Some("from-file"));
    }

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "issuer = \n").expect("write");
    let err = Config::load(Some(&bad)).expect_err("not TOML");
    assert!(
        matches!(&err, ConfigError::Toml { path: Some(p), line: Some(1), .. } if p == &bad),
        "{err:?}"
    );
    assert!(err.to_string().contains("bad.toml"), "{err}");

    let missing = dir.join("missing.toml");
    let err = Config::load(Some(&missing)).expect_err("missing");
    assert!(
        matches!(&err, ConfigError::File { path, .. } if path == &missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing.toml"), "{err}");
    assert!(err.source().is_some());
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// Asserts that neither the message, the source chain nor `Debug` contain `secret`.
fn assert_secret_absent(err: &ConfigError, secret: &str) {
    let mut texts = vec![err.to_string(), format!("{err:?}")];
    let mut source = err.source();
    while let Some(e) = source {
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
        source = e.source();
    }
    for text in texts {
        assert!(!text.contains(secret), "the secret leaked: {text}");
    }
}

#[test]
fn the_secret_never_appears_in_errors_or_debug() {
    let secret = "hunter2-very-secret";
    let s = toml(&format!("secret_key = {secret:?}"));
    assert_eq!(
        s.tokens.secret_key.as_ref().map(Secret::expose),
        Some(secret)
    );
    assert!(!format!("{s:?}").contains(secret));
    assert!(!format!("{s:#?}").contains(secret));
    let s = env(&[("JWT_ALLAUTH_SECRET_KEY", secret)]);
    assert!(!format!("{s:?}").contains(secret));
    let s = toml(&format!("previous_secret_key = {secret:?}"));
    assert_eq!(
        s.tokens.previous_secret_key.as_ref().map(Secret::expose),
        Some(secret)
    );
    assert!(!format!("{s:#?}").contains(secret));

    let errors = [
        toml_err(&format!("secret_key = [{secret:?}]")),
        toml_err("secret_key = 123456789"),
        toml_err(&format!("secret_key = {secret:?}\nsecret_key = {secret:?}")),
        toml_err(&format!("secret_key = {secret:?}\nSECRET_KEY = {secret:?}")),
        toml_err(&format!("secret_key = {secret:?}\nleeway = \"bad\"")),
        toml_err(&format!("secret_key = \"{secret}")),
        toml_err(&format!("secret_key = {secret}")),
        toml_err(&format!("previous_secret_key = [{secret:?}]")),
        toml_err(&format!("previous_secret_key = {secret}")),
        env_err(&[("JWT_ALLAUTH_SECRET_KEY", "")]),
        env_err(&[
            ("JWT_ALLAUTH_SECRET_KEY", secret),
            ("JWT_ALLAUTH_LEEWAY", "bad"),
        ]),
    ];
    for err in &errors {
        assert_secret_absent(err, secret);
    }
    assert_secret_absent(&toml_err("secret_key = 123456789"), "123456789");
    assert_invalid(&env_err(&[("JWT_ALLAUTH_SECRET_KEY", "")]), "SECRET_KEY");
}

/// `Config::load` of a file holding `toml`, with the process environment (which sets no
/// `JWT_ALLAUTH_COOKIE_*` variable under the test runner).
fn load_toml(name: &str, toml: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(format!("{name}.toml"));
    std::fs::write(&file, toml).expect("write");
    Config::load(Some(&file))
}

/// Asserts `err` names `setting` in one line that mentions `words`.
fn assert_cookie_error(err: &ConfigError, setting: &str, words: &[&str]) {
    assert_invalid(err, setting);
    let text = err.to_string();
    assert_eq!(text.lines().count(), 1, "{text}");
    for word in words {
        assert!(text.contains(word), "{word:?} in {text}");
    }
}

/// Issue 10, finding 8: browsers silently drop a `__Host-` cookie that is not Secure, has
/// a Domain or another Path than `/`; such settings are a start-up error naming the
/// setting, whichever layer set which half.
#[test]
fn finding_8_host_prefix_needs_secure_no_domain_and_the_root_path() {
    let ok = load_toml("host", "cookie_name = \"__Host-refresh_token\"").expect("valid");
    assert_eq!(ok.http.cookie_name, "__Host-refresh_token");
    assert!(ok.validate().is_ok());

    let err = load_toml(
        "host-insecure",
        "cookie_name = \"__Host-refresh_token\"\ncookie_secure = false",
    )
    .expect_err("__Host- without Secure");
    assert_cookie_error(&err, "COOKIE_SECURE", &["__Host-refresh_token", "Secure"]);

    let err = load_toml(
        "host-domain",
        "cookie_name = \"__Host-refresh_token\"\ncookie_domain = \"example.com\"",
    )
    .expect_err("__Host- with a Domain");
    assert_cookie_error(
        &err,
        "COOKIE_DOMAIN",
        &["__Host-refresh_token", "example.com"],
    );

    let err = load_toml(
        "host-path",
        "cookie_name = \"__Host-refresh_token\"\ncookie_path = \"/api/\"",
    )
    .expect_err("__Host- with another Path");
    assert_cookie_error(&err, "COOKIE_PATH", &["__Host-refresh_token", "/api/"]);

    // Browsers match the prefix in any case.
    let mut s = Config::default();
    s.http.cookie_name = "__HOST-rt".to_owned();
    s.http.cookie_secure = false;
    assert_cookie_error(&s.validate().expect_err("any case"), "COOKIE_SECURE", &[]);
    // Not a prefix: an ordinary name.
    s.http.cookie_name = "x__Host-rt".to_owned();
    assert!(s.validate().is_ok());
}

/// Issue 10, finding 8: a `__Secure-` cookie needs Secure.
#[test]
fn finding_8_secure_prefix_needs_secure() {
    assert!(
        load_toml(
            "secure",
            "cookie_name = \"__Secure-rt\"\ncookie_path = \"/api/\""
        )
        .is_ok()
    );
    let err = load_toml(
        "secure-insecure",
        "cookie_name = \"__Secure-rt\"\ncookie_secure = \"off\"",
    )
    .expect_err("__Secure- without Secure");
    assert_cookie_error(&err, "COOKIE_SECURE", &["__Secure-rt"]);
}

/// Issue 10, finding 8: browsers drop a `SameSite=None` cookie without Secure.
#[test]
fn finding_8_same_site_none_needs_secure() {
    assert!(load_toml("none", "cookie_samesite = \"none\"").is_ok());
    // Insecure development cookies are fine with Lax or Strict.
    assert!(load_toml("insecure", "cookie_secure = false").is_ok());
    let err = load_toml(
        "none-insecure",
        "cookie_samesite = \"none\"\ncookie_secure = false",
    )
    .expect_err("SameSite=None without Secure");
    assert_cookie_error(&err, "COOKIE_SAMESITE", &["COOKIE_SECURE"]);
}

#[test]
fn short_hmac_secrets_are_refused_outside_development_mode() {
    let mut settings = Config::default();
    assert_eq!(check_secret_strength(&settings), Ok(()));
    settings.tokens.secret_key = Some(Secret::new("x".repeat(MIN_SECRET_BYTES)));
    assert_eq!(check_secret_strength(&settings), Ok(()));
    settings.tokens.secret_key = Some(Secret::new("short"));
    let err = check_secret_strength(&settings).expect_err("too short");
    assert_eq!(err, WeakSecret { length: 5 });
    let text = err.to_string();
    assert!(
        text.starts_with("SECRET_KEY is too short: 5 bytes"),
        "{text}"
    );
    settings.server.development_mode = true;
    assert_eq!(check_secret_strength(&settings), Ok(()));
    // Not an HMAC algorithm: the secret is not used.
    settings.server.development_mode = false;
    settings.tokens.algorithm = Algorithm::EdDSA;
    assert_eq!(check_secret_strength(&settings), Ok(()));
}

#[test]
fn flags_override_and_default_database() {
    let mut settings = Config::default();
    assert_eq!(database_url(&settings), DEFAULT_DATABASE_URL);
    settings.server.database_url = Some(Secret::new(""));
    assert_eq!(database_url(&settings), DEFAULT_DATABASE_URL);

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("jwt-allauth.toml");
    std::fs::write(
        &file,
        "database_url = \"sqlite://from-file.db\"\nbind = \"127.0.0.1:9000\"\n",
    )
    .expect("write");
    let bind: SocketAddr = "127.0.0.1:9001".parse().expect("addr");
    let settings = load_config(
        Some(&file),
        &Overrides {
            database_url: Some("sqlite://from-flag.db"),
            bind: Some(bind),
        },
    )
    .expect("settings");
    assert_eq!(database_url(&settings), "sqlite://from-flag.db");
    assert_eq!(settings.server.bind, bind);
}

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[test]
fn webhooks_are_off_by_default_and_read_from_the_environment_or_toml() {
    let s = Config::default();
    assert!(s.server.webhook_urls.is_empty());
    assert_eq!(s.server.webhook_secret, None);
    assert!(s.validate().is_ok());

    let s = env(&[
        (
            "JWT_ALLAUTH_WEBHOOK_URLS",
            "https://hooks.example.com/auth, http://127.0.0.1:9000/in",
        ),
        ("JWT_ALLAUTH_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ]);
    let urls: Vec<&str> = s.server.webhook_urls.iter().map(|u| u.as_str()).collect();
    assert_eq!(
        urls,
        ["https://hooks.example.com/auth", "http://127.0.0.1:9000/in"]
    );
    assert!(s.server.webhook_secret.is_some());
    assert!(s.validate().is_ok());
    assert!(
        !format!("{s:?}").contains("MfKQ9r8"),
        "the secret is not in Debug"
    );

    let s = toml(&format!(
        "webhook_urls = [\"https://a.example/hook\"]\nwebhook_secret = \"{WEBHOOK_SECRET}\""
    ));
    assert_eq!(s.server.webhook_urls.len(), 1);
    assert!(s.validate().is_ok());
}

#[test]
fn webhook_urls_need_a_secret() {
    let s = env(&[("JWT_ALLAUTH_WEBHOOK_URLS", "https://a.example/hook")]);
    let err = s.validate().expect_err("no secret");
    assert_invalid(&err, "WEBHOOK_SECRET");
    assert!(
        err.to_string()
            .contains("required when WEBHOOK_URLS is set"),
        "{err}"
    );
}

#[test]
fn bad_webhook_settings_are_refused_without_quoting_secrets() {
    for bad in [
        "ftp://a.example/",
        "not a url",
        "https://a.example/,mailto:a@b.c",
    ] {
        let err = env_err(&[("JWT_ALLAUTH_WEBHOOK_URLS", bad)]);
        assert_invalid(&err, "WEBHOOK_URLS");
    }
    let err = env_err(&[(
        "JWT_ALLAUTH_WEBHOOK_URLS",
        "https://a.example/,https://user:hunter2@/x",
    )]);
    assert_invalid(&err, "WEBHOOK_URLS");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    for bad in [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_!!not-base64!!",
        "whsec_c2hvcnQ=",
    ] {
        let err = env_err(&[("JWT_ALLAUTH_WEBHOOK_SECRET", bad)]);
        assert_invalid(&err, "WEBHOOK_SECRET");
        assert!(!err.to_string().contains(bad), "{err}");
    }
}
