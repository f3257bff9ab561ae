-- pgbench: the least SQL a refresh-token rotation needs, in one transaction: one read
-- of the user row (the columns the server loads) and one conditional update of the
-- session row that succeeds only when the presented jti is the current one, writing
-- what the server writes (new jti, previous jti, times, new claims, device metadata).
--
-- Each client rotates its own session ("pgbench-<client>", seeded by rotation_seed.sql)
-- along a chain of counter-based jtis: client c presents c * 1000000000 + n and writes
-- that + 1, n counting its transactions. Every update therefore matches exactly one
-- row; after the run the jtis add up to the transactions pgbench reports (checked by
-- bench/http.sh).
--
--   pgbench -n -M prepared -D n=0 -c CLIENTS -j THREADS -T SECONDS -f rotation.sql URL

\set uid :client_id + 1
\set old_jti :client_id * 1000000000 + :n
\set new_jti :old_jti + 1
\set n :n + 1
BEGIN;
SELECT id, email, password_hash, first_name, last_name, role, is_active, is_staff,
    is_superuser, email_verified, profile::text AS profile, date_joined, last_login
FROM jwt_allauth_users WHERE id = :uid;
UPDATE jwt_allauth_sessions SET
    jti = :new_jti::text, previous_jti = jti, rotated_at = now(), last_used = now(),
    expires_at = now() + interval '14 days',
    -- The claims document the server writes; pgbench would take ":<name>" inside a
    -- literal for a variable, so the JSON is written with "=" and translated.
    refresh_claims = translate('{"token_type"="refresh","exp"=1797000000,"iat"=1795790400,"jti"="0123456789abcdef0123456789abcdef","user_id"="1","session"="0123456789abcdef0123456789abcdef","session_iat"=1795790400,"role"=0,"email_verified"=true}', '=', ':'),
    ip = '127.0.0.1', browser = NULL, browser_version = NULL, os = NULL, os_version = NULL,
    device = NULL, device_brand = NULL, device_model = NULL,
    is_mobile = false, is_tablet = false, is_pc = false, is_bot = false
WHERE session = 'pgbench-' || :client_id::text AND user_id = :uid::text
    AND jti = :old_jti::text AND enabled;
COMMIT;
