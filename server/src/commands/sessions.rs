//! `sessions list | revoke | revoke-all`.

use jwt_allauth::store::SessionRecord;
use time::format_description::well_known::Rfc3339;

use super::{Admin, now, out};
use crate::cli::{GlobalArgs, ListSessionsArgs, SessionsCommand};
use crate::error::CommandError;

pub(super) async fn run(global: &GlobalArgs, command: SessionsCommand) -> Result<(), CommandError> {
    let admin = Admin::open(global).await?;
    let result = match command {
        SessionsCommand::List(args) => list(&admin, &args).await,
        SessionsCommand::Revoke(args) => revoke(&admin, &args.session).await,
        SessionsCommand::RevokeAll(args) => revoke_all(&admin, &args.email).await,
    };
    admin.close().await;
    result
}

async fn list(admin: &Admin, args: &ListSessionsArgs) -> Result<(), CommandError> {
    let user = admin.user(&args.email).await?;
    for session in admin.manager.list_sessions(&user.id.to_string()).await? {
        let line = if args.json {
            serde_json::to_string(&session).map_err(|err| CommandError::Output(err.into()))?
        } else {
            text_line(&session)
        };
        out(&line)?;
    }
    Ok(())
}

/// `session created last_used expires_at ip browser os device`, tab-separated, `-` for
/// unknown values.
fn text_line(session: &SessionRecord) -> String {
    let time = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string());
    let join = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => format!("{a} {b}"),
        (Some(a), None) => a.clone(),
        _ => "-".to_owned(),
    };
    let device = &session.device;
    [
        session.session.clone(),
        time(session.created),
        time(session.last_used),
        time(session.expires_at),
        device.ip.clone().unwrap_or_else(|| "-".to_owned()),
        join(&device.browser, &device.browser_version),
        join(&device.os, &device.os_version),
        join(&device.device, &None),
    ]
    .join("\t")
}

async fn revoke(admin: &Admin, session: &str) -> Result<(), CommandError> {
    if !admin.manager.revoke_session(session, now()).await? {
        return Err(CommandError::NoSession(session.to_owned()));
    }
    out(&format!("ended session {session}"))
}

async fn revoke_all(admin: &Admin, email: &str) -> Result<(), CommandError> {
    let user = admin.user(email).await?;
    let count = admin
        .manager
        .logout_all(&user.id.to_string(), now())
        .await?;
    out(&format!("ended {count} session(s) of {}", user.email))
}
