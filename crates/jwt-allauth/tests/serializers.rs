//! The serde forms of sessions and purpose tokens used in API responses.
#![allow(clippy::unwrap_used)]

use jwt_allauth::DeviceInfo;
use jwt_allauth::store::{PurposeTokenRecord, SessionRecord};
use serde_json::json;
use time::macros::datetime;

fn device() -> DeviceInfo {
    DeviceInfo {
        ip: Some("198.51.100.7".into()),
        browser: Some("Mobile Safari".into()),
        browser_version: Some("17.1.0".into()),
        os: Some("iOS".into()),
        os_version: Some("17.1.1".into()),
        device: Some("iPhone".into()),
        device_brand: Some("Apple".into()),
        device_model: Some("iPhone".into()),
        is_mobile: Some(true),
        is_tablet: Some(false),
        is_pc: Some(false),
        is_bot: Some(false),
    }
}

#[test]
fn a_session_serializes_to_the_contract_fields_without_internal_ones() {
    let record = SessionRecord {
        session: "0123456789abcdef0123456789abcdef".into(),
        user_id: "7".into(),
        enabled: true,
        created: datetime!(2026-11-23 10:00:00 UTC),
        last_used: datetime!(2026-11-23 11:30:00 UTC),
        expires_at: datetime!(2026-12-07 11:30:00 UTC),
        device: device(),
    };
    assert_eq!(
        serde_json::to_value(&record).unwrap(),
        json!({
            "session": "0123456789abcdef0123456789abcdef",
            "created": "2026-11-23T10:00:00Z",
            "last_used": "2026-11-23T11:30:00Z",
            "expires_at": "2026-12-07T11:30:00Z",
            "ip": "198.51.100.7",
            "browser": "Mobile Safari",
            "browser_version": "17.1.0",
            "os": "iOS",
            "os_version": "17.1.1",
            "device": "iPhone",
            "device_brand": "Apple",
            "device_model": "iPhone",
            "is_mobile": true,
            "is_tablet": false,
            "is_pc": false,
            "is_bot": false
        })
    );
}

#[test]
fn unknown_device_fields_are_null() {
    let record = SessionRecord {
        session: "0123456789abcdef0123456789abcdef".into(),
        user_id: "7".into(),
        enabled: true,
        created: datetime!(2026-11-23 10:00:00 UTC),
        last_used: datetime!(2026-11-23 10:00:00 UTC),
        expires_at: datetime!(2026-12-07 10:00:00 UTC),
        device: DeviceInfo::default(),
    };
    let value = serde_json::to_value(&record).unwrap();
    for field in [
        "ip",
        "browser",
        "os",
        "device",
        "device_brand",
        "device_model",
        "is_mobile",
        "is_tablet",
        "is_pc",
        "is_bot",
    ] {
        assert_eq!(value[field], serde_json::Value::Null, "{field}");
    }
}

#[test]
fn a_purpose_token_serializes_without_its_hash() {
    let record = PurposeTokenRecord {
        purpose: "password_reset".into(),
        user_id: "7".into(),
        created: datetime!(2026-11-23 10:00:00 UTC),
        expires_at: datetime!(2026-11-24 10:00:00 UTC),
        device: device(),
    };
    let value = serde_json::to_value(&record).unwrap();
    let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "browser",
            "browser_version",
            "created",
            "device",
            "device_brand",
            "device_model",
            "expires_at",
            "ip",
            "is_bot",
            "is_mobile",
            "is_pc",
            "is_tablet",
            "os",
            "os_version",
            "purpose",
            "user_id"
        ]
    );
    assert_eq!(value["expires_at"], "2026-11-24T10:00:00Z");
}
