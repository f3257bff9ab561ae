//! Bringing stored e-mail keys in step with [`email_key`] after its folding changed.

use jwt_allauth::email::email_key;

use crate::db::Database;

/// Rows whose key is not ASCII: only those can fold differently.
const NON_ASCII_SQLITE: &str =
    "SELECT id, email, email_lower FROM jwt_allauth_users WHERE email_lower GLOB '*[^ -~]*'";
const NON_ASCII_POSTGRES: &str =
    "SELECT id, email, email_lower FROM jwt_allauth_users WHERE email_lower ~ '[^ -~]'";
const UPDATE_SQLITE: &str = "UPDATE jwt_allauth_users SET email_lower = ? WHERE id = ?";
const UPDATE_POSTGRES: &str = "UPDATE jwt_allauth_users SET email_lower = $1 WHERE id = $2";

/// Rewrites the stored key (`email_lower`) of every user whose key is not
/// [`email_key`] of their address; returns how many were rewritten. Run by
/// [`Database::migrate`].
///
/// Keys written before full case folding (`XΣ@x` stored under `xς@x`, `ß` kept as is)
/// would otherwise no longer be found. Two accounts that now fold to one key (`xσ@x`
/// and `xς@x`) cannot both have it: the one met second keeps its old key, reachable
/// through no spelling, and a warning names its id for the operator to merge or rename.
pub(crate) async fn refold_email_keys(db: &Database) -> Result<u64, sqlx::Error> {
    let rows: Vec<(i64, String, String)> = match db {
        Database::Sqlite(pool) => sqlx::query_as(NON_ASCII_SQLITE).fetch_all(pool).await?,
        Database::Postgres(pool) => sqlx::query_as(NON_ASCII_POSTGRES).fetch_all(pool).await?,
    };
    let mut rewritten = 0;
    for (id, email, stored) in rows {
        let key = email_key(&email);
        if key == stored {
            continue;
        }
        let updated = match db {
            Database::Sqlite(pool) => {
                let query = sqlx::query(UPDATE_SQLITE).bind(key).bind(id);
                query.execute(pool).await.map(drop)
            }
            Database::Postgres(pool) => {
                let query = sqlx::query(UPDATE_POSTGRES).bind(key).bind(id);
                query.execute(pool).await.map(drop)
            }
        };
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
