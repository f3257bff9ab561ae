//! `purge [--dry-run]`.

use super::{Admin, now, out};
use crate::cli::{GlobalArgs, PurgeArgs};
use crate::error::CommandError;

pub(super) async fn run(global: &GlobalArgs, args: &PurgeArgs) -> Result<(), CommandError> {
    let admin = Admin::open(global).await?;
    let result = admin.manager.purge(now(), args.dry_run).await;
    admin.close().await;
    let report = result?;
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    out(&format!(
        "{verb} {} expired session(s) and {} expired purpose token(s)",
        report.sessions, report.purpose_tokens
    ))
}
