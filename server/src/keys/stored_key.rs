//! A signing key as the database holds it, and its [`KeyState`].

use std::fmt;
use std::str::FromStr;

use jwt_allauth::Algorithm;
use jwt_allauth::keys::VerifyingKey;
use time::OffsetDateTime;

use super::encryption::SealedKey;

/// Where a key is in its lifecycle: **standby → active → previous → retired**.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Published, not signing yet: verifiers learn it before it signs.
    Standby,
    /// Signs new tokens (one key at most), and is published.
    Active,
    /// Signed before the active key: published and verifying until the last token it
    /// signed has expired.
    Previous,
    /// Neither published nor verifying; its private key is erased.
    Retired,
}

impl KeyState {
    /// The name stored in the database and printed by `keys list`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Standby => "standby",
            KeyState::Active => "active",
            KeyState::Previous => "previous",
            KeyState::Retired => "retired",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored state that is not one of [`KeyState`]'s names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key state `{0}`")]
pub struct UnknownKeyState(pub String);

impl FromStr for KeyState {
    type Err = UnknownKeyState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            KeyState::Standby,
            KeyState::Active,
            KeyState::Previous,
            KeyState::Retired,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| UnknownKeyState(s.to_owned()))
    }
}

/// A row of the signing-keys table. Its private key is sealed (see
/// [`KeyEncryptionKey`](super::KeyEncryptionKey)), and erased once retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The RFC 7638 thumbprint of the public key, the `kid` of the tokens it signs.
    pub kid: String,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The state.
    pub state: KeyState,
    /// The public key, SubjectPublicKeyInfo PEM.
    pub public_pem: String,
    /// The private key, encrypted; `None` once retired.
    pub sealed: Option<SealedKey>,
    /// When it was generated (and published, at the next reload of each server).
    pub created_at: OffsetDateTime,
    /// When it started signing.
    pub activated_at: Option<OffsetDateTime>,
    /// When it stopped signing (became previous).
    pub deactivated_at: Option<OffsetDateTime>,
    /// When it was retired.
    pub retired_at: Option<OffsetDateTime>,
}

impl StoredKey {
    /// Its public key, answering to its `kid`.
    pub fn verifying_key(&self) -> Result<VerifyingKey, jwt_allauth::KeyError> {
        Ok(
            VerifyingKey::from_pem(self.algorithm, self.public_pem.as_bytes())?
                .with_key_id(self.kid.clone()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for state in [
            KeyState::Standby,
            KeyState::Active,
            KeyState::Previous,
            KeyState::Retired,
        ] {
            assert_eq!(state.as_str().parse::<KeyState>(), Ok(state));
        }
        assert!("Active".parse::<KeyState>().is_err());
    }
}
