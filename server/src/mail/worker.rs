//! The delivery worker: a tokio task that takes due mails from the [`Outbox`] and
//! sends them through a [`MailTransport`].
//!
//! It claims one mail at a time (so that a lease never runs out while mails before it
//! are sent), sends it, and deletes it as soon as the server accepted it, before it
//! claims the next. A transient failure (server down, 4xx, timeout) releases the mail
//! for a later attempt, after [`RetryPolicy::delay`]: 10 s, doubling, at most 1 h. A
//! permanent failure (5xx, an address that cannot be written) gives up at once, and so
//! does a transient one past [`RetryPolicy::max_attempts`] or [`RetryPolicy::max_age`].
//! Giving up deletes the mail, with a warning that names its row, its attempts and the
//! error, never its body or link.
//!
//! The worker wakes when [`Outbox::wake`] is called, when the next mail falls due, and
//! at least every [`WorkerConfig::poll_interval`] (mail queued by other processes). A
//! worker that stops, or crashes, loses nothing: unsent mails stay in the table, and a
//! mail it held is taken again once its lease runs out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lettre::message::Mailbox;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::delivery_counter::{MailState, count_mail};
use super::outbox::{ClaimedMail, Outbox, OutboxError};
use super::transport::{MailTransport, OutgoingMail};

/// When to retry a transient failure, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt; it doubles after each. Defaults to 10 s.
    pub first_delay: Duration,
    /// The longest wait between two attempts. Defaults to 1 h.
    pub max_delay: Duration,
    /// Give up after this many attempts. Defaults to 80 (about 3 days with the default
    /// delays).
    pub max_attempts: u32,
    /// Give up on a mail queued longer ago than this. Defaults to 3 days.
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(3600),
            max_attempts: 80,
            max_age: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts (1 or more): `first_delay` doubled
    /// `attempts − 1` times, at most `max_delay`.
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(32);
        self.first_delay
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Whether a mail queued at `created_at` that failed its `attempts`-th attempt at
    /// `now` is given up.
    pub fn gives_up(&self, attempts: i64, created_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        attempts >= i64::from(self.max_attempts) || now - created_at >= self.max_age
    }
}

/// How the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerConfig {
    /// The longest sleep between two looks at the outbox. Defaults to 30 s.
    pub poll_interval: Duration,
    /// How long a claimed mail is held before another worker may take it. It must
    /// exceed the time one sending may take (60 s). Defaults to 5 min.
    pub lease: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(30),
            lease: Duration::from_secs(300),
            retry: RetryPolicy::default(),
        }
    }
}

/// What one pass over the due mails did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Mails the server accepted.
    pub sent: usize,
    /// Mails released for a later attempt.
    pub retried: usize,
    /// Mails given up.
    pub given_up: usize,
}

/// The running worker. Dropping it aborts the task (as a crash would: nothing is lost);
/// [`MailWorker::shutdown`] lets the mail in hand finish first.
#[derive(Debug)]
pub struct MailWorker {
    task: Option<JoinHandle<()>>,
    stop: Arc<Stop>,
}

#[derive(Debug, Default)]
struct Stop {
    requested: AtomicBool,
    notify: Notify,
}

impl MailWorker {
    /// Starts the worker on the current tokio runtime. Logs where mail goes.
    pub fn spawn(outbox: Outbox, transport: MailTransport, config: WorkerConfig) -> Self {
        let stop = Arc::new(Stop::default());
        let task = tokio::spawn(run(outbox, transport, config, Arc::clone(&stop)));
        Self {
            task: Some(task),
            stop,
        }
    }

    /// Stops the worker once the mail in hand (if any) is sent and recorded. A mail the
    /// server accepted is deleted before anything else happens, however long the
    /// database takes to answer: put a timeout around this call if the database may be
    /// down, then drop.
    pub async fn shutdown(mut self) {
        self.stop.requested.store(true, Ordering::SeqCst);
        self.stop.notify.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MailWorker {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn run(outbox: Outbox, transport: MailTransport, config: WorkerConfig, stop: Arc<Stop>) {
    tracing::info!(
        destination = transport.destination(),
        "mail delivery worker started"
    );
    while !stop.requested.load(Ordering::SeqCst) {
        let wait = match deliver_due_until(&outbox, &transport, &config, &stop).await {
            Ok(_) => match outbox.next_due().await {
                Ok(Some(due)) => {
                    let until = due - OffsetDateTime::now_utc();
                    Duration::try_from(until)
                        .unwrap_or(Duration::ZERO)
                        .max(Duration::from_millis(10))
                        .min(config.poll_interval)
                }
                Ok(None) => config.poll_interval,
                Err(err) => {
                    warn_outbox(&err);
                    config.poll_interval
                }
            },
            Err(err) => {
                warn_outbox(&err);
                config.poll_interval
            }
        };
        tokio::select! {
            () = outbox.wake_handle().notified() => {}
            () = stop.notify.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!("mail delivery worker stopped");
}

fn warn_outbox(err: &OutboxError) {
    tracing::warn!(error = %error_chain(err), "mail outbox unavailable; will look again");
}

/// Sends every mail due now, one claim at a time, until none is due; what it did. A
/// worker calls it in a loop; tests and commands can call it directly.
pub async fn deliver_due(
    outbox: &Outbox,
    transport: &MailTransport,
    config: &WorkerConfig,
) -> Result<DeliveryReport, OutboxError> {
    deliver_due_until(outbox, transport, config, &Stop::default()).await
}

async fn deliver_due_until(
    outbox: &Outbox,
    transport: &MailTransport,
    config: &WorkerConfig,
    stop: &Stop,
) -> Result<DeliveryReport, OutboxError> {
    let mut report = DeliveryReport::default();
    while !stop.requested.load(Ordering::SeqCst) {
        let now = OffsetDateTime::now_utc();
        let Some(mail) = outbox.claim(now, config.lease, 1).await?.pop() else {
            break;
        };
        deliver(outbox, transport, config, mail, &mut report).await?;
    }
    Ok(report)
}

/// Sends one claimed mail and records the outcome.
async fn deliver(
    outbox: &Outbox,
    transport: &MailTransport,
    config: &WorkerConfig,
    mail: ClaimedMail,
    report: &mut DeliveryReport,
) -> Result<(), OutboxError> {
    let id = mail.id;
    let attempts = mail.attempts;
    let Ok(to) = mail.recipient.parse::<Mailbox>() else {
        tracing::warn!(id, "queued mail has an invalid recipient; given up");
        outbox.remove(id).await?;
        report.given_up += 1;
        count_mail(MailState::Failed);
        return Ok(());
    };
    let outgoing = OutgoingMail {
        to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        message_id: Some(transport.message_id(&mail.message_key)),
    };
    match transport.send(&outgoing).await {
        Ok(()) => {
            remove_sent(outbox, id).await;
            tracing::info!(id, attempts, "mail sent");
            report.sent += 1;
            count_mail(MailState::Delivered);
        }
        Err(err) => {
            let now = OffsetDateTime::now_utc();
            let error = err.chain();
            if err.is_permanent() || config.retry.gives_up(attempts, mail.created_at, now) {
                outbox.remove(id).await?;
                tracing::warn!(
                    id,
                    attempts,
                    permanent = err.is_permanent(),
                    error = %error,
                    "mail not sent; given up"
                );
                report.given_up += 1;
                count_mail(MailState::Failed);
            } else {
                let attempts_done = u32::try_from(attempts).unwrap_or(u32::MAX);
                let delay = config.retry.delay(attempts_done);
                outbox.retry_at(id, now + delay, &error).await?;
                tracing::info!(
                    id,
                    attempts,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error = %error,
                    "mail not sent; will retry"
                );
                report.retried += 1;
                count_mail(MailState::Retried);
            }
        }
    }
    Ok(())
}

/// Deletes a mail the server accepted, trying until it works: a mail left in the table
/// would be sent again once its lease runs out, so nothing is claimed before.
async fn remove_sent(outbox: &Outbox, id: i64) {
    let mut wait = Duration::from_millis(50);
    loop {
        match outbox.remove(id).await {
            Ok(_) => return,
            Err(err) => {
                tracing::error!(
                    id,
                    error = %error_chain(&err),
                    "cannot record a sent mail; trying again"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// An error and its sources on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_an_hour() {
        let policy = RetryPolicy::default();
        let delays: Vec<u64> = (1..=10).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]);
        assert_eq!(policy.delay(1000).as_secs(), 3600);
        assert_eq!(policy.delay(0).as_secs(), 10);
    }

    #[test]
    fn giving_up_after_attempts_or_age() {
        let policy = RetryPolicy::default();
        let created = OffsetDateTime::UNIX_EPOCH;
        let hour = time::Duration::hours(1);
        assert!(!policy.gives_up(1, created, created + hour));
        assert!(policy.gives_up(80, created, created + hour));
        assert!(policy.gives_up(2, created, created + time::Duration::days(3)));
        // The default delays reach the age limit close to the attempt limit.
        let total: Duration = (1..80).map(|n| policy.delay(n)).sum();
        assert!(total >= Duration::from_secs(2 * 24 * 3600), "{total:?}");
    }
}
