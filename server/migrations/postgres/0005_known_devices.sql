-- jwt-allauth server: the devices each account signed in from (PostgreSQL).
--
-- One row per account and device fingerprint (browser family, OS family, device
-- family; '' when unknown), for the new sign-in mail: a login from a fingerprint not
-- seen on the account within 90 days is mailed, and `notified_at` (the last such mail)
-- counts the mails of the last hour for the per-account limit. Rows outlive sessions
-- (a logout does not make a device new again) and go with their user. The sign-ins of
-- one account are serialized by a transaction-level advisory lock.

CREATE TABLE jwt_allauth_known_devices (
    user_id     bigint      NOT NULL REFERENCES jwt_allauth_users (id) ON DELETE CASCADE,
    browser     text        NOT NULL,
    os          text        NOT NULL,
    device      text        NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    notified_at timestamptz,
    PRIMARY KEY (user_id, browser, os, device)
);
