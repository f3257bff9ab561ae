#!/usr/bin/env bash
# HTTP benchmarks of the jwt-allauth server (issue 5, items 2 and 4), on SQLite and on
# PostgreSQL, driven by wrk; prints one markdown table with the targets.
#
#   bench/http.sh                       # both backends, DURATION=10s each case
#   DURATION=2s BACKENDS=sqlite bench/http.sh
#
# For each backend: a fresh database, CONNECTIONS users, the benchmark server
# (server/examples/bench_server.rs) on a free port, CONNECTIONS logins, then one wrk run
# of DURATION per case, one after the other:
#   plain           GET /bench/plain/          fixed JSON, no authentication
#   authenticated   GET /bench/authenticated/  the same behind the AuthUser extractor
#   floor           GET /bench/floor/          the same after a hand-written HS256 check
#                   (HMAC, base64, serde: the least any verification must do)
#   /user/          GET /user/                 loads the user: the CONNECTIONS users in
#                                              turn, each request with the next one's
#                                              access token (bench/lua/users.lua)
#   pgbench user    (PostgreSQL) pgbench reading a user by primary key
#                   (bench/sql/user_by_id.sql), CONNECTIONS clients
#                   (these alternate PAIR_ROUNDS times, default 3; /user/ is printed
#                   against its floor, 1 / (1/plain + 1/pgbench user) of its round)
#   /health/        GET /health/               fixed JSON inside the server's middleware
#   /refresh/       POST /refresh/             chained rotations: one wrk thread and one
#                                              connection per chain (bench/lua/refresh.lua)
#   /login/         POST /login/               argon2id verification + a new session
# then the server's peak resident memory (VmHWM), and on PostgreSQL pgbench running the
# minimal rotation SQL (bench/sql/rotation.sql) with CONNECTIONS clients.
#
# Knobs: see bench/lib/common.sh; BACKENDS="sqlite postgres" (default).

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=bench/lib/tools.sh
source "$here/lib/tools.sh"
# shellcheck source=bench/lib/server.sh
source "$here/lib/server.sh"
# shellcheck source=bench/lib/wrk.sh
source "$here/lib/wrk.sh"
# shellcheck source=bench/lib/database.sh
source "$here/lib/database.sh"
# shellcheck source=bench/lib/pgbench.sh
source "$here/lib/pgbench.sh"
# shellcheck source=bench/lib/report.sh
source "$here/lib/report.sh"

BACKENDS="${BACKENDS:-sqlite postgres}"
# Rounds of plain then authenticated: the machine's speed drifts, so the two routes
# alternate and the round with the median ratio is reported (all ratios are logged).
PAIR_ROUNDS="${PAIR_ROUNDS:-3}"

# Targets of issue 5.
AUTH_RATIO_MIN=0.9
PG_REFRESH_RATIO_MIN=0.6
SQLITE_REFRESH_MIN=2000
PEAK_RSS_MAX_MIB=64
# Target of issue 11, item 8.
USER_FLOOR_RATIO_MIN=0.75

# `bench_backend BACKEND`: every case on a fresh database and server.
bench_backend() {
    local backend=$1
    new_database "$backend" http
    create_users "$DB_URL" "$CONNECTIONS"
    start_server "$backend" "$DB_URL"
    RESULT["$backend.rss_start"]="$(rss_mib VmRSS)"
    local tokens="$WORK_DIR/$backend.tokens"
    login_chains "$CONNECTIONS" "$tokens"
    RESULT["$backend.rss_after_logins"]="$(rss_mib VmHWM)"
    local bearer="Authorization: Bearer $ACCESS_TOKEN"
    local get=(-t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" -s "$LUA_DIR/report.lua")

    local round ratios=() floor_ratios=() user_ratios=() user_floor
    for round in $(seq 1 "$PAIR_ROUNDS"); do
        run_wrk "$backend.plain.$round" "${get[@]}" "$SERVER_URL/bench/plain/"
        run_wrk "$backend.authenticated.$round" "${get[@]}" -H "$bearer" \
            "$SERVER_URL/bench/authenticated/"
        run_wrk "$backend.floor.$round" "${get[@]}" -H "$bearer" "$SERVER_URL/bench/floor/"
        BENCH_ACCESS_TOKENS="$tokens.access" run_wrk "$backend.user.$round" -t "$THREADS" \
            -c "$CONNECTIONS" -d "$DURATION" -s "$LUA_DIR/users.lua" "$SERVER_URL/user/"
        floor_ratios+=("$(calc "$(result "$backend.authenticated.$round" rps) / $(result "$backend.floor.$round" rps)")")
        ratios+=("$(calc "$(result "$backend.authenticated.$round" rps) / $(result "$backend.plain.$round" rps)") $round")
        if [[ "$backend" == postgres ]]; then
            run_pgbench_user_by_id "$backend.pgbench_user.$round" "$CONNECTIONS" "$DB_URL"
            user_floor="$(calc "1 / (1 / $(result "$backend.plain.$round" rps) + 1 / $(result "$backend.pgbench_user.$round" rps))")"
            RESULT["$backend.user_floor.$round"]=$user_floor
            user_ratios+=("$(calc "$(result "$backend.user.$round" rps) / $user_floor") $round")
        fi
    done
    round="$(median_round "${ratios[@]}")"
    copy_result "$backend.plain.$round" "$backend.plain"
    copy_result "$backend.authenticated.$round" "$backend.authenticated"
    copy_result "$backend.floor.$round" "$backend.floor"
    RESULT["$backend.floor_ratios"]="$(printf '%s\n' "${floor_ratios[@]}" | sort -n | paste -sd ' ')"
    RESULT["$backend.pair_ratios"]="$(printf '%s\n' "${ratios[@]}" | cut -d ' ' -f 1 | sort -n | paste -sd ' ')"
    if [[ "$backend" == postgres ]]; then
        # /user/ of the round with the median ratio to its floor, and that round's floor.
        round="$(median_round "${user_ratios[@]}")"
        RESULT["$backend.user_ratios"]="$(printf '%s\n' "${user_ratios[@]}" | cut -d ' ' -f 1 | sort -n | paste -sd ' ')"
        RESULT["$backend.user_plain"]="$(result "$backend.plain.$round" rps)"
        RESULT["$backend.user_floor"]=${RESULT["$backend.user_floor.$round"]}
        copy_result "$backend.pgbench_user.$round" "$backend.pgbench_user"
        RESULT["$backend.pgbench_user.latency_ms"]="$(result "$backend.pgbench_user.$round" latency_ms)"
    fi
    copy_result "$backend.user.$round" "$backend.user"
    run_wrk "$backend.health" "${get[@]}" "$SERVER_URL/health/"
    BENCH_TOKENS="$tokens" run_wrk "$backend.refresh" -t "$CONNECTIONS" -c "$CONNECTIONS" \
        -d "$DURATION" -s "$LUA_DIR/refresh.lua" "$SERVER_URL/refresh/"
    RESULT["$backend.rss_before_login"]="$(rss_mib VmHWM)"
    run_wrk "$backend.login" -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --timeout 30s \
        -s "$LUA_DIR/login.lua" "$SERVER_URL/login/"
    RESULT["$backend.rss_peak"]="$(rss_mib VmHWM)"
    log "$backend: RSS ${RESULT["$backend.rss_start"]} MiB at start; peak ${RESULT["$backend.rss_after_logins"]} MiB after $CONNECTIONS logins, ${RESULT["$backend.rss_before_login"]} MiB before the /login/ case, ${RESULT["$backend.rss_peak"]} MiB at the end"
    stop_server
}

# `median_round "RATIO ROUND"...`: the round whose ratio is the median (the lower
# middle one of an even count).
median_round() {
    printf '%s\n' "$@" | sort -n | awk -v n="$#" 'NR == int((n + 1) / 2) { print $2 }'
}

# `case_row BACKEND CASE LABEL [FIGURE TARGET RESULT]`: a wrk case's row.
case_row() {
    local name="$1.$2"
    row "$1" "$3" "$(result "$name" rps)" "$(result "$name" p50_ms)" "$(result "$name" p99_ms)" \
        "$(errors "$name")" "${4:-}" "${5:-}" "${6:-}"
}

print_table() {
    local backend ratio
    print_run_header "HTTP benchmark (bench/http.sh)"
    row backend case "req/s" "p50 ms" "p99 ms" errors figure target result
    row --- --- ---: ---: ---: ---: ---: --- ---
    for backend in $BACKENDS; do
        case_row "$backend" plain "GET /bench/plain/"
        ratio="$(calc "$(result "$backend.authenticated" rps) / $(result "$backend.plain" rps)")"
        case_row "$backend" authenticated "GET /bench/authenticated/" \
            "$ratio × plain (median of $PAIR_ROUNDS: ${RESULT["$backend.pair_ratios"]})" \
            "≥ $AUTH_RATIO_MIN × plain" "$(pass_fail at_least "$ratio" "$AUTH_RATIO_MIN")"
        ratio="$(calc "$(result "$backend.floor" rps) / $(result "$backend.plain" rps)")"
        case_row "$backend" floor "GET /bench/floor/ (hand-written HS256 check)" \
            "$ratio × plain; authenticated ÷ floor $(calc "$(result "$backend.authenticated" rps) / $(result "$backend.floor" rps)") (all rounds: ${RESULT["$backend.floor_ratios"]})"
        case_row "$backend" health "GET /health/ (middleware)"
        if [[ "$backend" == postgres ]]; then
            ratio="$(calc "$(result postgres.user rps) / ${RESULT[postgres.user_floor]}")"
            case_row postgres user "GET /user/" \
                "$ratio × floor $(printf '%.1f' "${RESULT[postgres.user_floor]}") = 1 / (1/plain + 1/pgbench) with plain ${RESULT[postgres.user_plain]} of its round (median of $PAIR_ROUNDS: ${RESULT[postgres.user_ratios]})" \
                "≥ $USER_FLOOR_RATIO_MIN × floor" "$(pass_fail at_least "$ratio" "$USER_FLOOR_RATIO_MIN")"
            row postgres "pgbench user by id (bench/sql/user_by_id.sql)" \
                "$(result postgres.pgbench_user rps)" \
                "$(result postgres.pgbench_user latency_ms) (mean)" "" "$(errors postgres.pgbench_user)" \
                "" "" ""
        else
            case_row "$backend" user "GET /user/" "no pgbench floor on SQLite"
        fi
        if [[ "$backend" == postgres ]]; then
            ratio="$(calc "$(result postgres.refresh rps) / $(result postgres.pgbench rps)")"
            case_row postgres refresh "POST /refresh/ (chained)" "$ratio × pgbench" \
                "≥ $PG_REFRESH_RATIO_MIN × pgbench" "$(pass_fail at_least "$ratio" "$PG_REFRESH_RATIO_MIN")"
            row postgres "pgbench rotation SQL" "$(result postgres.pgbench rps)" \
                "$(result postgres.pgbench latency_ms) (mean)" "" "$(errors postgres.pgbench)" \
                "$(result postgres.pgbench rotated) rotations" "" ""
        else
            local rps
            rps="$(result "$backend.refresh" rps)"
            case_row "$backend" refresh "POST /refresh/ (chained)" "$rps/s" \
                "≥ $SQLITE_REFRESH_MIN/s" "$(pass_fail at_least "$rps" "$SQLITE_REFRESH_MIN")"
        fi
        case_row "$backend" login "POST /login/"
        row "$backend" "server peak RSS (VmHWM)" "" "" "" "" \
            "${RESULT["$backend.rss_peak"]} MiB (start ${RESULT["$backend.rss_start"]}, after $CONNECTIONS logins ${RESULT["$backend.rss_after_logins"]}, before /login/ case ${RESULT["$backend.rss_before_login"]})" \
            "< $PEAK_RSS_MAX_MIB MiB" \
            "$(pass_fail at_least "$(calc "$PEAK_RSS_MAX_MIB - ${RESULT["$backend.rss_peak"]}")" 0.001)"
    done
    row all "error responses and socket errors, all runs" "" "" "" "$TOTAL_ERRORS" "" 0 \
        "$(pass_fail test "$TOTAL_ERRORS" -eq 0)"
}

main() {
    local need_postgres=""
    [[ " $BACKENDS " == *" postgres "* ]] && need_postgres=postgres
    ensure_tools $need_postgres
    build_release
    local backend
    for backend in $BACKENDS; do
        log "=== $backend ==="
        bench_backend "$backend"
        if [[ "$backend" == postgres ]]; then
            run_pgbench_rotation postgres.pgbench "$CONNECTIONS"
        fi
    done
    print_table
}

main "$@"
