-- jwt-allauth: the event log (SQLite). One row per session or account change, written in
-- the transaction of the change; read in `seq` order by webhooks and
-- `jwt-allauth events list`. No token, hash or password is ever stored here.

CREATE TABLE jwt_allauth_events (
    -- AUTOINCREMENT: a sequence number is never reused, even after the newest events
    -- are purged.
    seq      INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id       TEXT    NOT NULL UNIQUE,
    type     TEXT    NOT NULL,
    -- Unix seconds, as every time of this database.
    time     INTEGER NOT NULL,
    user_id  TEXT    NOT NULL,
    session  TEXT,
    reason   TEXT,
    -- The device metadata as JSON text.
    device   TEXT
);

CREATE INDEX jwt_allauth_events_time_idx ON jwt_allauth_events (time);
CREATE INDEX jwt_allauth_events_user_id_idx ON jwt_allauth_events (user_id, seq);
