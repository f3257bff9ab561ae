# shellcheck shell=bash disable=SC2034 # DB_URL is for the scripts that source this
# The server under test (sourced): fresh databases, the benchmark server on a free port,
# its users, logged-in sessions, and its memory.
#
# The server runs with a random 32-byte SECRET_KEY (never printed) and the caller's
# other JWT_ALLAUTH_* settings: e.g. JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE=false runs the
# refresh chains in body mode.

BENCH_EMAIL="bench%d@example.com"
BENCH_PASSWORD="bench-$(random_hex 12)"
BENCH_SECRET="$(random_hex 32)"
export BENCH_EMAIL BENCH_PASSWORD

# How the refresh token travels: "cookie" (the default) or "body".
case "${JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE:-true}" in
    false | 0 | no | off) BENCH_REFRESH_MODE=body ;;
    *) BENCH_REFRESH_MODE=cookie ;;
esac
export BENCH_REFRESH_MODE

# `new_database BACKEND NAME`: a fresh, empty database; sets DB_URL. A PostgreSQL
# database is created on BENCH_POSTGRES_URL's server and dropped on exit.
new_database() {
    local backend=$1 name=$2
    case "$backend" in
        sqlite)
            DB_URL="sqlite://$WORK_DIR/$name.sqlite3"
            ;;
        postgres)
            local database
            database="jwt_allauth_bench_$(random_hex 4)_$name"
            psql -q -X "$BENCH_POSTGRES_URL" -c "CREATE DATABASE $database" >/dev/null
            track_database "$database"
            DB_URL="$(postgres_url "$database")"
            ;;
        *) die "unknown backend $backend (sqlite or postgres)" ;;
    esac
}

# `postgres_url DATABASE`: BENCH_POSTGRES_URL naming DATABASE instead.
postgres_url() {
    local base=${BENCH_POSTGRES_URL%%\?*} query=""
    [[ "$BENCH_POSTGRES_URL" == *\?* ]] && query="?${BENCH_POSTGRES_URL#*\?}"
    local scheme=${base%%://*} rest=${base#*://}
    echo "$scheme://${rest%%/*}/$1$query"
}

# `start_server NAME DATABASE_URL`: the benchmark server on 127.0.0.1 (a free port), its
# log in the work directory; sets SERVER_PID and SERVER_URL once it listens.
start_server() {
    local name=$1 url=$2
    local log="$WORK_DIR/$name.server.log"
    (
        cd "$WORK_DIR" || exit
        # The "listening" line (with the port) is logged whatever SERVER_LOG says.
        JWT_ALLAUTH_SECRET_KEY="$BENCH_SECRET" \
            RUST_LOG="$SERVER_LOG,jwt_allauth_server::commands::serve=info" \
            exec "$BENCH_SERVER_BIN" --database-url "$url" --bind 127.0.0.1:0
    ) >"$log" 2>&1 &
    SERVER_PID=$!
    track_pid "$SERVER_PID"
    local address=""
    for _ in $(seq 1 300); do
        address="$(sed -n 's/.*jwt-allauth listening address=\([0-9.:]*\).*/\1/p' "$log" | head -n 1)"
        [[ -n "$address" ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$log" >&2; die "the server exited"; }
        sleep 0.2
    done
    [[ -n "$address" ]] || die "the server did not start within 60 s (log: $log)"
    SERVER_URL="http://$address"
    log "$name: server $SERVER_PID listening on $SERVER_URL"
}

# `stop_server`: SIGTERM (graceful shutdown), then wait for it.
stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# `create_users DATABASE_URL COUNT`: bench1@example.com ... with BENCH_PASSWORD, through
# the `jwt-allauth user create` command.
create_users() {
    local url=$1 count=$2 i
    for i in $(seq 1 "$count"); do
        # shellcheck disable=SC2059 # BENCH_EMAIL is the pattern
        "$JWT_ALLAUTH_BIN" user create --email "$(printf "$BENCH_EMAIL" "$i")" \
            --password "$BENCH_PASSWORD" --database-url "$url" >/dev/null
    done
    BENCH_USERS=$count
    export BENCH_USERS
}

# `login USER`: POST /login/ as bench<USER>; sets ACCESS_TOKEN and REFRESH_TOKEN.
login() {
    local headers="$WORK_DIR/login.headers" body
    # shellcheck disable=SC2059
    body="$(printf '{"email":"%s","password":"%s"}' "$(printf "$BENCH_EMAIL" "$1")" "$BENCH_PASSWORD" |
        curl -sS --fail-with-body -D "$headers" -X POST "$SERVER_URL/login/" \
            -H 'Content-Type: application/json' --data-binary @-)" || die "login failed: $body"
    ACCESS_TOKEN="$(sed -n 's/.*"access":"\([^"]*\)".*/\1/p' <<<"$body")"
    if [[ "$BENCH_REFRESH_MODE" == body ]]; then
        REFRESH_TOKEN="$(sed -n 's/.*"refresh":"\([^"]*\)".*/\1/p' <<<"$body")"
    else
        REFRESH_TOKEN="$(tr -d '\r' <"$headers" | sed -n 's/^[Ss]et-[Cc]ookie: refresh_token=\([^;]*\);.*/\1/p')"
    fi
    [[ -n "$ACCESS_TOKEN" && -n "$REFRESH_TOKEN" ]] || die "login answered no tokens"
}

# `login_chains COUNT FILE`: COUNT logins (users in turn), one refresh token per line in
# FILE: the start of COUNT refresh chains, and their access tokens in FILE.access. Sets
# ACCESS_TOKEN (of the last login).
login_chains() {
    local count=$1 file=$2 i
    : >"$file"
    : >"$file.access"
    for i in $(seq 1 "$count"); do
        login $(( (i - 1) % BENCH_USERS + 1 ))
        echo "$REFRESH_TOKEN" >>"$file"
        echo "$ACCESS_TOKEN" >>"$file.access"
    done
}

# `rss_mib FIELD [PID]`: a memory figure of /proc/PID/status (VmHWM: peak resident set,
# VmRSS: current) in MiB.
rss_mib() {
    awk -v field="$1:" '$1 == field { printf "%.1f", $2 / 1024 }' "/proc/${2:-$SERVER_PID}/status"
}

# `thread_count PID`: the thread count of a process.
thread_count() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status"; }
