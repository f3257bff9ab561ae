# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# Shared by the benchmark scripts (sourced, not run): the knobs, logging, the work
# directory and the clean-up that runs on exit.
#
# Knobs (environment variables):
#   DURATION      length of each measured wrk or pgbench run: 10s, 2m or seconds (10s)
#   CONNECTIONS   concurrent connections of each case, and pgbench clients (16)
#   THREADS       wrk threads of the non-chained cases, pgbench threads (2)
#   BENCH_POSTGRES_URL  a PostgreSQL database to connect to, where the scripts create
#                 (and drop) their own databases (postgres://postgres@127.0.0.1:5432/test)
#   SERVER_LOG    RUST_LOG of the server (info: the server's default, one line per request)
#   SKIP_BUILD=1  use the release binaries already in target/
#   KEEP_WORK=1   keep the work directory (server logs, wrk outputs, traces)

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT_DIR="$(cd "$BENCH_DIR/.." && pwd)"
LUA_DIR="$BENCH_DIR/lua"
SQL_DIR="$BENCH_DIR/sql"

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
BENCH_POSTGRES_URL="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
SERVER_LOG="${SERVER_LOG:-info}"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT_DIR/target}"
JWT_ALLAUTH_BIN="$TARGET_DIR/release/jwt-allauth"
BENCH_SERVER_BIN="$TARGET_DIR/release/examples/bench_server"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# `seconds DURATION`: 10s, 2m, 1h or a bare number of seconds, as whole seconds.
seconds() {
    local value=$1
    case "$value" in
        *s) value=${value%s} ;;
        *m) value=$(( ${value%m} * 60 )) ;;
        *h) value=$(( ${value%h} * 3600 )) ;;
    esac
    [[ "$value" =~ ^[0-9]+$ && "$value" -gt 0 ]] || die "not a duration: $1"
    echo "$value"
}

# `random_hex BYTES`: that many random bytes, as lowercase hex.
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# `now_us`: microseconds since the epoch (the clock of bench/lua/refresh.lua's traces).
now_us() { date +%s%6N; }

# `calc EXPRESSION`: floating-point arithmetic (awk), printed with up to 3 decimals.
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

# `at_least A B`: succeeds when A >= B (floating point).
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# `pass_fail CONDITION...`: PASS when the command succeeds, else FAIL.
pass_fail() { if "$@"; then echo PASS; else echo FAIL; fi; }

# The work directory of this run, and what the clean-up must undo.
WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/jwt-allauth-bench.XXXXXX")"
CLEANUP_PIDS=()
CLEANUP_DATABASES=()

# `track_pid PID`: ended (SIGTERM, then SIGKILL) on exit if still running.
track_pid() { CLEANUP_PIDS+=("$1"); }

# `track_database NAME`: dropped on exit.
track_database() { CLEANUP_DATABASES+=("$1"); }

cleanup() {
    local status=$?
    local pid name
    for pid in "${CLEANUP_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${CLEANUP_PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    for name in "${CLEANUP_DATABASES[@]}"; do
        psql -q -X "$BENCH_POSTGRES_URL" \
            -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 ||
            log "warning: could not drop database $name"
    done
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then
        log "work directory kept: $WORK_DIR"
    else
        rm -rf "$WORK_DIR"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
