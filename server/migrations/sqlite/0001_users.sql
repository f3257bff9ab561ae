-- jwt-allauth server: the built-in users table (SQLite).
--
-- `email_lower` is the lower-cased address (lower-cased by the server, Unicode-aware):
-- e-mail addresses are unique regardless of case. Timestamps are INTEGER epoch seconds.
-- `role` NULL means "derive it from is_staff / is_superuser".

CREATE TABLE jwt_allauth_users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL,
    email_lower     TEXT    NOT NULL UNIQUE,
    password_hash   TEXT    NOT NULL,
    first_name      TEXT    NOT NULL DEFAULT '',
    last_name       TEXT    NOT NULL DEFAULT '',
    role            INTEGER,
    is_active       INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_staff        INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1)),
    is_superuser    INTEGER NOT NULL DEFAULT 0 CHECK (is_superuser IN (0, 1)),
    email_verified  INTEGER NOT NULL DEFAULT 1 CHECK (email_verified IN (0, 1)),
    profile         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(profile) AND json_type(profile) = 'object'),
    date_joined     INTEGER NOT NULL,
    last_login      INTEGER
);
