-- jwt-allauth server: the built-in users table (PostgreSQL).
--
-- `email_lower` is the lower-cased address (lower-cased by the server, Unicode-aware):
-- e-mail addresses are unique regardless of case. `role` NULL means "derive it from
-- is_staff / is_superuser".

CREATE TABLE jwt_allauth_users (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text        NOT NULL,
    email_lower     text        NOT NULL UNIQUE,
    password_hash   text        NOT NULL,
    first_name      text        NOT NULL DEFAULT '',
    last_name       text        NOT NULL DEFAULT '',
    role            bigint,
    is_active       boolean     NOT NULL DEFAULT true,
    is_staff        boolean     NOT NULL DEFAULT false,
    is_superuser    boolean     NOT NULL DEFAULT false,
    email_verified  boolean     NOT NULL DEFAULT true,
    profile         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(profile) = 'object'),
    date_joined     timestamptz NOT NULL,
    last_login      timestamptz
);
