//! [`EndpointWorker`]: delivers the event log to one endpoint, in `seq` order, while it
//! holds the endpoint's lease.

use std::time::{Duration, Instant};

use jwt_allauth::DynStore;
use jwt_allauth::events::{Event, EventLog};
use jwt_allauth_sqlx::SequenceGaps;
use time::OffsetDateTime;
use tokio::sync::watch;

use super::retry::{GIVE_UP_AFTER, retry_delay};
use super::{EndpointLease, WebhookClient, WebhookMessage, WebhookSecret, WebhookUrl};

/// How the worker paces itself.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pacing {
    /// How often the log is read when it had nothing new.
    pub poll_interval: Duration,
    /// How often a process that does not hold the lease tries to take it.
    pub claim_interval: Duration,
    /// How long a lease lasts; it is renewed every third of it.
    pub lease: Duration,
    /// How long a missing sequence number is waited for (see [`SequenceGaps`]).
    pub gap_timeout: Duration,
    /// Events read per query.
    pub batch: u32,
}

/// How a spell of delivering ended.
enum Ended {
    /// Shutdown.
    Stopped,
    /// Another process took the lease over.
    LeaseLost,
    /// The database failed; the lease is claimed again after a pause.
    Database(String),
}

/// Why an event's delivery stopped before it was delivered or given up.
enum Interrupted {
    Stopped,
    LeaseLost,
}

/// The metric of the deliveries, by `state`.
const METRIC: &str = "jwt_allauth_webhook_deliveries_total";

/// Delivers to one endpoint.
pub(super) struct EndpointWorker {
    pub url: WebhookUrl,
    pub lease: EndpointLease,
    pub log: DynStore,
    pub client: WebhookClient,
    pub secret: WebhookSecret,
    pub stop: watch::Receiver<bool>,
    pub pacing: Pacing,
    /// When the lease was last renewed.
    pub renewed: Instant,
}

impl EndpointWorker {
    /// Runs until shutdown, then gives the lease back.
    pub async fn run(mut self) {
        let mut failing = false;
        while !self.stopped() {
            match self.lease.ensure().await {
                Ok(()) => break,
                Err(error) => {
                    self.warn_database(&mut failing, &error.to_string());
                    if self.pause(self.pacing.claim_interval).await.is_err() {
                        return;
                    }
                }
            }
        }
        let mut holding = false;
        while !self.stopped() {
            match self.lease.claim(OffsetDateTime::now_utc()).await {
                Ok(Some(cursor)) => {
                    if !holding {
                        tracing::info!(endpoint = %self.url, cursor, "delivering webhooks to this endpoint");
                    }
                    holding = true;
                    failing = false;
                    self.renewed = Instant::now();
                    match self.deliver_from(cursor).await {
                        Ended::Stopped => break,
                        Ended::LeaseLost => {
                            holding = false;
                            tracing::info!(endpoint = %self.url, "another instance delivers to this endpoint now");
                        }
                        Ended::Database(error) => self.warn_database(&mut failing, &error),
                    }
                }
                Ok(None) => holding = false,
                Err(error) => self.warn_database(&mut failing, &error.to_string()),
            }
            if self.pause(self.pacing.claim_interval).await.is_err() {
                break;
            }
        }
        if let Err(error) = self.lease.release().await {
            tracing::warn!(endpoint = %self.url, %error, "cannot release the webhook lease; another instance takes over when it runs out");
        }
    }

    fn warn_database(&self, failing: &mut bool, error: &str) {
        if !*failing {
            tracing::warn!(endpoint = %self.url, %error, "webhook delivery cannot use the database; trying again");
        }
        *failing = true;
    }

    /// Whether shutdown was asked for.
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps `wait`, or less when shutdown is asked for (`Err`).
    async fn pause(&mut self, wait: Duration) -> Result<(), Interrupted> {
        if self.stopped() {
            return Err(Interrupted::Stopped);
        }
        tokio::select! {
            _ = self.stop.changed() => Err(Interrupted::Stopped),
            () = tokio::time::sleep(wait) => Ok(()),
        }
    }

    /// Renews the lease if a third of it has passed.
    async fn renew_if_due(&mut self, cursor: i64) -> Result<(), Ended> {
        if self.renewed.elapsed() < self.pacing.lease / 3 {
            return Ok(());
        }
        self.save(cursor).await
    }

    /// Records the cursor, renewing the lease.
    async fn save(&mut self, cursor: i64) -> Result<(), Ended> {
        match self.lease.save(cursor, OffsetDateTime::now_utc()).await {
            Ok(true) => {
                self.renewed = Instant::now();
                Ok(())
            }
            Ok(false) => Err(Ended::LeaseLost),
            Err(error) => Err(Ended::Database(error.to_string())),
        }
    }

    /// Delivers every event after `cursor`, in `seq` order, one at a time, for as long as
    /// the lease is ours.
    async fn deliver_from(&mut self, cursor: i64) -> Ended {
        let mut gaps = SequenceGaps::new(cursor, self.pacing.gap_timeout);
        let mut saved = cursor;
        loop {
            let mut after = gaps.cursor();
            let mut fresh = false;
            loop {
                let events = match self.log.events_after(after, self.pacing.batch).await {
                    Ok(events) => events,
                    Err(error) => return Ended::Database(error.to_string()),
                };
                for event in &events {
                    if gaps.is_handled(event.seq) {
                        continue;
                    }
                    fresh = true;
                    match self.deliver(event, saved).await {
                        Ok(()) => {}
                        Err(Interrupted::Stopped) => return Ended::Stopped,
                        Err(Interrupted::LeaseLost) => return Ended::LeaseLost,
                    }
                    gaps.handled(event.seq);
                    let cursor = gaps.advance();
                    if cursor != saved {
                        if let Err(ended) = self.save(cursor).await {
                            return ended;
                        }
                        saved = cursor;
                    }
                }
                match events.last() {
                    Some(last) if events.len() == self.pacing.batch as usize => after = last.seq,
                    _ => break,
                }
            }
            let cursor = gaps.advance();
            let renewed = if cursor == saved {
                self.renew_if_due(cursor).await
            } else {
                self.save(cursor).await
            };
            if let Err(ended) = renewed {
                return ended;
            }
            saved = cursor;
            if !fresh && self.pause(self.pacing.poll_interval).await.is_err() {
                return Ended::Stopped;
            }
        }
    }

    /// Delivers one event, retrying with backoff until it is delivered or given up.
    /// `cursor` is what the lease renewals record meanwhile.
    async fn deliver(&mut self, event: &Event, cursor: i64) -> Result<(), Interrupted> {
        let message = match WebhookMessage::of(event) {
            Ok(message) => message,
            Err(error) => {
                metrics::counter!(METRIC, "state" => "given_up").increment(1);
                tracing::error!(endpoint = %self.url, event = %event.id, seq = event.seq, %error, "webhook event cannot be written as JSON; given up");
                return Ok(());
            }
        };
        let first_attempt = Instant::now();
        let mut attempts: u32 = 0;
        loop {
            match self.renew_if_due(cursor).await {
                Ok(()) => {}
                Err(Ended::LeaseLost) => return Err(Interrupted::LeaseLost),
                Err(Ended::Stopped) => return Err(Interrupted::Stopped),
                // The lease lasts a while yet: deliver, and renew at the next chance.
                Err(Ended::Database(error)) => {
                    tracing::warn!(endpoint = %self.url, %error, "cannot renew the webhook lease");
                }
            }
            let headers = message.sign(&self.secret, OffsetDateTime::now_utc());
            attempts = attempts.saturating_add(1);
            let outcome = tokio::select! {
                _ = self.stop.changed() => return Err(Interrupted::Stopped),
                outcome = self.client.post(&self.url, &message, &headers) => outcome,
            };
            let error = match outcome {
                Ok(status) => {
                    metrics::counter!(METRIC, "state" => "delivered").increment(1);
                    tracing::debug!(endpoint = %self.url, event = %event.id, seq = event.seq, attempts, status = status.as_u16(), "webhook delivered");
                    return Ok(());
                }
                Err(error) => error,
            };
            metrics::counter!(METRIC, "state" => "failed").increment(1);
            let error = crate::error::report(&error);
            if first_attempt.elapsed() >= GIVE_UP_AFTER {
                metrics::counter!(METRIC, "state" => "given_up").increment(1);
                tracing::warn!(endpoint = %self.url, event = %event.id, seq = event.seq, attempts, %error, "webhook not delivered; given up");
                return Ok(());
            }
            let delay = retry_delay(attempts);
            tracing::info!(
                endpoint = %self.url,
                event = %event.id,
                seq = event.seq,
                attempts,
                retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                %error,
                "webhook not delivered; will retry"
            );
            // Waits in steps short enough to keep the lease.
            let resume = Instant::now() + delay;
            while let Some(left) = resume
                .checked_duration_since(Instant::now())
                .filter(|left| !left.is_zero())
            {
                self.pause(left.min(self.pacing.lease / 3)).await?;
                match self.renew_if_due(cursor).await {
                    Ok(()) | Err(Ended::Database(_)) => {}
                    Err(Ended::LeaseLost) => return Err(Interrupted::LeaseLost),
                    Err(Ended::Stopped) => return Err(Interrupted::Stopped),
                }
            }
        }
    }
}
