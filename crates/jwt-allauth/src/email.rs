//! The key of an e-mail address: the one spelling under which an account, and its
//! failed-login counter, is found.

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;

/// The longest e-mail address accepted anywhere, in characters (RFC 5321's path limit
/// less the angle brackets, as Django's `EmailField`).
pub const MAX_EMAIL_CHARS: usize = 254;

/// The key of `email`: trimmed, then Unicode compatibility caseless form
/// (`NFKD(casefold(NFKD(casefold(NFD(x)))))`, Unicode §3.13 D146), recomposed (NFC).
///
/// Two spellings that Unicode considers the same text compared without case share one
/// key: case variants (`Σ`, `σ` and the final `ς` all give `σ`; `ß` gives `ss`),
/// decomposed spellings (`e` + U+0301 for `é`) and compatibility forms (fullwidth `ａ`).
/// Plain lower-casing is not enough: Rust's `to_lowercase` turns a final capital sigma
/// into `ς`, so `XΣ@x` and `Xσ@x` would be different accounts. Look-alikes from other
/// scripts (a Cyrillic `а`) stay different keys.
///
/// ```
/// use jwt_allauth::email::email_key;
///
/// assert_eq!(email_key(" XΣ@Example.com"), email_key("xς@example.com"));
/// assert_eq!(email_key("xσ@example.com"), "xσ@example.com");
/// assert_eq!(email_key("Straße@x.io"), "strasse@x.io");
/// ```
pub fn email_key(email: &str) -> String {
    email
        .trim()
        .chars()
        .nfd()
        .default_case_fold()
        .nfkd()
        .default_case_fold()
        .nfkd()
        .nfc()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_that_look_the_same_share_one_key() {
        let key = email_key("é@x.io");
        for spelling in [
            "e\u{301}@x.io",
            "É@X.IO",
            "\u{ff45}\u{301}@x.io",
            " é@x.io\t",
        ] {
            assert_eq!(email_key(spelling), key, "{spelling:?}");
        }
        assert_ne!(email_key("\u{430}@x.io"), email_key("a@x.io"));
    }

    #[test]
    fn every_sigma_folds_to_one() {
        let keys: Vec<String> = ["xΣ@x.io", "xσ@x.io", "xς@x.io", "XΣ@X.IO"]
            .iter()
            .map(|spelling| email_key(spelling))
            .collect();
        assert!(keys.iter().all(|key| key == "xσ@x.io"), "{keys:?}");
    }

    #[test]
    fn a_key_is_its_own_key() {
        for spelling in ["Straße@x.io", "ǅ@x.io", "ﬁ@x.io", "İ@x.io", "ΐ@x.io"] {
            let key = email_key(spelling);
            assert_eq!(email_key(&key), key, "{spelling:?}");
        }
    }
}
