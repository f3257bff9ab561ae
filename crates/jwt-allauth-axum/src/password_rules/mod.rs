//! The password rules of sign-up and of every new password, with the messages Django's
//! password validators answer.
//!
//! [`PasswordRules::check`] runs the four validators of a default Django project
//! (`AUTH_PASSWORD_VALIDATORS` as `startproject` writes it), in that order, and returns
//! every rule the password breaks, each a [`PasswordProblem`] whose `Display` is Django's
//! message:
//!
//! 1. `UserAttributeSimilarityValidator` on the e-mail address (similarity 0.7):
//!    `The password is too similar to the email address.`
//! 2. `MinimumLengthValidator` (8 characters unless set otherwise):
//!    `This password is too short. It must contain at least 8 characters.`
//! 3. `CommonPasswordValidator`, over Django's own list of 20,000 common passwords
//!    (`data/common-passwords.txt`, BSD-3 licensed as part of Django):
//!    `This password is too common.`
//! 4. `NumericPasswordValidator`: `This password is entirely numeric.`
//!
//! A broken rule is data, not a failure: the caller puts the messages under the password
//! field of its 400 answer, in the order given.
//!
//! # Example
//!
//! ```
//! use jwt_allauth_axum::password_rules::{PasswordProblem, PasswordRules};
//!
//! let rules = PasswordRules::default();
//!
//! let problems = rules.check("12345678", "alice@example.com");
//! assert_eq!(
//!     problems,
//!     [PasswordProblem::TooCommon, PasswordProblem::EntirelyNumeric]
//! );
//! let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
//! assert_eq!(
//!     messages,
//!     ["This password is too common.", "This password is entirely numeric."]
//! );
//!
//! assert_eq!(
//!     rules.check("alice@example.com1", "alice@example.com")[0].to_string(),
//!     "The password is too similar to the email address."
//! );
//! assert!(rules.check("plum-kettle-orbit-42", "alice@example.com").is_empty());
//! ```

mod common;
mod similarity;
#[cfg(test)]
mod tests;

use std::fmt;

/// The password rules: which passwords a new password may not be.
///
/// `Default` is Django's default project: at least 8 characters, not similar to the
/// e-mail address, not one of Django's common passwords, not entirely numeric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRules {
    min_length: usize,
}

impl PasswordRules {
    /// The default minimum length, in characters (Django's `MinimumLengthValidator`).
    pub const DEFAULT_MIN_LENGTH: usize = 8;

    /// How similar to the e-mail address (or to one of its parts) a password may not be:
    /// Django's `UserAttributeSimilarityValidator.max_similarity` default.
    pub const MAX_SIMILARITY: f64 = 0.7;

    /// The default rules (the same as `PasswordRules::default()`).
    pub fn new() -> Self {
        Self {
            min_length: Self::DEFAULT_MIN_LENGTH,
        }
    }

    /// The same rules with another minimum length, in characters (Unicode scalar values,
    /// as Python's `len` counts them). Defaults to [`Self::DEFAULT_MIN_LENGTH`] (8).
    #[must_use]
    pub fn with_min_length(self, min_length: usize) -> Self {
        Self { min_length }
    }

    /// The minimum length, in characters.
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// Every rule `password` breaks, in Django's order (similarity, length, common,
    /// numeric); empty when the password is acceptable.
    ///
    /// `email` is the address the account will have (as it is stored); an empty one is
    /// not compared, as Django skips an empty attribute.
    #[must_use]
    pub fn check(&self, password: &str, email: &str) -> Vec<PasswordProblem> {
        let mut problems = Vec::new();
        if similarity::too_similar(password, email, Self::MAX_SIMILARITY) {
            problems.push(PasswordProblem::TooSimilarToEmail);
        }
        if password.chars().count() < self.min_length {
            problems.push(PasswordProblem::TooShort {
                min_length: self.min_length,
            });
        }
        if common::is_common(password) {
            problems.push(PasswordProblem::TooCommon);
        }
        if is_entirely_numeric(password) {
            problems.push(PasswordProblem::EntirelyNumeric);
        }
        problems
    }
}

impl Default for PasswordRules {
    fn default() -> Self {
        Self::new()
    }
}

/// A rule a password breaks. `Display` writes Django's message for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    /// `The password is too similar to the email address.`
    TooSimilarToEmail,
    /// `This password is too short. It must contain at least 8 characters.` (with the
    /// minimum in place of 8, and `character` when it is 1).
    TooShort {
        /// The minimum length of the rules, in characters.
        min_length: usize,
    },
    /// `This password is too common.`
    TooCommon,
    /// `This password is entirely numeric.`
    EntirelyNumeric,
}

impl PasswordProblem {
    /// The code Django's validator gives this problem (`password_too_similar`,
    /// `password_too_short`, `password_too_common`, `password_entirely_numeric`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooSimilarToEmail => "password_too_similar",
            Self::TooShort { .. } => "password_too_short",
            Self::TooCommon => "password_too_common",
            Self::EntirelyNumeric => "password_entirely_numeric",
        }
    }
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooSimilarToEmail => {
                f.write_str("The password is too similar to the email address.")
            }
            // Django's `ngettext`: the singular for 1 only.
            Self::TooShort { min_length: 1 } => {
                f.write_str("This password is too short. It must contain at least 1 character.")
            }
            Self::TooShort { min_length } => write!(
                f,
                "This password is too short. It must contain at least {min_length} characters."
            ),
            Self::TooCommon => f.write_str("This password is too common."),
            Self::EntirelyNumeric => f.write_str("This password is entirely numeric."),
        }
    }
}

/// Django's `password.isdigit()`: at least one character, and every one a digit.
///
/// Python's `str.isdigit` accepts characters whose Unicode `Numeric_Type` is `Decimal` or
/// `Digit`: the decimal digits of every script (ASCII, Arabic-Indic `٠`-`٩`, Devanagari,
/// ...) and digits such as superscripts (`²`) and circled digits (`①`). The Rust standard
/// library has no predicate for `Numeric_Type`; the closest is [`char::is_numeric`]
/// (general categories `Nd`, `Nl`, `No`), which accepts every character `isdigit` accepts
/// and also the other numeric characters: fractions (`½`), Roman numerals (`Ⅻ`), and the
/// like (1,003 characters of Unicode 14). So a password made only of those is called
/// numeric here and not by Django: stricter, never laxer. `char::is_ascii_digit` would
/// let `٠١٢٣٤٥٦٧` through, which Django refuses.
fn is_entirely_numeric(password: &str) -> bool {
    !password.is_empty() && password.chars().all(char::is_numeric)
}
