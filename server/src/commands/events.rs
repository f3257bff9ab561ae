//! `events list [--email E] [--since T] [--follow]`: the event log, one JSON object per
//! line.

use std::time::Duration;

use jwt_allauth::events::{Event, EventLog};
use jwt_allauth::settings::value::parse_duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Admin, now, out};
use crate::cli::{EventsCommand, GlobalArgs, ListEventsArgs};
use crate::error::CommandError;

/// Events read per query.
const PAGE: u32 = 500;
/// How often `--follow` looks for new events.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

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
    loop {
        let events = log
            .events_after(after, PAGE)
            .await
            .map_err(CommandError::Events)?;
        for event in &events {
            if shown(event, user_id.as_deref(), from) {
                let line =
                    serde_json::to_string(event).map_err(|err| CommandError::Output(err.into()))?;
                out(&line)?;
            }
        }
        match events.last() {
            Some(last) => after = last.seq,
            None if args.follow => tokio::time::sleep(FOLLOW_INTERVAL).await,
            None => return Ok(()),
        }
    }
}

/// Whether `event` passes the filters.
fn shown(event: &Event, user_id: Option<&str>, from: Option<OffsetDateTime>) -> bool {
    user_id.is_none_or(|id| event.user_id == id) && from.is_none_or(|time| event.time >= time)
}
