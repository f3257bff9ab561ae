//! The `user_attributes` setting: claims copied from dot paths into the user's JSON form.

use serde_json::Value;

use crate::claims::{ExtraClaims, is_reserved_claim};
use crate::error::ReservedClaimError;

/// Claims copied from the user's JSON form into every token, as configured by the
/// `USER_ATTRIBUTES` setting.
///
/// Each entry names a claim and a dot path (`"profile.organization.id"`). A path step
/// goes into an object by key, or into an array by a decimal index. A missing or `null`
/// value is skipped: the claim is then absent from the token.
///
/// ```
/// use jwt_allauth::UserAttributes;
/// let attrs = UserAttributes::from_pairs([("org_id", "profile.organization.id")])?;
/// let attrs_from_list = UserAttributes::from_paths(["profile.organization.id"])?;
/// assert_eq!(attrs_from_list.entries()[0].0, "id");
/// # Ok::<(), jwt_allauth::ReservedClaimError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAttributes {
    entries: Vec<(String, String)>,
}

impl UserAttributes {
    /// No attributes (the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// The map form: `(claim name, dot path)` pairs. Fails on a reserved claim name.
    pub fn from_pairs<I, C, P>(pairs: I) -> Result<Self, ReservedClaimError>
    where
        I: IntoIterator<Item = (C, P)>,
        C: Into<String>,
        P: Into<String>,
    {
        let mut entries = Vec::new();
        for (claim, path) in pairs {
            let claim = claim.into();
            if is_reserved_claim(&claim) {
                return Err(ReservedClaimError(claim));
            }
            entries.push((claim, path.into()));
        }
        Ok(Self { entries })
    }

    /// The list form: dot paths whose last segment names the claim
    /// (`"profile.org_id"` gives the claim `org_id`). Fails on a reserved claim name.
    pub fn from_paths<I, P>(paths: I) -> Result<Self, ReservedClaimError>
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        Self::from_pairs(paths.into_iter().map(|path| {
            let path = path.into();
            let claim = path.rsplit('.').next().unwrap_or(&path).to_owned();
            (claim, path)
        }))
    }

    /// The configured `(claim name, dot path)` pairs.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// Whether no attribute is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Copies the configured attributes of `user` (its JSON form) into `claims`.
    pub fn apply(&self, user: &Value, claims: &mut ExtraClaims) -> Result<(), ReservedClaimError> {
        for (claim, path) in &self.entries {
            match lookup(user, path) {
                None | Some(Value::Null) => {}
                Some(value) => claims.insert(claim.clone(), value.clone())?,
            }
        }
        Ok(())
    }
}

/// Follows a dot path into a JSON value.
fn lookup<'v>(mut value: &'v Value, path: &str) -> Option<&'v Value> {
    for step in path.split('.') {
        value = match value {
            Value::Object(map) => map.get(step)?,
            Value::Array(items) => items.get(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_missing_and_null_paths() {
        let user =
            json!({"id": 7, "profile": {"org": {"id": 42, "tags": ["a", "b"]}, "nick": null}});
        let attrs = UserAttributes::from_pairs([
            ("org_id", "profile.org.id"),
            ("first_tag", "profile.org.tags.1"),
            ("nick", "profile.nick"),
            ("missing", "profile.nothing.here"),
            ("through_scalar", "id.deeper"),
        ])
        .expect("no reserved names");
        let mut claims = ExtraClaims::new();
        attrs.apply(&user, &mut claims).expect("applies");
        assert_eq!(claims.get("org_id"), Some(&json!(42)));
        assert_eq!(claims.get("first_tag"), Some(&json!("b")));
        assert_eq!(
            claims.len(),
            2,
            "null and missing paths are skipped: {claims:?}"
        );
    }

    #[test]
    fn list_form_names_the_claim_after_the_last_segment() {
        let attrs = UserAttributes::from_paths(["profile.org_id", "first_name"]).expect("ok");
        assert_eq!(
            attrs.entries(),
            &[
                ("org_id".to_owned(), "profile.org_id".to_owned()),
                ("first_name".to_owned(), "first_name".to_owned())
            ]
        );
    }

    #[test]
    fn reserved_names_are_rejected_in_both_forms() {
        for name in [
            "token_type",
            "exp",
            "iat",
            "jti",
            "user_id",
            "session",
            "session_iat",
            "role",
            "email_verified",
        ] {
            assert_eq!(
                UserAttributes::from_pairs([(name, "profile.x")]),
                Err(ReservedClaimError(name.to_owned()))
            );
            assert_eq!(
                UserAttributes::from_paths([format!("profile.{name}")]),
                Err(ReservedClaimError(name.to_owned()))
            );
        }
    }
}
