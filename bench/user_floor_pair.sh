#!/usr/bin/env bash
# Issue 11 item 8: GET /user/ against its floor, 1 / (1/plain + 1/pgbench), for two
# builds of the benchmark server side by side on one PostgreSQL database, alternating in
# one run (run from the repository root):
#   BENCH_NEW=path/to/bench_server BENCH_OLD=path/to/other/bench_server bench/user_floor_pair.sh
# Knobs: ROUNDS (8), D (5s per case), USERS (16: the users /user/ and pgbench read in turn), SERVER_LOG (info, as bench/http.sh), JWT_ALLAUTH_BIN
# (a jwt-allauth binary for migrate and user create: target/debug/jwt-allauth).
set -euo pipefail
ROUNDS=${ROUNDS:-8}; D=${D:-5s}
PG=postgres://postgres@127.0.0.1:5432
DB=jwt_allauth_item8_$RANDOM
psql -q -X $PG/test -c "CREATE DATABASE $DB" >/dev/null
URL=$PG/$DB
BIN=${JWT_ALLAUTH_BIN:-target/debug/jwt-allauth}
SECRET=$(head -c 32 /dev/urandom | xxd -p -c 64)
$BIN migrate --database-url $URL >/dev/null
USERS=${USERS:-16}
for i in $(seq 1 $USERS); do
  $BIN user create --database-url $URL --email bench$i@example.com --password bench-password-1 >/dev/null
done
start() { # name port bin
  JWT_ALLAUTH_SECRET_KEY=$SECRET RUST_LOG=${SERVER_LOG:-info} $3 --database-url $URL --bind 127.0.0.1:$2 >/tmp/item8-$1.log 2>&1 &
  echo $!
}
P_NEW=$(start new 18101 ${BENCH_NEW:-/tmp/bench_server_new}); P_OLD=$(start old 18102 ${BENCH_OLD:-/tmp/bench_server_old})
trap 'kill $P_NEW $P_OLD 2>/dev/null; rm -f /tmp/item8-$DB.tokens; psql -q -X $PG/test -c "DROP DATABASE $DB" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18101/health/ >/dev/null && curl -sf http://127.0.0.1:18102/health/ >/dev/null && break; sleep 0.2; done
# One access token per user: /user/ reads the users in turn (bench/lua/users.lua), as
# pgbench does.
export BENCH_ACCESS_TOKENS=/tmp/item8-$DB.tokens
: >$BENCH_ACCESS_TOKENS
for i in $(seq 1 $USERS); do
  curl -sf http://127.0.0.1:18101/login/ -H 'Content-Type: application/json' -d '{"email":"bench'$i'@example.com","password":"bench-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])' >>$BENCH_ACCESS_TOKENS
done
rps() { wrk -t2 -c16 -d$D "$@" | awk '/Requests\/sec/ {print $2}'; }
pgb() { /usr/lib/postgresql/*/bin/pgbench -n -M prepared -D first_id=1 -D users=$USERS -c 16 -j 2 -T ${D%s} -f bench/sql/user_by_id.sql $URL 2>/dev/null | awk '/^tps/ {print $3}'; }
echo "| round | plain | /user/ new | /user/ old | pgbench | floor | new ÷ floor | old ÷ floor |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in $(seq 1 $ROUNDS); do
  plain=$(rps http://127.0.0.1:18101/bench/plain/)
  if (( r % 2 )); then
    new=$(rps -s bench/lua/users.lua http://127.0.0.1:18101/user/)
    old=$(rps -s bench/lua/users.lua http://127.0.0.1:18102/user/)
  else
    old=$(rps -s bench/lua/users.lua http://127.0.0.1:18102/user/)
    new=$(rps -s bench/lua/users.lua http://127.0.0.1:18101/user/)
  fi
  pg=$(pgb)
  python3 -c "
p,n,o,g=$plain,$new,$old,$pg
f=1/(1/p+1/g)
print(f'| $r | {p:,.0f} | {n:,.0f} | {o:,.0f} | {g:,.0f} | {f:,.0f} | {n/f:.3f} | {o/f:.3f} |')"
done
