-- Seeds sessions of other users into a migrated PostgreSQL database, in one statement:
-- rows numbered :first to :first + :count - 1, four per user ("seed-<n / 4>"), with
-- random-looking 32-hex session ids and jtis like the server's, a refresh-claims
-- document of the size the server stores, and device metadata. Live rows expire within
-- the next 14 days; with :expired = 1 they expired within the last day (for purge).
--
--   psql -v first=1 -v count=1000 -v expired=0 -f seed_sessions_postgres.sql URL

INSERT INTO jwt_allauth_sessions (
    session, user_id, jti, refresh_claims, enabled, created, last_used, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
)
SELECT
    md5('session-' || i),
    'seed-' || (i / 4),
    md5('jti-' || i),
    format(
        '{"token_type":"refresh","exp":%s,"iat":%s,"jti":"%s","user_id":"seed-%s",'
        '"session":"%s","session_iat":%s,"role":0,"email_verified":true}',
        extract(epoch FROM now())::bigint + 1209600, extract(epoch FROM now())::bigint,
        md5('jti-' || i), i / 4, md5('session-' || i), extract(epoch FROM now())::bigint),
    true,
    now() - interval '2 days',
    now() - interval '1 hour',
    CASE WHEN :expired = 1
        THEN now() - (1 + i % 86400) * interval '1 second'
        ELSE now() + (3600 + i % 1206000) * interval '1 second'
    END,
    '198.51.100.' || (i % 250), 'Chrome', '124.0.0', 'Windows', '10', 'Other', NULL, NULL,
    false, false, true, false
FROM generate_series(:first::bigint, :first::bigint + :count - 1) AS i;
