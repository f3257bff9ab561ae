//! The second parse of the registered claims that `jsonwebtoken::decode` made.

use std::fmt;

/// The registered claims as `jsonwebtoken::decode` parsed them for its validation, a
/// second parse of every payload whose failure refused the token. Its lenient parsers for
/// `nbf` and `sub` stop half-way into an array or object value, which then breaks the
/// parse of the whole payload; and it refuses a duplicate name. Once `Claims` has parsed
/// (which refuses duplicate `exp`, `iss` and `aud` and needs `exp` to be an integer), only
/// a payload with `sub` or `nbf` can fail here, so only such a payload is parsed again.
#[derive(serde::Deserialize)]
pub(super) struct RegisteredClaims {
    #[serde(default, deserialize_with = "lenient_number", rename = "exp")]
    _exp: (),
    #[serde(default, deserialize_with = "lenient_number", rename = "nbf")]
    _nbf: (),
    #[serde(default, deserialize_with = "lenient_string", rename = "sub")]
    _sub: (),
    #[serde(default, rename = "iss")]
    _iss: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "aud")]
    _aud: Option<serde::de::IgnoredAny>,
}

/// jsonwebtoken's `numeric_type`: `deserialize_any` for a number, any error ignored.
fn lenient_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    struct Number;
    impl serde::de::Visitor<'_> for Number {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
    }
    let _ = deserializer.deserialize_any(Number);
    Ok(())
}

/// jsonwebtoken's `TryParse<Cow<str>>`: an optional string, any error ignored.
fn lenient_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    let _ = <Option<String> as serde::Deserialize>::deserialize(deserializer);
    Ok(())
}
