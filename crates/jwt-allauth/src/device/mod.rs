//! Device metadata of a session: browser, OS, device and client IP.
//!
//! TODO(helper): implement `UserAgentParser` (ua-parser + vendored uap-core regexes) and
//! `ClientIpResolver`. The public API below is fixed; fill in the bodies.

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
    /// A crawler, bot or non-browser client.
    pub is_bot: Option<bool>,
}

impl DeviceInfo {
    /// Metadata from a request: the parsed User-Agent (when a parser is given, that is,
    /// when `collect_user_agent` is on) and the client IP.
    pub fn from_request(
        parser: Option<&UserAgentParser>,
        user_agent: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Self {
        let _ = (parser, user_agent, ip);
        todo!("helper")
    }

    /// The same metadata with every text value cut to [`MAX_FIELD_CHARS`] characters.
    pub fn truncated(self) -> Self {
        todo!("helper")
    }
}
