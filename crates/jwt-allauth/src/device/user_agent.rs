//! User-Agent parsing with ua-parser and the vendored uap-core regexes.
//!
//! The rules are uap-core 0.18.0 (`uap-core/regexes.json` in this crate, converted from
//! YAML by `scripts/convert-uap-regexes.py`), embedded in the binary so the crate needs no
//! file at run time. The phone / tablet / PC / bot flags follow the rules of Python's
//! `user-agents` package (used by the Django library), applied to the uap-core result.

use std::borrow::Cow;

use ua_parser::{Extractor, Regexes};

/// The uap-core rules, as JSON.
const REGEXES_JSON: &str = include_str!("../../uap-core/regexes.json");

/// Longest prefix of a User-Agent that is parsed, in bytes. Real User-Agents are far
/// shorter; the cap bounds the work done for a hostile header.
const MAX_PARSED_BYTES: usize = 1024;

/// The family uap-core reports when no rule matches.
const UNKNOWN_FAMILY: &str = "Other";

/// What a User-Agent says about the client.
///
/// Families are `None` when uap-core does not recognise them (its `"Other"`); versions,
/// brand and model are `None` when absent. Text is free of control characters.
///
/// The flags follow Python's `user-agents`: an HTTP library or command-line client
/// (curl, python-requests, ...) is none of phone, tablet, PC or bot, so all four are
/// `false`; only what uap-core classifies as a crawler (device family `Spider`) is a
/// bot. One deliberate difference: a tablet is never also a phone (Python reports both
/// for, e.g., Chrome on an iPad).
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

/// A User-Agent parser built once from the vendored regexes (slow to build and large:
/// BENCHMARKS.md, "Memory"); share it.
pub struct UserAgentParser {
    extractor: Extractor<'static>,
}

impl std::fmt::Debug for UserAgentParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAgentParser").finish_non_exhaustive()
    }
}

impl UserAgentParser {
    /// Builds the parser from the vendored uap-core regexes.
    pub fn new() -> Result<Self, crate::error::BoxError> {
        let regexes: Regexes<'static> = serde_json::from_str(REGEXES_JSON)?;
        let extractor = Extractor::try_from(regexes)?;
        Ok(Self { extractor })
    }

    /// Parses a User-Agent header value.
    pub fn parse(&self, user_agent: &str) -> UserAgentInfo {
        let user_agent = prefix(user_agent, MAX_PARSED_BYTES);
        let (browser, os, device) = self.extractor.extract(user_agent);

        let parsed = Parsed {
            user_agent,
            browser: browser
                .as_ref()
                .map_or(UNKNOWN_FAMILY, |b| b.family.as_ref()),
            os: os.as_ref().map_or(UNKNOWN_FAMILY, |o| o.os.as_ref()),
            os_version: os
                .as_ref()
                .map(|o| version([o.major.as_deref(), o.minor.as_deref(), o.patch.as_deref()]))
                .unwrap_or_default(),
            device: device
                .as_ref()
                .map_or(UNKNOWN_FAMILY, |d| d.device.as_ref()),
        };
        let is_tablet = parsed.is_tablet();

        UserAgentInfo {
            browser: family(parsed.browser),
            browser_version: browser
                .as_ref()
                .and_then(|b| clean(&version([b.major, b.minor, b.patch]))),
            os: family(parsed.os),
            os_version: clean(&parsed.os_version),
            device: family(parsed.device),
            device_brand: device
                .as_ref()
                .and_then(|d| d.brand.as_deref())
                .and_then(clean),
            device_model: device
                .as_ref()
                .and_then(|d| d.model.as_deref())
                .and_then(clean),
            is_mobile: !is_tablet && parsed.is_phone_like(),
            is_tablet,
            is_pc: parsed.is_pc(),
            is_bot: parsed.is_bot(),
        }
    }
}

/// The uap-core families ("Other" when unknown) the flags are computed from, as in
/// Python's `user-agents`.
struct Parsed<'a> {
    user_agent: &'a str,
    browser: &'a str,
    os: &'a str,
    /// `major.minor.patch`, as far as known; empty when unknown.
    os_version: String,
    device: &'a str,
}

/// Device families of phones.
const MOBILE_DEVICE_FAMILIES: &[&str] = &[
    "iPhone",
    "iPod",
    "Generic Smartphone",
    "Generic Feature Phone",
    "PlayStation Vita",
    "iOS-Device",
];

/// Browser families only found on phones.
const MOBILE_BROWSER_FAMILIES: &[&str] = &[
    "IE Mobile",
    "Opera Mobile",
    "Opera Mini",
    "Chrome Mobile",
    "Chrome Mobile WebView",
    "Chrome Mobile iOS",
];

/// OS families only found on phones.
const MOBILE_OS_FAMILIES: &[&str] = &[
    "Windows Phone",
    "Windows Phone OS",
    "Symbian OS",
    "Bada",
    "Windows CE",
    "Windows Mobile",
    "Maemo",
];

/// Device families of tablets.
const TABLET_DEVICE_FAMILIES: &[&str] = &[
    "iPad",
    "BlackBerry Playbook",
    "Blackberry Playbook",
    "Kindle",
    "Kindle Fire",
    "Kindle Fire HD",
    "Galaxy Tab",
    "Xoom",
    "Dell Streak",
];

/// OS families of desktop computers not recognised from the User-Agent text itself.
const PC_OS_FAMILIES: &[&str] = &["Windows 95", "Windows 98", "Solaris"];

impl Parsed<'_> {
    fn ua_contains(&self, needle: &str) -> bool {
        self.user_agent.contains(needle)
    }

    /// Android devices without "Mobile Safari" in the User-Agent are tablets (phones
    /// say "Mobile"; a few old tablets do too and are missed).
    fn is_android_tablet(&self) -> bool {
        !self.ua_contains("Mobile Safari") && self.browser != "Firefox Mobile"
    }

    fn is_tablet(&self) -> bool {
        TABLET_DEVICE_FAMILIES.contains(&self.device)
            || (self.os == "Android" && self.is_android_tablet())
            || (self.os == "Windows" && self.os_version.starts_with("RT"))
            || (self.os == "Firefox OS" && !self.browser.contains("Mobile"))
    }

    /// Python's `is_mobile`, minus its "and not a tablet" condition on Android and
    /// Firefox OS: the caller excludes tablets from every rule instead.
    fn is_phone_like(&self) -> bool {
        MOBILE_DEVICE_FAMILIES.contains(&self.device)
            || MOBILE_BROWSER_FAMILIES.contains(&self.browser)
            || matches!(self.os, "Android" | "Firefox OS")
            || (self.os == "BlackBerry OS" && self.device != "Blackberry Playbook")
            || MOBILE_OS_FAMILIES.contains(&self.os)
            || self.ua_contains("J2ME")
            || self.ua_contains("MIDP")
            // Google's mobile crawlers.
            || self.ua_contains("iPhone;")
            || self.ua_contains("Googlebot-Mobile")
            || (self.device == "Spider" && self.browser.contains("Mobile"))
            || (self.ua_contains("NokiaBrowser") && self.ua_contains("Mobile"))
    }

    fn is_pc(&self) -> bool {
        if self.ua_contains("Windows NT")
            || PC_OS_FAMILIES.contains(&self.os)
            || (self.os == "Windows" && self.os_version == "ME")
            || (self.os == "Mac OS X" && !self.ua_contains("Silk"))
        {
            return true;
        }
        // Maemo phones say "Linux" and "X11" too.
        if self.ua_contains("Maemo") {
            return false;
        }
        self.os.contains("Chrome OS") || (self.ua_contains("Linux") && self.ua_contains("X11"))
    }

    fn is_bot(&self) -> bool {
        self.device == "Spider"
    }
}

/// The longest prefix of `s` of at most `max_bytes` bytes that ends on a character
/// boundary.
fn prefix(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `major.minor.patch`, stopping at the first missing part (as Python's `user-agents`
/// does, the fourth part is left out).
fn version(parts: [Option<&str>; 3]) -> String {
    parts
        .into_iter()
        .map_while(|part| part)
        .collect::<Vec<_>>()
        .join(".")
}

/// A family, `None` when uap-core does not know it.
fn family(value: &str) -> Option<String> {
    if value == UNKNOWN_FAMILY {
        None
    } else {
        clean(value)
    }
}

/// `value` without control or bidirectional-formatting characters and surrounding
/// blanks; `None` when nothing is left.
fn clean(value: &str) -> Option<String> {
    let cleaned: Cow<'_, str> = if value.chars().any(is_unsafe_char) {
        value
            .chars()
            .filter(|&c| !is_unsafe_char(c))
            .collect::<String>()
            .into()
    } else {
        value.into()
    };
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Control characters, and the invisible characters that reorder text on display.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::device::test_parser as parser;

    /// Expected families and flags: browser, os, device, [mobile, tablet, pc, bot].
    struct Expected {
        browser: Option<&'static str>,
        os: Option<&'static str>,
        device: Option<&'static str>,
        flags: [bool; 4],
    }

    fn check(user_agent: &str, expected: Expected) -> UserAgentInfo {
        let info = parser().parse(user_agent);
        assert_eq!(
            info.browser.as_deref(),
            expected.browser,
            "browser of {user_agent}"
        );
        assert_eq!(info.os.as_deref(), expected.os, "os of {user_agent}");
        assert_eq!(
            info.device.as_deref(),
            expected.device,
            "device of {user_agent}"
        );
        assert_eq!(
            [info.is_mobile, info.is_tablet, info.is_pc, info.is_bot],
            expected.flags,
            "[mobile, tablet, pc, bot] of {user_agent}"
        );
        info
    }

    const PHONE: [bool; 4] = [true, false, false, false];
    const TABLET: [bool; 4] = [false, true, false, false];
    const PC: [bool; 4] = [false, false, true, false];
    const BOT: [bool; 4] = [false, false, false, true];
    const NONE: [bool; 4] = [false, false, false, false];

    #[test]
    fn parser_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<UserAgentParser>();
    }

    #[test]
    fn chrome_on_windows() {
        let info = check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/120.0.0.0 Safari/537.36",
            Expected {
                browser: Some("Chrome"),
                os: Some("Windows"),
                device: None,
                flags: PC,
            },
        );
        assert_eq!(info.browser_version.as_deref(), Some("120.0.0"));
        assert_eq!(info.os_version.as_deref(), Some("10"));
        assert_eq!(info.device_brand, None);
        assert_eq!(info.device_model, None);
    }

    #[test]
    fn firefox_on_linux() {
        let info = check(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            Expected {
                browser: Some("Firefox"),
                os: Some("Ubuntu"),
                device: None,
                flags: PC,
            },
        );
        assert_eq!(info.browser_version.as_deref(), Some("121.0"));
    }

    #[test]
    fn safari_on_macos() {
        let info = check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
            Expected {
                browser: Some("Safari"),
                os: Some("Mac OS X"),
                device: Some("Mac"),
                flags: PC,
            },
        );
        assert_eq!(info.browser_version.as_deref(), Some("17.1"));
        assert_eq!(info.os_version.as_deref(), Some("10.15.7"));
        assert_eq!(info.device_brand.as_deref(), Some("Apple"));
        assert_eq!(info.device_model.as_deref(), Some("Mac"));
    }

    #[test]
    fn safari_on_iphone() {
        let info = check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
            Expected {
                browser: Some("Mobile Safari"),
                os: Some("iOS"),
                device: Some("iPhone"),
                flags: PHONE,
            },
        );
        assert_eq!(info.os_version.as_deref(), Some("17.1.2"));
        assert_eq!(info.device_brand.as_deref(), Some("Apple"));
        assert_eq!(info.device_model.as_deref(), Some("iPhone"));
    }

    #[test]
    fn safari_on_ipad() {
        let info = check(
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            Expected {
                browser: Some("Mobile Safari"),
                os: Some("iOS"),
                device: Some("iPad"),
                flags: TABLET,
            },
        );
        assert_eq!(info.device_brand.as_deref(), Some("Apple"));
    }

    #[test]
    fn chrome_on_ipad_is_a_tablet_only() {
        // Python's user-agents also calls this a phone ("Chrome Mobile iOS").
        check(
            "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) CriOS/120.0.6099.101 Mobile/15E148 Safari/604.1",
            Expected {
                browser: Some("Chrome Mobile iOS"),
                os: Some("iOS"),
                device: Some("iPad"),
                flags: TABLET,
            },
        );
    }

    #[test]
    fn chrome_on_android_phone() {
        let info = check(
            "Mozilla/5.0 (Linux; Android 13; SM-S901B) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
            Expected {
                browser: Some("Chrome Mobile"),
                os: Some("Android"),
                device: Some("Samsung SM-S901B"),
                flags: PHONE,
            },
        );
        assert_eq!(info.browser_version.as_deref(), Some("120.0.6099"));
        assert_eq!(info.os_version.as_deref(), Some("13"));
        assert_eq!(info.device_brand.as_deref(), Some("Samsung"));
        assert_eq!(info.device_model.as_deref(), Some("SM-S901B"));
    }

    #[test]
    fn chrome_on_pixel() {
        let info = check(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
            Expected {
                browser: Some("Chrome Mobile"),
                os: Some("Android"),
                device: Some("Pixel 8"),
                flags: PHONE,
            },
        );
        assert_eq!(info.device_brand.as_deref(), Some("Google"));
        assert_eq!(info.device_model.as_deref(), Some("Pixel 8"));
    }

    #[test]
    fn android_tablet() {
        let info = check(
            "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/120.0.6099.144 Safari/537.36",
            Expected {
                browser: Some("Chrome"),
                os: Some("Android"),
                device: Some("SM-X200"),
                flags: TABLET,
            },
        );
        // uap-core 0.18 knows this model only through its generic tablet rule.
        assert_eq!(info.device_brand.as_deref(), Some("Generic_Android_Tablet"));
        assert_eq!(info.device_model.as_deref(), Some("SM-X200"));
    }

    #[test]
    fn googlebot() {
        let info = check(
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            Expected {
                browser: Some("Googlebot"),
                os: None,
                device: Some("Spider"),
                flags: BOT,
            },
        );
        assert_eq!(info.browser_version.as_deref(), Some("2.1"));
        assert_eq!(info.device_brand.as_deref(), Some("Spider"));
        assert_eq!(info.device_model.as_deref(), Some("Desktop"));
    }

    #[test]
    fn googlebot_smartphone_is_a_mobile_bot() {
        check(
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36 \
             (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            Expected {
                browser: Some("Googlebot"),
                os: Some("Android"),
                device: Some("Spider"),
                flags: [true, false, false, true],
            },
        );
    }

    #[test]
    fn bingbot() {
        check(
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            Expected {
                browser: Some("bingbot"),
                os: None,
                device: Some("Spider"),
                flags: BOT,
            },
        );
    }

    #[test]
    fn curl_is_neither_device_nor_bot() {
        let info = check(
            "curl/8.4.0",
            Expected {
                browser: Some("curl"),
                os: None,
                device: None,
                flags: NONE,
            },
        );
        assert_eq!(info.browser_version.as_deref(), Some("8.4.0"));
    }

    #[test]
    fn python_requests_is_neither_device_nor_bot() {
        let info = check(
            "python-requests/2.31.0",
            Expected {
                browser: Some("Python Requests"),
                os: None,
                device: None,
                flags: NONE,
            },
        );
        assert_eq!(info.browser_version.as_deref(), Some("2.31"));
    }

    #[test]
    fn empty_and_unknown_user_agents() {
        for user_agent in ["", "   ", "\u{1}\u{7f}", "something-unheard-of"] {
            assert_eq!(
                parser().parse(user_agent),
                UserAgentInfo::default(),
                "{user_agent:?}"
            );
        }
    }

    #[test]
    fn control_characters_are_stripped() {
        let info =
            parser().parse("Mozilla/5.0 (Linux; Android 13; Pix\u{7}el\u{202E} 8) Mobile Safari");
        let device = info.device.unwrap();
        assert!(!device.chars().any(is_unsafe_char), "{device:?}");
    }

    #[test]
    fn overlong_user_agent_is_parsed_by_its_prefix() {
        let user_agent = format!(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0 {}",
            "é".repeat(10_000)
        );
        let info = parser().parse(&user_agent);
        assert_eq!(info.os.as_deref(), Some("Windows"));
        assert!(info.is_pc);
    }

    #[test]
    fn prefix_keeps_whole_characters() {
        assert_eq!(prefix("abc", 10), "abc");
        assert_eq!(prefix("aé", 2), "a");
        assert_eq!(prefix("aé", 3), "aé");
    }

    #[test]
    fn versions_stop_at_the_first_missing_part() {
        assert_eq!(version([Some("1"), Some("2"), Some("3")]), "1.2.3");
        assert_eq!(version([Some("1"), None, Some("3")]), "1");
        assert_eq!(version([None, None, None]), "");
    }
}
