//! Arbitrary User-Agent text through `UserAgentParser::parse` (the uap-core rules) and
//! `DeviceInfo::from_request`.
//!
//! The parser is built once (≈ 140 ms). Time is bounded by libFuzzer's `-timeout`
//! (`scripts/fuzz.sh` passes 10 s per input; a parse takes microseconds): a regex of the
//! rules that backtracked on hostile input would be reported as a timeout.
//!
//! Checks, besides the absence of panics, what the types document:
//! - every text field is free of control and bidirectional-formatting characters and of
//!   surrounding blanks, and is not empty;
//! - a tablet is never also a phone;
//! - only the first 1024 bytes count: text longer than that parses as its prefix;
//! - `DeviceInfo` text is at most `MAX_FIELD_CHARS` characters, and a blank User-Agent
//!   gives no User-Agent fields and no flags.
#![no_main]

use std::sync::LazyLock;

use jwt_allauth::device::{MAX_FIELD_CHARS, UserAgentInfo};
use jwt_allauth::{DeviceInfo, UserAgentParser};
use libfuzzer_sys::fuzz_target;

static PARSER: LazyLock<UserAgentParser> =
    LazyLock::new(|| UserAgentParser::new().expect("the vendored rules load"));

/// Bytes of a User-Agent that the parser reads.
const PARSED_BYTES: usize = 1024;

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn texts(info: &UserAgentInfo) -> [(&'static str, Option<&str>); 7] {
    [
        ("browser", info.browser.as_deref()),
        ("browser_version", info.browser_version.as_deref()),
        ("os", info.os.as_deref()),
        ("os_version", info.os_version.as_deref()),
        ("device", info.device.as_deref()),
        ("device_brand", info.device_brand.as_deref()),
        ("device_model", info.device_model.as_deref()),
    ]
}

fn floor_char_boundary(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fuzz_target!(|data: &[u8]| {
    let user_agent = String::from_utf8_lossy(data);
    let info = PARSER.parse(&user_agent);

    for (field, text) in texts(&info) {
        if let Some(text) = text {
            assert!(!text.is_empty(), "{field} is empty");
            assert!(!text.chars().any(is_unsafe), "{field} = {text:?}");
            assert_eq!(text, text.trim(), "{field} has surrounding blanks");
        }
    }
    assert!(!(info.is_tablet && info.is_mobile), "a tablet is a phone");
    if user_agent.len() > PARSED_BYTES {
        let prefix = floor_char_boundary(&user_agent, PARSED_BYTES);
        assert_eq!(info, PARSER.parse(prefix), "only the prefix counts");
    }

    let device = DeviceInfo::from_request(Some(&PARSER), Some(&user_agent), None);
    let fields = [
        &device.browser,
        &device.browser_version,
        &device.os,
        &device.os_version,
        &device.device,
        &device.device_brand,
        &device.device_model,
    ];
    for text in fields.iter().copied().flatten() {
        assert!(
            text.chars().count() <= MAX_FIELD_CHARS,
            "{text:?} is too long"
        );
    }
    if user_agent.trim().is_empty() {
        assert!(fields.iter().all(|field| field.is_none()));
        assert_eq!(device.is_mobile, None);
        assert_eq!(device.is_pc, None);
    } else {
        assert_eq!(device.is_tablet, Some(info.is_tablet));
        assert_eq!(device.is_bot, Some(info.is_bot));
    }
});
