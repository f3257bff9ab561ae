//! Configuration parsing: the server's `Config::from_toml_str`, then
//! `Config::apply_env_vars`, with arbitrary documents and variables.
//!
//! The input's first line is the text of the secrets; then comes a TOML document, then
//! optionally a line `%%env` followed by `NAME=value` variables, one per line. The target
//! writes `secret_key = "<secret>"` above the document (as a TOML basic string), and adds
//! `JWT_ALLAUTH_SECRET_KEY` and `JWT_ALLAUTH_PREVIOUS_SECRET_KEY` after the variables:
//! three secrets, each a marker, its place and the first line (`Qz9-secret-env-<line>`).
//!
//! Checks, besides the absence of panics:
//! - no error message (its `Display`, its sources', its `Debug`) and no `Debug` of the
//!   loaded settings contains a secret. The check is differential, so that it holds
//!   whatever else the input writes: a text holding marker A is a leak only if the same
//!   input with secrets starting with marker B (same length) does not hold marker A;
//! - a document that loads has the secret that was written above it, and the variables,
//!   once applied, the one added last;
//! - settings that fail to take the variables are left unchanged.
#![no_main]

use std::error::Error;
use std::fmt::Write;

use jwt_allauth_server::config::Config;
use libfuzzer_sys::fuzz_target;

/// The marker that starts every secret.
const MARKER_A: &str = "Qz9-secret-";
/// The marker of the differential run, of the same length.
const MARKER_B: &str = "Jx4-secret-";

/// The input, split into its parts.
struct Input<'a> {
    secret_text: &'a str,
    document: &'a str,
    variables: Vec<(&'a str, &'a str)>,
}

impl<'a> Input<'a> {
    fn parse(text: &'a str) -> Self {
        let (secret_text, rest) = text.split_once('\n').unwrap_or((text, ""));
        let (document, variables) = match rest.strip_prefix("%%env\n") {
            Some(variables) => ("", variables),
            None => rest.split_once("\n%%env\n").unwrap_or((rest, "")),
        };
        let variables = variables
            .lines()
            .filter_map(|line| line.split_once('='))
            .collect();
        Self {
            secret_text,
            document,
            variables,
        }
    }
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// The error and its sources, each displayed, then its `Debug`.
fn error_texts(error: &(dyn Error + 'static), texts: &mut Vec<String>) {
    texts.push(format!("{error:?}"));
    let mut current = Some(error);
    while let Some(error) = current {
        texts.push(error.to_string());
        current = error.source();
    }
}

/// Loads the input with secrets starting with `marker`, checking what does not depend
/// on the secret's text, and returns every text that must not hold a secret.
fn load(input: &Input<'_>, marker: &str) -> Vec<String> {
    let secret = |slot: &str| format!("{marker}{slot}-{}", input.secret_text);
    let (toml_secret, env_secret, previous_secret) =
        (secret("toml"), secret("env"), secret("previous"));
    let document = format!(
        "secret_key = {}\n{}",
        toml_string(&toml_secret),
        input.document
    );

    let mut texts = Vec::new();
    let settings = match Config::from_toml_str(&document) {
        Ok(settings) => {
            assert_eq!(
                settings.tokens.secret_key.as_ref().map(|s| s.expose()),
                Some(toml_secret.as_str()),
                "the document's secret"
            );
            texts.push(format!("{settings:?}"));
            settings
        }
        Err(error) => {
            error_texts(&error, &mut texts);
            Config::default()
        }
    };

    let mut variables = input.variables.clone();
    variables.push(("JWT_ALLAUTH_SECRET_KEY", &env_secret));
    variables.push(("JWT_ALLAUTH_PREVIOUS_SECRET_KEY", &previous_secret));
    let mut applied = settings.clone();
    match applied.apply_env_vars(variables) {
        Ok(()) => {
            assert_eq!(
                applied.tokens.secret_key.as_ref().map(|s| s.expose()),
                Some(env_secret.as_str()),
                "the variables' secret"
            );
            texts.push(format!("{applied:?}"));
        }
        Err(error) => {
            assert_eq!(applied, settings, "settings changed by a failed apply");
            error_texts(&error, &mut texts);
        }
    }
    texts
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let input = Input::parse(&text);
    let with_a = load(&input, MARKER_A);
    if !with_a.iter().any(|text| text.contains(MARKER_A)) {
        return;
    }
    let with_b = load(&input, MARKER_B);
    assert_eq!(
        with_a.len(),
        with_b.len(),
        "the outcome depends on the secret's text"
    );
    for (a, b) in with_a.iter().zip(&with_b) {
        assert!(
            !a.contains(MARKER_A) || b.contains(MARKER_A),
            "a secret leaked into {a:?}"
        );
    }
});
