//! User-Agent parsing with ua-parser and the vendored uap-core regexes.

/// What a User-Agent says about the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAgentInfo {
    /// Browser family.
    pub browser: Option<String>,
    /// Browser version.
    pub browser_version: Option<String>,
    /// OS family.
    pub os: Option<String>,
    /// OS version.
    pub os_version: Option<String>,
    /// Device family.
    pub device: Option<String>,
    /// Device brand.
    pub device_brand: Option<String>,
    /// Device model.
    pub device_model: Option<String>,
    /// A phone.
    pub is_mobile: bool,
    /// A tablet.
    pub is_tablet: bool,
    /// A desktop or laptop.
    pub is_pc: bool,
    /// A bot.
    pub is_bot: bool,
}

/// A User-Agent parser built once from the vendored regexes (≈ 140 ms); share it.
pub struct UserAgentParser {}

impl std::fmt::Debug for UserAgentParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAgentParser").finish_non_exhaustive()
    }
}

impl UserAgentParser {
    /// Builds the parser from the vendored uap-core regexes.
    pub fn new() -> Result<Self, crate::error::BoxError> {
        todo!("helper")
    }

    /// Parses a User-Agent header value.
    pub fn parse(&self, user_agent: &str) -> UserAgentInfo {
        let _ = user_agent;
        todo!("helper")
    }
}
