//! Bringing stored e-mail keys in step with [`email_key`] after its folding changed.

use jwt_allauth::email::email_key;

use crate::db::Database;

/// Rewrites the stored key (`email_lower`) of every user whose key is not
/// [`email_key`] of their address; returns how many were rewritten. Run by
/// [`Database::migrate`].
///
/// Keys written before full case folding (`XΣ@x` stored under `xς@x`, `ß` kept as is)
/// would otherwise no longer be found. Two accounts that now fold to one key (`xσ@x`
/// and `xς@x`) cannot both have it: the one met second keeps its old key, reachable
/// through no spelling, and a warning names its id for the operator to merge or rename.
pub(crate) async fn refold_email_keys(db: &Database) -> Result<u64, sqlx::Error> {
    let rows = on_table!(db, table => table.non_ascii_keys())?;
    let mut rewritten = 0;
    for (id, email, stored) in rows {
        let key = email_key(&email);
        if key == stored {
            continue;
        }
        let updated = on_table!(db, table => table.set_email_key(id, &key));
        match updated {
            Ok(()) => rewritten += 1,
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                tracing::warn!(
                    user_id = id,
                    "this user's e-mail address is another user's compared without case; \
                     it keeps its old key: merge or rename one of the two accounts"
                );
            }
            Err(error) => return Err(error),
        }
    }
    if rewritten > 0 {
        tracing::info!(
            rewritten,
            "e-mail keys brought in step with full case folding"
        );
    }
    Ok(rewritten)
}
