//! Every statement of the stores. Most run on both backends to the letter; where SQLite
//! and PostgreSQL differ, both texts stand side by side in a [`PerDialect`], so the
//! difference in behaviour is a difference in SQL that can be read at a glance.
//!
//! Statements bind their arguments as `$1`, `$2`, ...: PostgreSQL's placeholders, which
//! sqlx's SQLite driver binds by number too.

use crate::dialect::PerDialect;

/// Starts the transaction that reads a row to change it (the classification of a
/// rotation that missed, the consumption of a purpose token), so that no other writer
/// changes that row before the transaction ends.
pub(crate) const BEGIN_WRITE: PerDialect<&str> = PerDialect {
    // Takes the database's write lock at once, so that concurrent writers wait in the
    // busy handler instead of failing with `SQLITE_BUSY` when a read transaction
    // upgrades. No other writer runs until it commits: that is the row's lock.
    sqlite: "BEGIN IMMEDIATE",
    // A plain transaction: its statements lock the rows they read (`FOR UPDATE`).
    postgres: "BEGIN",
};

/// Opens a session: binds session, user id, jti, claims, enabled, created (also
/// `last_used`), expires_at, then the 12 device columns.
pub(crate) const INSERT_SESSION: &str = "\
INSERT INTO jwt_allauth_sessions (
    session, user_id, jti, refresh_claims, enabled, created, last_used, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
) VALUES (
    $1, $2, $3, $4, $5, $6, $6, $7,
    $8, $9, $10, $11, $12, $13, $14, $15,
    $16, $17, $18, $19
)";

/// The rotation itself: binds new jti, now, expires_at, claims, 12 device columns,
/// session, user_id, presented jti.
pub(crate) const ROTATE_SESSION: &str = "\
UPDATE jwt_allauth_sessions SET
    jti = $1, previous_jti = jti, rotated_at = $2, last_used = $2, expires_at = $3,
    refresh_claims = $4,
    ip = $5, browser = $6, browser_version = $7, os = $8, os_version = $9, device = $10,
    device_brand = $11, device_model = $12,
    is_mobile = $13, is_tablet = $14, is_pc = $15, is_bot = $16
WHERE session = $17 AND user_id = $18 AND jti = $19 AND enabled";

/// The session row of a rotation that missed, read inside [`BEGIN_WRITE`]: binds
/// session, user id.
pub(crate) const SELECT_LOCKED: PerDialect<&str> = PerDialect {
    sqlite: "\
SELECT user_id, jti, previous_jti, rotated_at, refresh_claims, enabled
FROM jwt_allauth_sessions WHERE session = $1 AND user_id = $2",
    postgres: "\
SELECT user_id, jti, previous_jti, rotated_at, refresh_claims, enabled
FROM jwt_allauth_sessions WHERE session = $1 AND user_id = $2
FOR UPDATE",
};

/// What a deletion of sessions returns, for their `session.revoked` events.
macro_rules! returning_ended {
    ($statement:literal) => {
        concat!(
            $statement,
            "\nRETURNING session, user_id,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot"
        )
    };
}

pub(crate) const DELETE_SESSION: &str =
    returning_ended!("DELETE FROM jwt_allauth_sessions WHERE session = $1");

pub(crate) const DELETE_USER_SESSION: &str =
    returning_ended!("DELETE FROM jwt_allauth_sessions WHERE session = $1 AND user_id = $2");

pub(crate) const DELETE_USER_SESSIONS: &str =
    returning_ended!("DELETE FROM jwt_allauth_sessions WHERE user_id = $1");

/// The user's sessions, newest first; sessions created in the same second in the
/// reverse order of their insertion (SQLite's `rowid`, PostgreSQL's `seq` column).
pub(crate) const SELECT_USER_SESSIONS: PerDialect<&str> = PerDialect {
    sqlite: "\
SELECT session, user_id, enabled, created, last_used, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
FROM jwt_allauth_sessions WHERE user_id = $1
ORDER BY created DESC, rowid DESC",
    postgres: "\
SELECT session, user_id, enabled, created, last_used, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
FROM jwt_allauth_sessions WHERE user_id = $1
ORDER BY created DESC, seq DESC",
};

pub(crate) const SESSION_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM jwt_allauth_sessions WHERE session = $1)";

pub(crate) const COUNT_EXPIRED_SESSIONS: &str =
    "SELECT COUNT(*) FROM jwt_allauth_sessions WHERE expires_at <= $1";

/// Deletes at most `$2` sessions with `expires_at <= $1`, oldest first.
pub(crate) const DELETE_EXPIRED_SESSIONS: PerDialect<&str> = PerDialect {
    // Walks the covering `expires_at` index (oldest first) and deletes by rowid.
    sqlite: returning_ended!(
        "\
DELETE FROM jwt_allauth_sessions WHERE rowid IN (
    SELECT rowid FROM jwt_allauth_sessions WHERE expires_at <= $1
    ORDER BY expires_at LIMIT $2
)"
    ),
    // Skips rows locked by a rotation instead of waiting for them. `ORDER BY expires_at`
    // makes the planner walk the `expires_at` index: without it, it may choose a
    // sequential scan that reads every live row (and every row deleted by earlier batches
    // but not yet vacuumed) before the first expired one, so each batch would cost as
    // much as the whole table.
    postgres: returning_ended!(
        "\
DELETE FROM jwt_allauth_sessions WHERE session IN (
    SELECT session FROM jwt_allauth_sessions WHERE expires_at <= $1
    ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
)"
    ),
};

/// Writes an event: binds id, type, time, user id, session, reason, device (JSON text).
pub(crate) const INSERT_EVENT: &str = "\
INSERT INTO jwt_allauth_events (id, type, time, user_id, session, reason, device)
VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// At most `$2` events with `seq > $1`, in `seq` order.
pub(crate) const SELECT_EVENTS_AFTER: &str = "\
SELECT seq, id, type, time, user_id, session, reason, device FROM jwt_allauth_events
WHERE seq > $1 ORDER BY seq LIMIT $2";

/// The highest `seq` of the events older than `$1`, or 0.
pub(crate) const LAST_EVENT_SEQ_BEFORE: &str =
    "SELECT COALESCE(MAX(seq), 0) FROM jwt_allauth_events WHERE time < $1";

/// How many events are older than `$1`.
pub(crate) const COUNT_EVENTS_BEFORE: &str =
    "SELECT COUNT(*) FROM jwt_allauth_events WHERE time < $1";

/// Deletes at most `$2` events older than `$1`, oldest first.
pub(crate) const DELETE_EVENTS_BEFORE: &str = "\
DELETE FROM jwt_allauth_events WHERE seq IN (
    SELECT seq FROM jwt_allauth_events WHERE time < $1 ORDER BY seq LIMIT $2
)";

/// Stores a purpose token: binds hash, purpose, user id, created, expires_at, then the
/// 12 device columns. One upsert on the unique (user_id, purpose) index: concurrent
/// replacements leave exactly one pending token.
pub(crate) const INSERT_PURPOSE_TOKEN: &str = "\
INSERT INTO jwt_allauth_purpose_tokens (
    token_hash, purpose, user_id, created, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
) VALUES (
    $1, $2, $3, $4, $5,
    $6, $7, $8, $9, $10, $11, $12, $13,
    $14, $15, $16, $17
)
ON CONFLICT (user_id, purpose) DO UPDATE SET
    token_hash = excluded.token_hash, created = excluded.created,
    expires_at = excluded.expires_at, ip = excluded.ip, browser = excluded.browser,
    browser_version = excluded.browser_version, os = excluded.os,
    os_version = excluded.os_version, device = excluded.device,
    device_brand = excluded.device_brand, device_model = excluded.device_model,
    is_mobile = excluded.is_mobile, is_tablet = excluded.is_tablet, is_pc = excluded.is_pc,
    is_bot = excluded.is_bot";

/// The unexpired tokens of a (user, purpose), read inside [`BEGIN_WRITE`]: binds user
/// id, purpose, now.
/// Deletes the purpose token with id `$1`.
pub(crate) const DELETE_PURPOSE_TOKEN_BY_ID: &str =
    "DELETE FROM jwt_allauth_purpose_tokens WHERE id = $1";

/// The unexpired tokens of `(user_id $1, purpose $2)` at `$3`, read without a lock.
pub(crate) const SELECT_LIVE_PURPOSE_TOKENS: &str = "\
SELECT id, token_hash FROM jwt_allauth_purpose_tokens
WHERE user_id = $1 AND purpose = $2 AND expires_at > $3";

pub(crate) const SELECT_PURPOSE_CANDIDATES: PerDialect<&str> = PerDialect {
    sqlite: "\
SELECT id, token_hash FROM jwt_allauth_purpose_tokens
WHERE user_id = $1 AND purpose = $2 AND expires_at > $3",
    postgres: "\
SELECT id, token_hash FROM jwt_allauth_purpose_tokens
WHERE user_id = $1 AND purpose = $2 AND expires_at > $3
FOR UPDATE",
};

pub(crate) const DELETE_PURPOSE_TOKEN: &str = "\
DELETE FROM jwt_allauth_purpose_tokens WHERE id = $1
RETURNING purpose, user_id, created, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot";

pub(crate) const SELECT_USER_PURPOSE_TOKENS: &str = "\
SELECT purpose, user_id, created, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
FROM jwt_allauth_purpose_tokens WHERE user_id = $1
ORDER BY created DESC, id DESC";

pub(crate) const DELETE_USER_PURPOSE_TOKENS: &str =
    "DELETE FROM jwt_allauth_purpose_tokens WHERE user_id = $1";

pub(crate) const COUNT_EXPIRED_PURPOSE_TOKENS: &str =
    "SELECT COUNT(*) FROM jwt_allauth_purpose_tokens WHERE expires_at <= $1";

/// Deletes at most `$2` purpose tokens with `expires_at <= $1`, oldest first.
pub(crate) const DELETE_EXPIRED_PURPOSE_TOKENS: PerDialect<&str> = PerDialect {
    // Walks the covering `expires_at` index (oldest first) and deletes by rowid (`id`).
    sqlite: "\
DELETE FROM jwt_allauth_purpose_tokens WHERE id IN (
    SELECT id FROM jwt_allauth_purpose_tokens WHERE expires_at <= $1
    ORDER BY expires_at LIMIT $2
)",
    // Skips rows locked by a consumption, as the sessions' purge does.
    postgres: "\
DELETE FROM jwt_allauth_purpose_tokens WHERE id IN (
    SELECT id FROM jwt_allauth_purpose_tokens WHERE expires_at <= $1
    ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
)",
};
