-- jwt-allauth server: webhook delivery (PostgreSQL).
--
-- One row per webhook endpoint (WEBHOOK_URLS), created the first time a server is
-- configured with it. `delivered_seq` is the durable cursor: every event of the event
-- log up to this sequence number was delivered to the endpoint (or given up on), so a
-- restart, or a `kill -9`, resumes after it and loses nothing. `locked_by` and
-- `locked_until` are the lease of the one server process delivering to the endpoint:
-- another process takes it over only once the lease has run out.

CREATE TABLE jwt_allauth_webhook_endpoints (
    url           text        PRIMARY KEY,
    delivered_seq bigint      NOT NULL DEFAULT 0,
    locked_by     text,
    locked_until  timestamptz
);
