-- jwt-allauth server: signing keys (PostgreSQL).
--
-- Keys move standby -> active -> previous -> retired (`jwt-allauth keys ...`). Exactly
-- one key is active (it signs); standby keys are published before they sign, previous
-- keys verify until the last token they signed has expired. `kid` is the RFC 7638
-- thumbprint of the public key. The private key is stored encrypted
-- (XChaCha20-Poly1305 under KEY_ENCRYPTION_KEY, the kid and algorithm as associated
-- data), never in clear; retiring a key erases it.

CREATE TABLE jwt_allauth_signing_keys (
    kid            text        PRIMARY KEY,
    algorithm      text        NOT NULL,
    state          text        NOT NULL
                   CHECK (state IN ('standby', 'active', 'previous', 'retired')),
    public_pem     text        NOT NULL,
    private_nonce  bytea,
    private_sealed bytea,
    created_at     timestamptz NOT NULL,
    activated_at   timestamptz,
    deactivated_at timestamptz,
    retired_at     timestamptz,
    CHECK (state = 'retired' OR (private_nonce IS NOT NULL AND private_sealed IS NOT NULL))
);

-- At most one active key.
CREATE UNIQUE INDEX jwt_allauth_signing_keys_one_active
    ON jwt_allauth_signing_keys (state) WHERE state = 'active';
