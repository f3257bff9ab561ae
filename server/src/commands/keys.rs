//! `keys list | generate | activate | retire`: the signing keys in the database.

use jwt_allauth::Algorithm;
use jwt_allauth::keys::KeyPair;
use jwt_allauth_axum::JWKS_MAX_AGE_SECONDS;

use super::{now, out};
use crate::cli::{GlobalArgs, KeysCommand};
use crate::config::{self, Config, Overrides};
use crate::db::Database;
use crate::error::CommandError;
use crate::keys::{
    Activation, KeyEncryptionKey, KeyState, Lifecycle, SigningKeys, StoredKey, show_time,
};

pub(super) async fn run(global: &GlobalArgs, command: KeysCommand) -> Result<(), CommandError> {
    let config = config::load_config(
        global.config.as_deref(),
        &Overrides {
            database_url: global.database_url.as_deref(),
            bind: None,
        },
    )?;
    let db = Database::connect(config::database_url(&config)).await?;
    db.migrate().await?;
    let keys = SigningKeys::new(db.clone());
    let rules = Lifecycle::from_config(&config);
    let result = match command {
        KeysCommand::List => list(&keys, &rules).await,
        KeysCommand::Generate(args) => generate(&config, &keys, &rules, args.algorithm).await,
        KeysCommand::Activate(args) => activate(&config, &keys, &rules, &args.kid).await,
        KeysCommand::Retire(args) => retire(&config, &keys, &rules, &args.kid, args.force).await,
    };
    db.close().await;
    result
}

/// `kid algorithm state created next-transition`, tab-separated, oldest first.
async fn list(keys: &SigningKeys, rules: &Lifecycle) -> Result<(), CommandError> {
    let now = now();
    for key in keys.list().await? {
        out(&[
            key.kid.clone(),
            key.algorithm.to_string(),
            key.state.to_string(),
            show_time(key.created_at),
            rules.next_transition(&key, now),
        ]
        .join("\t"))?;
    }
    Ok(())
}

/// A new standby key, sealed under the key-encryption key; its kid last.
async fn generate(
    config: &Config,
    keys: &SigningKeys,
    rules: &Lifecycle,
    algorithm: Algorithm,
) -> Result<(), CommandError> {
    let kek = KeyEncryptionKey::from_settings(&config.keys)?.ok_or(CommandError::NoKek)?;
    // Every key must open with one key-encryption key: a key sealed under another one
    // than the stored keys' would stop every server at its next start.
    for stored in keys.list().await? {
        if let (KeyState::Standby | KeyState::Active | KeyState::Previous, Some(sealed)) =
            (stored.state, &stored.sealed)
        {
            kek.open(&stored.kid, stored.algorithm, sealed)?;
        }
    }
    let pair = KeyPair::generate(algorithm).map_err(CommandError::Keys)?;
    // Signs and verifies a probe token: a broken pair is never stored.
    pair.key_ring().map_err(CommandError::Keys)?;
    let verifying = pair.verifying_key().map_err(CommandError::Keys)?;
    let kid =
        verifying
            .thumbprint()
            .ok_or(CommandError::Keys(jwt_allauth::KeyError::WrongKeyType {
                algorithm: algorithm.as_str(),
                expected: "a key pair",
            }))?;
    let sealed = kek.seal(&kid, algorithm, pair.private_pem())?;
    let created = now();
    keys.insert_standby(&kid, algorithm, pair.public_pem(), &sealed, created)
        .await?;
    let stored = keys
        .find(&kid)
        .await?
        .ok_or_else(|| CommandError::NoKey(kid.clone()))?;
    out(&format!(
        "generated a standby {algorithm} key: running servers publish it within \
         KEY_RELOAD_INTERVAL ({} s); activate it after {} with `jwt-allauth keys activate {kid}`",
        config.keys.key_reload_interval.as_secs(),
        show_time(rules.safe_to_activate_at(&stored)),
    ))?;
    out(&kid)
}

/// The stored key `kid`, or [`CommandError::NoKey`].
async fn find(keys: &SigningKeys, kid: &str) -> Result<StoredKey, CommandError> {
    keys.find(kid)
        .await?
        .ok_or_else(|| CommandError::NoKey(kid.to_owned()))
}

/// The standby key `kid` signs from the next reload on; the active key becomes previous.
async fn activate(
    config: &Config,
    keys: &SigningKeys,
    rules: &Lifecycle,
    kid: &str,
) -> Result<(), CommandError> {
    let key = find(keys, kid).await?;
    if key.state != KeyState::Standby {
        return Err(CommandError::NotStandby {
            kid: key.kid,
            state: key.state,
        });
    }
    let now = now();
    let ready = rules.safe_to_activate_at(&key);
    if ready > now {
        let published = (now - key.created_at).whole_seconds().max(0);
        eprintln!(
            "warning: key {kid} has been published for {published} s only, less than the JWKS \
             max-age ({JWKS_MAX_AGE_SECONDS} s) plus KEY_RELOAD_INTERVAL ({} s): services \
             with a cached key set may refuse its tokens until {}",
            config.keys.key_reload_interval.as_secs(),
            show_time(ready)
        );
    }
    match keys.activate(kid, now).await? {
        Activation::Activated { previous } => {
            out(&format!(
                "activated {kid}: running servers sign with it within KEY_RELOAD_INTERVAL \
                 ({} s)",
                config.keys.key_reload_interval.as_secs()
            ))?;
            if let Some(previous) = previous {
                let until = now.saturating_add(
                    rules
                        .token_lifetime
                        .try_into()
                        .unwrap_or(time::Duration::MAX),
                );
                out(&format!(
                    "{previous} is previous: it verifies the tokens it signed until {}, then \
                     retire it",
                    show_time(until)
                ))?;
            }
            Ok(())
        }
        Activation::NotStandby => Err(CommandError::KeyChanged(kid.to_owned())),
    }
}

/// Retires `kid`, unless it may still verify a live token and `force` is off.
async fn retire(
    config: &Config,
    keys: &SigningKeys,
    rules: &Lifecycle,
    kid: &str,
    force: bool,
) -> Result<(), CommandError> {
    let key = find(keys, kid).await?;
    if key.state == KeyState::Retired {
        return out(&format!("{kid} is already retired"));
    }
    let now = now();
    if let Err(refused) = rules.check_retire(&key, now) {
        if !force {
            return Err(refused.into());
        }
        eprintln!(
            "warning: retiring {kid} although it may still verify live tokens (--force): \
             they stop verifying within KEY_RELOAD_INTERVAL"
        );
    }
    if !keys.retire(kid, key.state, now).await? {
        return Err(CommandError::KeyChanged(kid.to_owned()));
    }
    out(&format!(
        "retired {kid}: running servers stop publishing it and accepting its tokens within \
         KEY_RELOAD_INTERVAL ({} s); its private key is erased",
        config.keys.key_reload_interval.as_secs()
    ))
}
