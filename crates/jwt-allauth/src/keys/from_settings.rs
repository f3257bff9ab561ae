//! The key ring that the settings describe.

use super::{KeyRing, SigningKey, VerifyingKey, long_enough};
use crate::error::KeyError;
use crate::settings::Settings;

impl KeyRing {
    /// The ring the settings describe: `ALGORITHM` with `SECRET_KEY`, or with
    /// `PRIVATE_KEY_FILE` and `PUBLIC_KEY_FILE`; `KEY_ID` when set. During a key
    /// rotation, the previous key (`PREVIOUS_SECRET_KEY` or `PREVIOUS_PUBLIC_KEY_FILE`,
    /// `PREVIOUS_ALGORITHM`, `PREVIOUS_KEY_ID`) is added as a key that only verifies.
    ///
    /// A `SECRET_KEY` under [`MIN_HMAC_SECRET_BYTES`](crate::keys::MIN_HMAC_SECRET_BYTES) is refused (see
    /// [`dangerous_from_settings_with_short_secret`](Self::dangerous_from_settings_with_short_secret)).
    /// A short `PREVIOUS_SECRET_KEY` is accepted, so that a rotation away from a weak
    /// secret can finish without logging everyone out (the server warns about it).
    pub fn from_settings(settings: &Settings) -> Result<Self, KeyError> {
        Self::from_settings_checked(settings, true)
    }

    /// Like [`from_settings`](Self::from_settings), but accepts an HMAC `SECRET_KEY`
    /// shorter than [`MIN_HMAC_SECRET_BYTES`](crate::keys::MIN_HMAC_SECRET_BYTES): tokens signed with it can be forged by
    /// brute force. For development only (the server's `DEVELOPMENT_MODE`).
    pub fn dangerous_from_settings_with_short_secret(
        settings: &Settings,
    ) -> Result<Self, KeyError> {
        Self::from_settings_checked(settings, false)
    }

    fn from_settings_checked(settings: &Settings, check_length: bool) -> Result<Self, KeyError> {
        let algorithm = settings.algorithm;
        let (signing, verifying) = if algorithm.is_hmac() {
            let secret = settings
                .secret_key
                .as_ref()
                .ok_or(KeyError::MissingSetting("SECRET_KEY"))?;
            let secret = secret.expose().as_bytes();
            if check_length {
                long_enough(secret)?;
            }
            (
                SigningKey::dangerous_hmac_short_secret(algorithm, secret)?,
                VerifyingKey::dangerous_hmac_short_secret(algorithm, secret)?,
            )
        } else {
            let private = read_key_file(settings.private_key_file.as_ref(), "PRIVATE_KEY_FILE")?;
            let public = read_key_file(settings.public_key_file.as_ref(), "PUBLIC_KEY_FILE")?;
            (
                SigningKey::from_pem(algorithm, &private)?,
                VerifyingKey::from_pem(algorithm, &public)?,
            )
        };
        let signing = match &settings.key_id {
            Some(kid) => signing.with_key_id(kid.clone()),
            None => signing,
        };
        let ring = Self::new(signing, verifying)?;
        match previous_verifying_key(settings)? {
            Some(previous) => ring.with_verifying_key(previous),
            None => Ok(ring),
        }
    }
}

/// The previous key of a key rotation, when the settings name one:
/// `PREVIOUS_SECRET_KEY` or `PREVIOUS_PUBLIC_KEY_FILE`, for `PREVIOUS_ALGORITHM` (or
/// `ALGORITHM`), with `PREVIOUS_KEY_ID`.
fn previous_verifying_key(settings: &Settings) -> Result<Option<VerifyingKey>, KeyError> {
    let configured = settings.previous_algorithm.is_some()
        || settings.previous_secret_key.is_some()
        || settings.previous_public_key_file.is_some()
        || settings.previous_key_id.is_some();
    if !configured {
        return Ok(None);
    }
    let algorithm = settings.previous_algorithm.unwrap_or(settings.algorithm);
    let key = if algorithm.is_hmac() {
        let secret = settings
            .previous_secret_key
            .as_ref()
            .ok_or(KeyError::MissingSetting("PREVIOUS_SECRET_KEY"))?;
        VerifyingKey::dangerous_hmac_short_secret(algorithm, secret.expose().as_bytes())?
    } else {
        let public = read_key_file(
            settings.previous_public_key_file.as_ref(),
            "PREVIOUS_PUBLIC_KEY_FILE",
        )?;
        VerifyingKey::from_pem(algorithm, &public)?
    };
    Ok(Some(match &settings.previous_key_id {
        Some(kid) => key.with_key_id(kid.clone()),
        None => key,
    }))
}

fn read_key_file(
    path: Option<&std::path::PathBuf>,
    setting: &'static str,
) -> Result<Vec<u8>, KeyError> {
    let path = path.ok_or(KeyError::MissingSetting(setting))?;
    std::fs::read(path).map_err(|source| KeyError::File {
        path: path.clone(),
        source,
    })
}
