//! Reloading the key ring of a running server from the database.
//!
//! The lifecycle is slow (minutes between steps), so polling is enough: every
//! `KEY_RELOAD_INTERVAL` (30 s by default, at most 60 s) the server builds its ring again
//! ([`KeySource::ring`]) and, when its keys changed, installs it with
//! [`TokenCodec::replace_keys`] on the session
//! manager's codec, which signing, verification and the published key set all read. A
//! change made with `jwt-allauth keys ...` therefore reaches every instance within one
//! interval. A reload that fails (database down, a row that does not decrypt) keeps the
//! ring in use and logs once, until a reload succeeds again.

use std::time::Duration;

use jwt_allauth::{KeyRing, TokenCodec};
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::key_set::KeySource;

/// What is signed with and published: the signing key's algorithm and `kid`, and every
/// verifying key's. Compared between reloads, to log changes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingSummary {
    signing: Option<String>,
    verifying: Vec<String>,
}

impl RingSummary {
    /// The summary of `ring`.
    pub fn of(ring: &KeyRing) -> Self {
        let name = |algorithm: jwt_allauth::Algorithm, kid: Option<&str>| match kid {
            Some(kid) => format!("{algorithm} {kid}"),
            None => format!("{algorithm} (no kid)"),
        };
        Self {
            signing: ring
                .signing_key()
                .map(|key| name(key.algorithm(), key.key_id())),
            verifying: ring
                .verifying_keys()
                .iter()
                .map(|key| name(key.algorithm(), key.key_id()))
                .collect(),
        }
    }

    /// Logs the summary (at `info`).
    pub fn log(&self, what: &str) {
        tracing::info!(
            signing = self.signing.as_deref().unwrap_or("none"),
            verifying = %self.verifying.join(", "),
            "{what}"
        );
    }
}

/// The background task reloading the keys; aborted when dropped.
#[derive(Debug)]
pub struct KeyReloader {
    task: JoinHandle<()>,
}

impl KeyReloader {
    /// Starts reloading `source` into `codec` every `interval`, the first time one
    /// interval from now.
    pub fn spawn(source: KeySource, codec: TokenCodec, interval: Duration) -> Self {
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks.tick().await;
            let mut current = RingSummary::of(&codec.keys());
            let mut failing = false;
            loop {
                ticks.tick().await;
                match source.ring(OffsetDateTime::now_utc()).await {
                    Ok(ring) => {
                        if failing {
                            tracing::info!("the signing keys are read from the database again");
                            failing = false;
                        }
                        // Kept when the same keys come back, so is the ring's cache of
                        // verified access tokens (a key's `kid` names one key for good).
                        let summary = RingSummary::of(&ring);
                        if summary != current {
                            codec.replace_keys(ring);
                            summary.log("signing keys changed");
                            current = summary;
                        }
                    }
                    Err(error) => {
                        if !failing {
                            tracing::error!(
                                "cannot reload the signing keys; keeping the keys in use: {}",
                                crate::error::report(&error)
                            );
                            failing = true;
                        }
                    }
                }
            }
        });
        Self { task }
    }
}

impl Drop for KeyReloader {
    fn drop(&mut self) {
        self.task.abort();
    }
}
