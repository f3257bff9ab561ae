-- Seeds sessions of other users into a migrated SQLite database, in one statement (a
-- recursive CTE): rows numbered :first to :first + :count - 1, four per user
-- ("seed-<n / 4>"), with random 32-hex session ids and jtis like the server's, a
-- refresh-claims document of the size the server stores, and device metadata. Live rows
-- expire within the next 14 days; with :expired = 1 they expired within the last day.
--
--   sqlite3 -cmd '.parameter set :first 1' -cmd '.parameter set :count 1000' \
--       -cmd '.parameter set :expired 0' FILE < seed_sessions_sqlite.sql

.timeout 30000
WITH RECURSIVE
    clock(now) AS (SELECT CAST(strftime('%s', 'now') AS INTEGER)),
    n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i < :first + :count - 1)
INSERT INTO jwt_allauth_sessions (
    session, user_id, jti, refresh_claims, enabled, created, last_used, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
)
SELECT
    printf('%016x%016x', random(), i),
    'seed-' || (i / 4),
    printf('%016x%016x', random(), i),
    printf(
        '{"token_type":"refresh","exp":%d,"iat":%d,"jti":"%016x%016x","user_id":"seed-%d",'
        || '"session":"%016x%016x","session_iat":%d,"role":0,"email_verified":true}',
        now + 1209600, now, random(), i, i / 4, random(), i, now),
    1,
    now - 172800,
    now - 3600,
    CASE WHEN :expired = 1 THEN now - 1 - i % 86400 ELSE now + 3600 + i % 1206000 END,
    '198.51.100.' || (i % 250), 'Chrome', '124.0.0', 'Windows', '10', 'Other', NULL, NULL,
    0, 0, 1, 0
FROM n, clock;
