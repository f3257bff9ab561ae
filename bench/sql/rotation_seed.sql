-- The data of bench/sql/rotation.sql, in a fresh database that has the server's schema
-- (the library's and the server's migrations): for each pgbench client c in
-- 0 .. :clients - 1, user c + 1 and its session "pgbench-<c>", whose jti is
-- c * 1000000000 (then + 1 per rotation).
--
--   psql -v clients=16 -f rotation_seed.sql URL

INSERT INTO jwt_allauth_users (id, email, email_lower, password_hash, date_joined)
OVERRIDING SYSTEM VALUE
SELECT c + 1, 'pgbench' || c || '@example.com', 'pgbench' || c || '@example.com',
    '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA', now()
FROM generate_series(0, :clients - 1) AS c;

INSERT INTO jwt_allauth_sessions (
    session, user_id, jti, refresh_claims, enabled, created, last_used, expires_at
)
SELECT 'pgbench-' || c, (c + 1)::text, (c::bigint * 1000000000)::text,
    repeat('x', 260), true, now(), now(), now() + interval '14 days'
FROM generate_series(0, :clients - 1) AS c;

VACUUM ANALYZE;
