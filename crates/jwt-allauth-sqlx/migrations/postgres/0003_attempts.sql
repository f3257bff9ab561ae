-- jwt-allauth: the attempts counted by the login throttle and the account flows' rate
-- limits, shared by every instance on this database (PostgreSQL only: on SQLite one
-- process serves, and counts in memory). `key` is a SHA-256 digest (of an e-mail key or
-- a client bucket), never an address in clear. Rows are deleted once `expires_ms` has
-- passed, by the `purge` command and about once a minute by each instance.

CREATE TABLE jwt_allauth_attempts (
    scope      text   NOT NULL,
    key        bytea  NOT NULL,
    -- Unix milliseconds.
    started_ms bigint NOT NULL,
    expires_ms bigint NOT NULL
);

CREATE INDEX jwt_allauth_attempts_key_idx ON jwt_allauth_attempts (scope, key, started_ms);
CREATE INDEX jwt_allauth_attempts_expires_idx ON jwt_allauth_attempts (expires_ms);
