-- jwt-allauth: session whitelist and single-use purpose tokens (SQLite).
-- Timestamps are INTEGER Unix epoch seconds (UTC), never text. STRICT tables reject
-- values of the wrong type.

CREATE TABLE jwt_allauth_sessions (
    session         TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    jti             TEXT    NOT NULL UNIQUE,
    previous_jti    TEXT,
    rotated_at      INTEGER,
    refresh_claims  TEXT    NOT NULL,
    enabled         INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created         INTEGER NOT NULL,
    last_used       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ip              TEXT,
    browser         TEXT,
    browser_version TEXT,
    os              TEXT,
    os_version      TEXT,
    device          TEXT,
    device_brand    TEXT,
    device_model    TEXT,
    is_mobile       INTEGER CHECK (is_mobile IN (0, 1)),
    is_tablet       INTEGER CHECK (is_tablet IN (0, 1)),
    is_pc           INTEGER CHECK (is_pc IN (0, 1)),
    is_bot          INTEGER CHECK (is_bot IN (0, 1))
) STRICT;

CREATE INDEX jwt_allauth_sessions_user_id_idx ON jwt_allauth_sessions (user_id);
CREATE INDEX jwt_allauth_sessions_expires_at_idx ON jwt_allauth_sessions (expires_at);

CREATE TABLE jwt_allauth_purpose_tokens (
    id              INTEGER NOT NULL PRIMARY KEY,
    token_hash      BLOB    NOT NULL CHECK (length(token_hash) = 32),
    purpose         TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    created         INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ip              TEXT,
    browser         TEXT,
    browser_version TEXT,
    os              TEXT,
    os_version      TEXT,
    device          TEXT,
    device_brand    TEXT,
    device_model    TEXT,
    is_mobile       INTEGER CHECK (is_mobile IN (0, 1)),
    is_tablet       INTEGER CHECK (is_tablet IN (0, 1)),
    is_pc           INTEGER CHECK (is_pc IN (0, 1)),
    is_bot          INTEGER CHECK (is_bot IN (0, 1))
) STRICT;

-- One pending token per (user, purpose): a new one replaces the old in one upsert.
CREATE UNIQUE INDEX jwt_allauth_purpose_tokens_user_purpose_idx
    ON jwt_allauth_purpose_tokens (user_id, purpose);
CREATE INDEX jwt_allauth_purpose_tokens_expires_at_idx
    ON jwt_allauth_purpose_tokens (expires_at);
