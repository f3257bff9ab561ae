//! `purge [--dry-run]`: expired sessions and purpose tokens, and events older than
//! `EVENT_RETENTION`.

use super::{Admin, now, out};
use crate::cli::{GlobalArgs, PurgeArgs};
use crate::error::CommandError;

pub(super) async fn run(global: &GlobalArgs, args: &PurgeArgs) -> Result<(), CommandError> {
    let admin = Admin::open(global).await?;
    let result = admin.manager.purge(now(), args.dry_run).await;
    // The outbox keeps no delivered mail (a mail is deleted once the SMTP server
    // accepted it, or given up), so there is nothing of it to purge; say what waits.
    let waiting = crate::mail::Outbox::new(admin.db.clone()).queued().await;
    // The shared throttle counters (PostgreSQL): attempts whose window has passed.
    let attempts = match admin.db.attempt_counters() {
        Some(counters) if !args.dry_run => counters.purge(now_ms()).await.map(Some),
        _ => Ok(None),
    };
    admin.close().await;
    let report = result?;
    let attempts = attempts.map_err(CommandError::Attempts)?;
    let waiting = waiting.map_err(|error| CommandError::Outbox(Box::new(error)))?;
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    out(&format!(
        "{verb} {} expired session(s) and {} expired purpose token(s)",
        report.sessions, report.purpose_tokens
    ))?;
    if let Some(attempts) = attempts.filter(|&count| count > 0) {
        out(&format!("deleted {attempts} expired throttle attempt(s)"))?;
    }
    out(&format!(
        "{verb} {} event(s) older than EVENT_RETENTION",
        report.events
    ))?;
    out(&format!(
        "{} mail(s) waiting in the outbox (delivered mail is deleted at delivery)",
        waiting.len()
    ))
}

/// The time of [`now`] in Unix milliseconds, as the throttle counters count.
fn now_ms() -> i64 {
    i64::try_from(now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
