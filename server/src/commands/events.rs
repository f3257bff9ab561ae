//! `events list [--email E] [--since T] [--follow]`: the event log, one JSON object per
//! line.

use std::time::Duration;

use jwt_allauth::events::{Event, EventLog};
use jwt_allauth::settings::value::parse_duration;
use jwt_allauth_sqlx::SequenceGaps;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Admin, now, out};
use crate::cli::{EventsCommand, GlobalArgs, ListEventsArgs};
use crate::error::CommandError;

/// Events read per query.
const PAGE: u32 = 500;
/// How often `--follow` looks for new events.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);
/// How long `--follow` waits for a missing sequence number (a transaction still
/// committing) before it gives up on it (a rolled-back one leaves a permanent gap).
const GAP_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn run(global: &GlobalArgs, command: EventsCommand) -> Result<(), CommandError> {
    let admin = Admin::open(global).await?;
    let result = match command {
        EventsCommand::List(args) => list(&admin, &args).await,
    };
    admin.close().await;
    result
}

/// `--since`: an RFC 3339 time, or a duration before now.
fn since(text: &str) -> Result<OffsetDateTime, CommandError> {
    if let Ok(time) = OffsetDateTime::parse(text.trim(), &Rfc3339) {
        return Ok(time);
    }
    let ago = parse_duration(text).map_err(|_| CommandError::InvalidSince(text.to_owned()))?;
    now()
        .checked_sub(
            ago.try_into()
                .map_err(|_| CommandError::InvalidSince(text.to_owned()))?,
        )
        .ok_or_else(|| CommandError::InvalidSince(text.to_owned()))
}

async fn list(admin: &Admin, args: &ListEventsArgs) -> Result<(), CommandError> {
    let user_id = match &args.email {
        Some(email) => Some(admin.user(email).await?.id.to_string()),
        None => None,
    };
    let from = args.since.as_deref().map(since).transpose()?;
    let log = admin.manager.store();
    let mut after = match from {
        Some(time) => log
            .last_seq_before(time)
            .await
            .map_err(CommandError::Events)?,
        None => 0,
    };
    let print = |event: &Event| -> Result<(), CommandError> {
        if shown(event, user_id.as_deref(), from) {
            let line =
                serde_json::to_string(event).map_err(|err| CommandError::Output(err.into()))?;
            out(&line)?;
        }
        Ok(())
    };
    if !args.follow {
        // The log as it is now, page by page.
        loop {
            let events = log
                .events_after(after, PAGE)
                .await
                .map_err(CommandError::Events)?;
            events.iter().try_for_each(print)?;
            match events.last() {
                Some(last) if events.len() >= PAGE as usize => after = last.seq,
                _ => return Ok(()),
            }
        }
    }
    // Following, a lower `seq` may become visible after a higher one was printed
    // (PostgreSQL commits out of order): the reader keeps its place below such gaps and
    // prints each event once, as the revocation feed and webhooks do.
    let mut gaps = SequenceGaps::new(after, GAP_TIMEOUT);
    loop {
        let events = log
            .events_after(gaps.cursor(), PAGE)
            .await
            .map_err(CommandError::Events)?;
        for event in &events {
            if !gaps.is_handled(event.seq) {
                print(event)?;
                gaps.handled(event.seq);
            }
        }
        let before = gaps.cursor();
        if gaps.advance() == before || events.len() < PAGE as usize {
            tokio::time::sleep(FOLLOW_INTERVAL).await;
        }
    }
}

/// Whether `event` passes the filters.
fn shown(event: &Event, user_id: Option<&str>, from: Option<OffsetDateTime>) -> bool {
    user_id.is_none_or(|id| event.user_id == id) && from.is_none_or(|time| event.time >= time)
}
