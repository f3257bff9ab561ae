-- pgbench: the database's share of GET /user/, the floor that bench/http.sh sets the
-- route against: one primary-key read of a user row, the columns the answer needs
-- (e-mail and names) and the active flag the route checks. Each client reads one of
-- the benchmark's users (ids first_id .. first_id + users - 1, passed with -D).
--
--   pgbench -n -M prepared -D first_id=1 -D users=16 -c CLIENTS -j THREADS -T SECONDS \
--       -f user_by_id.sql URL

\set uid :first_id + :client_id % :users
SELECT email, first_name, last_name, is_active FROM jwt_allauth_users WHERE id = :uid;
