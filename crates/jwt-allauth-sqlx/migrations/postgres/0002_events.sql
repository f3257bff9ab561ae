-- jwt-allauth: the event log (PostgreSQL). One row per session or account change,
-- written in the transaction of the change; read in `seq` order by the revocation feed,
-- webhooks and `jwt-allauth events list`. No token, hash or password is ever stored here.

CREATE TABLE jwt_allauth_events (
    seq      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id       text        NOT NULL UNIQUE,
    type     text        NOT NULL,
    time     timestamptz NOT NULL,
    user_id  text        NOT NULL,
    session  text,
    reason   text,
    -- The device metadata as JSON text.
    device   text
);

CREATE INDEX jwt_allauth_events_time_idx ON jwt_allauth_events (time);
CREATE INDEX jwt_allauth_events_user_id_idx ON jwt_allauth_events (user_id, seq);

-- Every transaction that writes events wakes the instances listening on
-- `jwt_allauth_events` when it commits (PostgreSQL folds the notifications of one
-- transaction into one, and drops them with a rollback). The payload is empty: a listener
-- reads the log from the last `seq` it has.
CREATE FUNCTION jwt_allauth_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jwt_allauth_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER jwt_allauth_events_notify
AFTER INSERT ON jwt_allauth_events
FOR EACH STATEMENT EXECUTE FUNCTION jwt_allauth_events_notify();
