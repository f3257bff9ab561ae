-- jwt-allauth server: the mail outbox (SQLite).
--
-- A request writes its mail here, in the transaction that writes what the mail is
-- about; a delivery worker sends it later. A row lives until the SMTP server accepted
-- the mail (then it is deleted) or the worker gave up on it (deleted too, with a log
-- line). `locked_until` is the lease of the worker that claimed the row: another worker
-- takes it only once the lease has run out (a worker that crashed). `last_error` holds
-- the last failure's message, never a body or a link.
--
-- Timestamps are INTEGER epoch milliseconds (not seconds as in the users table):
-- retry delays are counted in them.

CREATE TABLE jwt_allauth_mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_key     TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    text_body       TEXT    NOT NULL,
    html_body       TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    last_error      TEXT
);

CREATE INDEX jwt_allauth_mail_outbox_due ON jwt_allauth_mail_outbox (next_attempt_at);
