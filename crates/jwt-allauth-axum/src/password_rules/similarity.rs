//! Django 5.1's `UserAttributeSimilarityValidator`, for one attribute (the e-mail address).

use std::collections::HashMap;
use std::iter;

use unicode_normalization::char::is_combining_mark;

/// Whether `password` is too similar to `value` or to one of its parts.
///
/// Django 5.1, for one attribute:
///
/// ```python
/// password = password.lower()
/// if not value: skip
/// value_lower = value.lower()
/// value_parts = re.split(r"\W+", value_lower) + [value_lower]
/// for value_part in value_parts:
///     if exceeds_maximum_length_ratio(password, self.max_similarity, value_part):
///         continue
///     if SequenceMatcher(a=password, b=value_part).quick_ratio() >= self.max_similarity:
///         raise ValidationError(...)
/// ```
///
/// Only `quick_ratio` is compared (Django 5.1 does not call `ratio()`).
pub(super) fn too_similar(password: &str, value: &str, max_similarity: f64) -> bool {
    if value.is_empty() {
        return false;
    }
    let password: Vec<char> = password.to_lowercase().chars().collect();
    let value = value.to_lowercase();
    split_non_word(&value)
        .into_iter()
        .chain(iter::once(value.as_str()))
        .any(|part| {
            let part: Vec<char> = part.chars().collect();
            !exceeds_maximum_length_ratio(password.len(), max_similarity, part.len())
                && quick_ratio(&password, &part) >= max_similarity
        })
}

/// Django's `exceeds_maximum_length_ratio`: a value part so much shorter than the password
/// that its similarity cannot reach the limit, skipped without matching. Lengths are in
/// characters, the arithmetic in `f64` as Python does it.
pub(super) fn exceeds_maximum_length_ratio(
    password_len: usize,
    max_similarity: f64,
    value_len: usize,
) -> bool {
    let length_bound_similarity = max_similarity / 2.0 * password_len as f64;
    password_len >= value_len.saturating_mul(10) && (value_len as f64) < length_bound_similarity
}

/// Python's `difflib.SequenceMatcher(a=a, b=b).quick_ratio()`: twice the size of the
/// multiset intersection of the characters of `a` and `b`, over `len(a) + len(b)`; 1.0
/// when both are empty. Junk heuristics play no part in `quick_ratio`.
pub(super) fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let mut available: HashMap<char, usize> = HashMap::new();
    for &c in b {
        *available.entry(c).or_default() += 1;
    }
    let mut matches = 0_usize;
    for c in a {
        if let Some(count) = available.get_mut(c)
            && *count > 0
        {
            *count -= 1;
            matches += 1;
        }
    }
    let length = a.len() + b.len();
    if length == 0 {
        1.0
    } else {
        2.0 * matches as f64 / length as f64
    }
}

/// Python's `re.split(r"\W+", text)` on a `str`: the pieces between runs of non-word
/// characters, with an empty first (last) piece when `text` starts (ends) with one.
pub(super) fn split_non_word(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_separator = false;
    for (index, c) in text.char_indices() {
        if is_word(c) {
            if in_separator {
                start = index;
                in_separator = false;
            }
        } else if !in_separator {
            parts.push(&text[start..index]);
            in_separator = true;
        }
    }
    parts.push(if in_separator { "" } else { &text[start..] });
    parts
}

/// A character of Python's `\w` in a `str` pattern: `_` or what `str.isalnum` accepts
/// (letters, general category `L*`, and characters with a numeric value).
///
/// [`char::is_alphanumeric`] (Unicode `Alphabetic`, or general category `N*`) accepts
/// those and also the `Other_Alphabetic` characters that are not letters: combining marks
/// such as the Devanagari vowel sign `ा` and the enclosed Latin letters `Ⓐ`, `🄰`, `🅐`,
/// `🅰`. Python splits on those, so they are taken out (over every character of Unicode
/// 14, checked against Python 3.11, this is then exactly Python's `\w`). Without it,
/// `हरण` would not be found similar to `उदाहरण@example.com`, which Django finds similar.
pub(super) fn is_word(c: char) -> bool {
    c == '_' || (c.is_alphanumeric() && !is_combining_mark(c) && !is_enclosed_letter(c))
}

/// Circled, squared, negative circled and negative squared Latin letters (general
/// category `So`, property `Other_Alphabetic`).
fn is_enclosed_letter(c: char) -> bool {
    matches!(
        c,
        '\u{24B6}'..='\u{24E9}'
            | '\u{1F130}'..='\u{1F149}'
            | '\u{1F150}'..='\u{1F169}'
            | '\u{1F170}'..='\u{1F189}'
    )
}
