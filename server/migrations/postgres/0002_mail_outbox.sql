-- jwt-allauth server: the mail outbox (PostgreSQL).
--
-- A request writes its mail here, in the transaction that writes what the mail is
-- about; a delivery worker sends it later. A row lives until the SMTP server accepted
-- the mail (then it is deleted) or the worker gave up on it (deleted too, with a log
-- line). `locked_until` is the lease of the worker that claimed the row: another worker
-- takes it only once the lease has run out (a worker that crashed). `last_error` holds
-- the last failure's message, never a body or a link.

CREATE TABLE jwt_allauth_mail_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_key     text        NOT NULL,
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    text_body       text        NOT NULL,
    html_body       text        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        bigint      NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    last_error      text
);

CREATE INDEX jwt_allauth_mail_outbox_due ON jwt_allauth_mail_outbox (next_attempt_at);
