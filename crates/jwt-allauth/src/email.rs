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

/// Whether `email` (already trimmed) is an address the library accepts: one `@` with a
/// non-empty part on each side, at most [`MAX_EMAIL_CHARS`] characters, and no
/// whitespace, control or [invisible formatting](is_invisible_format) character. The
/// account routes answer `Enter a valid email address.` otherwise.
///
/// ```
/// use jwt_allauth::email::is_valid_email;
///
/// assert!(is_valid_email("ada@example.com"));
/// assert!(!is_valid_email("ada@"));
/// assert!(!is_valid_email("ada@exa@mple.com"));
/// assert!(!is_valid_email("ada\u{200B}@example.com"));
/// ```
pub fn is_valid_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && email.chars().count() <= MAX_EMAIL_CHARS
                && !email
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || is_invisible_format(c))
        }
        None => false,
    }
}

/// Whether `c` is an invisible formatting character: the bidirectional controls
/// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the zero-width characters
/// (U+200B–U+200D, U+2060–U+2064, U+FEFF), the soft hyphen (U+00AD), U+180E, the
/// interlinear annotation characters (U+FFF9–U+FFFB) and the tag characters
/// (U+E0000–U+E007F). None of them changes what an address delivers to, all of them
/// change what it looks like.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
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
