-- jwt-allauth: session whitelist and single-use purpose tokens (PostgreSQL).

CREATE TABLE jwt_allauth_sessions (
    session         text        NOT NULL PRIMARY KEY,
    -- Insertion order: breaks ties between sessions opened in the same second.
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    user_id         text        NOT NULL,
    jti             text        NOT NULL UNIQUE,
    previous_jti    text,
    rotated_at      timestamptz,
    refresh_claims  text        NOT NULL,
    enabled         boolean     NOT NULL,
    created         timestamptz NOT NULL,
    last_used       timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    ip              text,
    browser         text,
    browser_version text,
    os              text,
    os_version      text,
    device          text,
    device_brand    text,
    device_model    text,
    is_mobile       boolean,
    is_tablet       boolean,
    is_pc           boolean,
    is_bot          boolean
);

CREATE INDEX jwt_allauth_sessions_user_id_idx ON jwt_allauth_sessions (user_id);
CREATE INDEX jwt_allauth_sessions_expires_at_idx ON jwt_allauth_sessions (expires_at);

CREATE TABLE jwt_allauth_purpose_tokens (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash      bytea       NOT NULL CHECK (octet_length(token_hash) = 32),
    purpose         text        NOT NULL,
    user_id         text        NOT NULL,
    created         timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    ip              text,
    browser         text,
    browser_version text,
    os              text,
    os_version      text,
    device          text,
    device_brand    text,
    device_model    text,
    is_mobile       boolean,
    is_tablet       boolean,
    is_pc           boolean,
    is_bot          boolean
);

-- One pending token per (user, purpose): a new one replaces the old in one upsert.
CREATE UNIQUE INDEX jwt_allauth_purpose_tokens_user_purpose_idx
    ON jwt_allauth_purpose_tokens (user_id, purpose);
CREATE INDEX jwt_allauth_purpose_tokens_expires_at_idx
    ON jwt_allauth_purpose_tokens (expires_at);
