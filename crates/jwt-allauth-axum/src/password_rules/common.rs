//! Django's common-password list and its lookup (`CommonPasswordValidator`).

use std::collections::HashSet;
use std::sync::LazyLock;

/// Django 5.1's `django/contrib/auth/common-passwords.txt.gz`, decompressed: one password a
/// line, lower case (see `data/common-passwords.LICENSE`).
pub(super) const LIST: &str = include_str!("../../data/common-passwords.txt");

/// The list as Django loads it: `{x.strip() for x in f}`. Built on first use.
pub(super) static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| LIST.lines().map(python_strip).collect());

/// Django's `password.lower().strip() in self.passwords`.
///
/// [`str::to_lowercase`] is Python's `str.lower` (full case mapping, final sigma): they
/// agree on every character of the Unicode version Python knows (14 for Python 3.11;
/// Rust's tables are newer, so they differ only on characters assigned since).
pub(super) fn is_common(password: &str) -> bool {
    COMMON.contains(python_strip(&password.to_lowercase()))
}

/// Python's `str.strip()` with no argument: removes what `str.isspace` calls whitespace at
/// both ends. That is Unicode `White_Space` ([`char::is_whitespace`]) and the four
/// information separators U+001C to U+001F, which Python counts as whitespace (checked
/// over every character against Python 3.11: no other difference).
pub(super) fn python_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}
