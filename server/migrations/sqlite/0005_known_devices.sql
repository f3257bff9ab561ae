-- jwt-allauth server: the devices each account signed in from (SQLite).
--
-- One row per account and device fingerprint (browser family, OS family, device
-- family; '' when unknown), for the new sign-in mail: a login from a fingerprint not
-- seen on the account within 90 days is mailed, and `notified_at` (the last such mail)
-- counts the mails of the last hour for the per-account limit. Rows outlive sessions
-- (a logout does not make a device new again) and go with their user.
--
-- Timestamps are INTEGER epoch seconds, as in the users table.

CREATE TABLE jwt_allauth_known_devices (
    user_id     INTEGER NOT NULL REFERENCES jwt_allauth_users (id) ON DELETE CASCADE,
    browser     TEXT    NOT NULL,
    os          TEXT    NOT NULL,
    device      TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    notified_at INTEGER,
    PRIMARY KEY (user_id, browser, os, device)
);
