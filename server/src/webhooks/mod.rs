//! Webhooks (`WEBHOOK_URLS`, `WEBHOOK_SECRET`): every event of the event log, posted to
//! every endpoint at least once, in sequence order, signed as the Standard Webhooks
//! specification describes (<https://www.standardwebhooks.com/>).
//!
//! - Delivery reads the event log, which the stores write in the transaction of each
//!   change; each endpoint's cursor (`jwt_allauth_webhook_endpoints.delivered_seq`,
//!   migration 0004) is saved after each event, so a restart, or a `kill -9`, resends
//!   at most the event in flight and loses nothing. An endpoint configured for the first
//!   time receives every event still in the log.
//! - Per endpoint, events go out one at a time in `seq` order: a failing event holds the
//!   later ones back while it is retried, 1 s after the first failure, doubling up to
//!   5 min, for [`GIVE_UP_AFTER`] (24 h); it is then given up for that endpoint (a
//!   warning naming the event, counted `given_up`) and the endpoint moves on. A 2xx
//!   answer delivers; any other status (redirects are not followed), a connection error
//!   or no answer within [`ATTEMPT_TIMEOUT`] (10 s) fails the attempt.
//! - On PostgreSQL an event with a lower `seq` may commit after a higher one was read:
//!   the cursor stays below such a gap until it is filled or 5 s old
//!   ([`jwt_allauth_sqlx::SequenceGaps`], shared with the revocation feed).
//! - Several instances on one PostgreSQL database: one at a time delivers to a given
//!   endpoint, under a lease in the endpoint's row (15 s, renewed every 5 s); another
//!   takes over when it runs out (a crash) or is given back (a shutdown).
//! - Delivery runs in background tasks, one per endpoint: a failing or hanging endpoint
//!   never slows a request, nor another endpoint.
//! - Metrics: `jwt_allauth_webhook_deliveries_total{state="delivered"|"failed"|"given_up"}`
//!   (`failed` counts failed attempts).
//!
//! Each request carries `content-type: application/json`, `webhook-id` (the event's
//! `id`, the same at every attempt), `webhook-timestamp` (the attempt's unix seconds)
//! and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed
//! with the bytes of `WEBHOOK_SECRET` after `whsec_`. The body is `{"type": <event
//! type>, "timestamp": <event time, RFC 3339>, "data": <the event, as `events list`
//! prints it>}`.

mod client;
mod endpoint_lease;
mod endpoint_url;
mod message;
mod retry;
mod secret;
mod worker;

use std::time::{Duration, Instant};

use rand::RngCore;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::client::{AttemptError, ClientError, WebhookClient};
pub use self::endpoint_lease::EndpointLease;
pub use self::endpoint_url::{WebhookUrl, WebhookUrlError};
pub use self::message::{SignedHeaders, WebhookMessage};
pub use self::retry::{
    ATTEMPT_TIMEOUT, FIRST_RETRY_DELAY, GIVE_UP_AFTER, MAX_RETRY_DELAY, retry_delay,
};
pub use self::secret::{MIN_SECRET_BYTES, SECRET_PREFIX, WebhookSecret, WebhookSecretError};
use self::worker::{EndpointWorker, Pacing};
use crate::db::Database;

/// How long an instance holds an endpoint's lease without renewing it: how long the
/// other instances wait before taking over from one that crashed.
pub const LEASE: Duration = Duration::from_secs(15);

/// The delivery tasks of the configured endpoints. Dropping this aborts them (as a crash
/// would: nothing is lost); [`WebhookDelivery::shutdown`] stops them cleanly.
#[derive(Debug)]
pub struct WebhookDelivery {
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl WebhookDelivery {
    /// Starts one delivery task per endpoint of `urls` on the current runtime, reading
    /// the event log of `db`; `None` when there is no endpoint.
    pub fn start(
        db: &Database,
        urls: &[WebhookUrl],
        secret: &WebhookSecret,
    ) -> Result<Option<Self>, ClientError> {
        if urls.is_empty() {
            return Ok(None);
        }
        let client = WebhookClient::new(ATTEMPT_TIMEOUT)?;
        let holder = holder_id();
        let (stop, stopped) = watch::channel(false);
        let pacing = Pacing {
            poll_interval: Duration::from_millis(250),
            claim_interval: Duration::from_secs(1),
            lease: LEASE,
            gap_timeout: Duration::from_secs(5),
            batch: 100,
        };
        let tasks = urls
            .iter()
            .map(|url| {
                tracing::info!(endpoint = %url, "webhook endpoint configured");
                let worker = EndpointWorker {
                    url: url.clone(),
                    lease: EndpointLease::new(db.clone(), url.as_str(), &holder, LEASE),
                    log: db.session_store(),
                    client: client.clone(),
                    secret: secret.clone(),
                    stop: stopped.clone(),
                    pacing,
                    renewed: Instant::now(),
                };
                tokio::spawn(worker.run())
            })
            .collect();
        Ok(Some(Self { tasks, stop }))
    }

    /// Stops the tasks: an attempt in flight is abandoned (its event is sent again by the
    /// next delivery), and each lease is given back so that another instance takes over
    /// at once. Put a timeout around it if the database may be down.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for WebhookDelivery {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// This process's name on the leases: random, so that a restarted process does not take
/// for its own the lease of the one before it.
fn holder_id() -> String {
    let mut random = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut random);
    format!("{}-{}", std::process::id(), hex::encode(random))
}
