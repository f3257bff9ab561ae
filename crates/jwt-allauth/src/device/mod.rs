//! Device metadata of a session: browser, OS, device and client IP.
//!
//! [`UserAgentParser`] reads the User-Agent with the `ua-parser` crate and the vendored
//! uap-core rules; [`ClientIpResolver`] picks the client address behind trusted proxies;
//! [`DeviceInfo::from_request`] combines both into what a session row stores.

mod client_ip;
mod user_agent;

pub use client_ip::ClientIpResolver;
pub use user_agent::{UserAgentInfo, UserAgentParser};

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Longest text value stored, in characters; longer values are truncated, never rejected.
pub const MAX_FIELD_CHARS: usize = 32;

/// Device metadata recorded for a session at login and at every rotation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    /// Client IP address.
    pub ip: Option<String>,
    /// Browser family (`"Chrome"`).
    pub browser: Option<String>,
    /// Browser version (`"120.0.0"`).
    pub browser_version: Option<String>,
    /// Operating system family (`"Windows"`).
    pub os: Option<String>,
    /// Operating system version.
    pub os_version: Option<String>,
    /// Device family (`"iPhone"`).
    pub device: Option<String>,
    /// Device brand (`"Apple"`).
    pub device_brand: Option<String>,
    /// Device model.
    pub device_model: Option<String>,
    /// A phone.
    pub is_mobile: Option<bool>,
    /// A tablet.
    pub is_tablet: Option<bool>,
    /// A desktop or laptop computer.
    pub is_pc: Option<bool>,
    /// A crawler or bot (uap-core's device family `Spider`). HTTP libraries and
    /// command-line clients such as curl are not bots: for them all four flags are
    /// `false`, as in Python's `user-agents`.
    pub is_bot: Option<bool>,
}

impl DeviceInfo {
    /// Metadata from a request: the parsed User-Agent (when a parser is given, that is,
    /// when the HTTP layer collects it) and the client IP.
    ///
    /// With no parser, or no or a blank User-Agent, the User-Agent fields and the flags
    /// are `None`. Text values are [truncated](Self::truncated).
    pub fn from_request(
        parser: Option<&UserAgentParser>,
        user_agent: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Self {
        let ip = ip.map(|ip| ip.to_string());
        let parsed = parser.zip(user_agent.filter(|ua| !ua.trim().is_empty()));
        let info = match parsed {
            Some((parser, user_agent)) => {
                let ua = parser.parse(user_agent);
                Self {
                    ip,
                    browser: ua.browser,
                    browser_version: ua.browser_version,
                    os: ua.os,
                    os_version: ua.os_version,
                    device: ua.device,
                    device_brand: ua.device_brand,
                    device_model: ua.device_model,
                    is_mobile: Some(ua.is_mobile),
                    is_tablet: Some(ua.is_tablet),
                    is_pc: Some(ua.is_pc),
                    is_bot: Some(ua.is_bot),
                }
            }
            None => Self {
                ip,
                ..Self::default()
            },
        };
        info.truncated()
    }

    /// The same metadata with every text value cut to [`MAX_FIELD_CHARS`] characters
    /// (characters, not bytes: a multi-byte character is never split).
    pub fn truncated(self) -> Self {
        let cut = |value: Option<String>| value.map(truncate_chars);
        Self {
            ip: cut(self.ip),
            browser: cut(self.browser),
            browser_version: cut(self.browser_version),
            os: cut(self.os),
            os_version: cut(self.os_version),
            device: cut(self.device),
            device_brand: cut(self.device_brand),
            device_model: cut(self.device_model),
            ..self
        }
    }
}

/// `value` cut to its first [`MAX_FIELD_CHARS`] characters.
fn truncate_chars(mut value: String) -> String {
    if let Some((end, _)) = value.char_indices().nth(MAX_FIELD_CHARS) {
        value.truncate(end);
    }
    value
}

/// The parser shared by the tests of this module (building one is slow).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn test_parser() -> &'static UserAgentParser {
    static PARSER: std::sync::OnceLock<UserAgentParser> = std::sync::OnceLock::new();
    PARSER.get_or_init(|| UserAgentParser::new().unwrap())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    const CHROME_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) \
        AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    #[test]
    fn from_request_fills_user_agent_fields_and_flags() {
        let ip = Some(IpAddr::from([203, 0, 113, 7]));
        let info = DeviceInfo::from_request(Some(test_parser()), Some(CHROME_ON_WINDOWS), ip);
        assert_eq!(
            info,
            DeviceInfo {
                ip: Some("203.0.113.7".into()),
                browser: Some("Chrome".into()),
                browser_version: Some("120.0.0".into()),
                os: Some("Windows".into()),
                os_version: Some("10".into()),
                device: None,
                device_brand: None,
                device_model: None,
                is_mobile: Some(false),
                is_tablet: Some(false),
                is_pc: Some(true),
                is_bot: Some(false),
            }
        );
    }

    #[test]
    fn from_request_without_parser_or_user_agent_keeps_only_the_ip() {
        let ip = Some(IpAddr::from(Ipv6Addr::LOCALHOST));
        let only_ip = DeviceInfo {
            ip: Some("::1".into()),
            ..DeviceInfo::default()
        };
        assert_eq!(
            DeviceInfo::from_request(None, Some(CHROME_ON_WINDOWS), ip),
            only_ip
        );
        for user_agent in [None, Some(""), Some("  ")] {
            assert_eq!(
                DeviceInfo::from_request(Some(test_parser()), user_agent, ip),
                only_ip,
                "{user_agent:?}"
            );
        }
        assert_eq!(
            DeviceInfo::from_request(None, None, None),
            DeviceInfo::default()
        );
    }

    #[test]
    fn from_request_with_an_unknown_user_agent_sets_flags() {
        let info = DeviceInfo::from_request(Some(test_parser()), Some("curl/8.4.0"), None);
        assert_eq!(info.browser.as_deref(), Some("curl"));
        assert_eq!(info.os, None);
        assert_eq!(
            [info.is_mobile, info.is_tablet, info.is_pc, info.is_bot],
            [Some(false); 4]
        );
    }

    #[test]
    fn from_request_truncates() {
        // uap-core keeps the whole model name of this (made-up) Samsung phone.
        let user_agent = "Mozilla/5.0 (Linux; Android 13; SM-S901B-ÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉ) \
            AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";
        let info = DeviceInfo::from_request(Some(test_parser()), Some(user_agent), None);
        for value in [&info.device, &info.device_model].into_iter().flatten() {
            assert!(value.chars().count() <= MAX_FIELD_CHARS, "{value:?}");
        }
        assert!(
            info.device_model
                .is_some_and(|model| model.chars().count() == MAX_FIELD_CHARS)
        );
    }

    #[test]
    fn truncated_counts_characters_not_bytes() {
        let long = "é".repeat(40);
        let info = DeviceInfo {
            ip: Some("2001:db8::1".into()),
            browser: Some(long.clone()),
            browser_version: Some("a".repeat(33)),
            os: Some("日本語".repeat(20)),
            os_version: Some("🦀".repeat(MAX_FIELD_CHARS)),
            device: Some(format!("{}🦀", "x".repeat(MAX_FIELD_CHARS - 1))),
            device_brand: Some(String::new()),
            device_model: None,
            is_mobile: Some(true),
            is_tablet: Some(false),
            is_pc: None,
            is_bot: Some(false),
        }
        .truncated();
        assert_eq!(info.ip.as_deref(), Some("2001:db8::1"));
        assert_eq!(info.browser, Some("é".repeat(MAX_FIELD_CHARS)));
        assert_eq!(info.browser_version, Some("a".repeat(MAX_FIELD_CHARS)));
        assert_eq!(
            info.os.as_ref().map(|os| os.chars().count()),
            Some(MAX_FIELD_CHARS)
        );
        assert!(info.os.as_deref().is_some_and(|os| os.ends_with("日本")));
        assert_eq!(info.os_version, Some("🦀".repeat(MAX_FIELD_CHARS)));
        assert_eq!(
            info.device,
            Some(format!("{}🦀", "x".repeat(MAX_FIELD_CHARS - 1)))
        );
        assert_eq!(info.device_brand.as_deref(), Some(""));
        assert_eq!(info.device_model, None);
        assert_eq!(
            [info.is_mobile, info.is_tablet, info.is_pc, info.is_bot],
            [Some(true), Some(false), None, Some(false)]
        );
    }
}
