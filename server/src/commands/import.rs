//! `import django --from URL [--dry-run]`.

use super::{now, out};
use crate::cli::{GlobalArgs, ImportCommand};
use crate::config::{self, Overrides};
use crate::db::Database;
use crate::error::CommandError;
use crate::import::django::{self, ImportOptions};

pub(super) async fn run(global: &GlobalArgs, command: ImportCommand) -> Result<(), CommandError> {
    let ImportCommand::Django(args) = command;
    let config = config::load_config(
        global.config.as_deref(),
        &Overrides {
            database_url: global.database_url.as_deref(),
            bind: None,
        },
    )?;
    let db = Database::connect(config::database_url(&config)).await?;
    db.migrate().await?;
    let options = ImportOptions {
        from: args.from,
        user_table: args.user_table,
        batch_size: args.batch_size,
        dry_run: args.dry_run,
    };
    let progress = django::progress_bar();
    let summary = django::import(&db, &config.tokens, &options, now(), &progress).await;
    progress.finish_and_clear();
    db.close().await;
    out(summary?.to_string().trim_end())
}
