#!/usr/bin/env bash
# Scale of cost (issue 5, item 3): rotation latency as the session table grows, and a
# purge of a million expired rows under rotation load. PostgreSQL and SQLite.
#
#   bench/scale.sh                          # both backends, DURATION=10s per size
#   DURATION=2s SCALE_BACKENDS=postgres bench/scale.sh
#
# For each backend: a fresh database, CONNECTIONS users, the benchmark server and
# CONNECTIONS refresh chains (bench/lua/refresh.lua, one wrk thread and connection each).
# The session table is filled with sessions of other users by bulk SQL
# (bench/sql/seed_sessions_*.sql, never through HTTP) up to each of SCALE_SIZES
# (default 1000 100000 1000000 rows), then the chains rotate for DURATION.
#
# Purge: PURGE_ROWS (default 1000000) expired rows are added, the chains rotate with every
# request's latency traced, and after DURATION of that `jwt-allauth purge` runs; the
# latency of the rotations that started while it ran is compared with the DURATION
# before it. The purge deletes in batches of the store's size (PURGE_BATCH_SIZE: 1,000
# rows on PostgreSQL; 50 on SQLite, which pauses after each full batch for as long as it
# took, at least 10 ms), each its own statement.
#
# Targets: rotation p99 at every size within ±20 % of its p99 at the smallest size;
# during the purge, rotation p99 under 2 × its p99 before.

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
# shellcheck source=bench/lib/report.sh
source "$here/lib/report.sh"

SCALE_BACKENDS="${SCALE_BACKENDS:-postgres sqlite}"
SCALE_SIZES="${SCALE_SIZES:-1000 100000 1000000}"
PURGE_ROWS="${PURGE_ROWS:-1000000}"
P99_SPREAD_MAX=0.2
PURGE_P99_RATIO_MAX=2
declare -A PURGE_BATCH_SIZE=([postgres]=1000 [sqlite]=50)

# `record_trace NAME FROM_US TO_US TRACE`: the traced rotations that started in
# [FROM_US, TO_US), as RESULT[NAME.count|rps|p50_ms|p99_ms|status_errors].
record_trace() {
    local name=$1 stats key index=0
    read -r -a stats < <(trace_stats "$2" "$3" "$4".*)
    for key in count rps p50_ms p99_ms status_errors; do
        RESULT["$name.$key"]=${stats[index]}
        index=$(( index + 1 ))
    done
}

# `scale_backend BACKEND`: the sizes, then the purge.
scale_backend() {
    local backend=$1
    new_database "$backend" scale
    create_users "$DB_URL" "$CONNECTIONS"
    start_server "$backend" "$DB_URL"
    local tokens="$WORK_DIR/$backend.tokens"
    local chains=(-t "$CONNECTIONS" -c "$CONNECTIONS" -s "$LUA_DIR/refresh.lua")

    local seeded=0 size
    for size in $SCALE_SIZES; do
        log "$backend: seeding sessions up to $size rows"
        seed_sessions "$backend" "$DB_URL" $(( seeded + 1 )) $(( size - seeded )) 0
        seeded=$size
        settle_database "$backend" "$DB_URL"
        login_chains "$CONNECTIONS" "$tokens"
        RESULT["$backend.size$size.rows"]="$(count_sessions "$backend" "$DB_URL")"
        BENCH_TOKENS="$tokens" run_wrk "$backend.size$size" "${chains[@]}" -d "$DURATION" \
            "$SERVER_URL/refresh/"
    done

    log "$backend: seeding $PURGE_ROWS expired sessions"
    seed_sessions "$backend" "$DB_URL" $(( seeded + 1 )) "$PURGE_ROWS" 1
    settle_database "$backend" "$DB_URL"
    login_chains "$CONNECTIONS" "$tokens"
    local trace="$WORK_DIR/$backend.trace" load_pid
    BENCH_TOKENS="$tokens" BENCH_TRACE="$trace" wrk --latency "${chains[@]}" -d 3600s \
        "$SERVER_URL/refresh/" >"$WORK_DIR/$backend.purge.wrk.txt" 2>&1 &
    load_pid=$!
    track_pid "$load_pid"
    local before_start purge_start purge_end
    sleep 1
    before_start=$(now_us)
    sleep "$(seconds "$DURATION")"
    purge_start=$(now_us)
    "$JWT_ALLAUTH_BIN" purge --database-url "$DB_URL" >"$WORK_DIR/$backend.purge.txt" \
        2>"$WORK_DIR/$backend.purge.log" ||
        { cat "$WORK_DIR/$backend.purge.log" >&2; die "purge failed"; }
    purge_end=$(now_us)
    sleep 1
    kill -INT "$load_pid" 2>/dev/null || true
    wait "$load_pid" || true
    record_result "$backend.purge_load" "$WORK_DIR/$backend.purge.wrk.txt"
    RESULT["$backend.purge.output"]="$(head -n 1 "$WORK_DIR/$backend.purge.txt")"
    RESULT["$backend.purge.seconds"]="$(calc "($purge_end - $purge_start) / 1e6")"
    record_trace "$backend.before" "$before_start" "$purge_start" "$trace"
    record_trace "$backend.during" "$purge_start" "$purge_end" "$trace"
    log "$backend: ${RESULT["$backend.purge.output"]} in ${RESULT["$backend.purge.seconds"]} s; rotation p99 ${RESULT["$backend.before.p99_ms"]} ms before, ${RESULT["$backend.during.p99_ms"]} ms during"
    stop_server
}

print_tables() {
    local backend size first_p99 p99 spread purge_rows ratio
    print_run_header "Scale of cost (bench/scale.sh)"
    row backend "session rows" "rotations/s" "p50 ms" "p99 ms" errors "p99 vs smallest" target result
    row --- ---: ---: ---: ---: ---: ---: --- ---
    for backend in $SCALE_BACKENDS; do
        first_p99=""
        for size in $SCALE_SIZES; do
            p99="$(result "$backend.size$size" p99_ms)"
            [[ -n "$first_p99" ]] || first_p99=$p99
            spread="$(calc "$p99 / $first_p99 - 1")"
            row "$backend" "$(result "$backend.size$size" rows)" "$(result "$backend.size$size" rps)" \
                "$(result "$backend.size$size" p50_ms)" "$p99" "$(errors "$backend.size$size")" \
                "$(calc "$p99 / $first_p99") ×" "within ±20 %" \
                "$(pass_fail awk -v s="$spread" -v m="$P99_SPREAD_MAX" 'BEGIN { exit !(s <= m && s >= -m) }')"
        done
    done
    echo
    row backend purge "purge s" "rows per batch" "ms per batch, pause included (mean)" "rotations/s before → during" \
        "p50 ms before → during" "p99 ms before → during" "errors" "p99 during / before" target result
    row --- --- ---: ---: ---: ---: ---: ---: ---: ---: --- ---
    for backend in $SCALE_BACKENDS; do
        purge_rows="$(sed -n 's/^deleted \([0-9]*\) expired session.*/\1/p' <<<"$(result "$backend.purge" output)")"
        ratio="$(calc "$(result "$backend.during" p99_ms) / $(result "$backend.before" p99_ms)")"
        row "$backend" "$(result "$backend.purge" output)" "$(result "$backend.purge" seconds)" \
            "${PURGE_BATCH_SIZE[$backend]}" \
            "$(calc "1000 * $(result "$backend.purge" seconds) / (int(${purge_rows:-0} / ${PURGE_BATCH_SIZE[$backend]}) + 1)")" \
            "$(result "$backend.before" rps) → $(result "$backend.during" rps)" \
            "$(result "$backend.before" p50_ms) → $(result "$backend.during" p50_ms)" \
            "$(result "$backend.before" p99_ms) → $(result "$backend.during" p99_ms)" \
            "$(( $(result "$backend.before" status_errors) + $(result "$backend.during" status_errors) ))" \
            "$ratio" "< $PURGE_P99_RATIO_MAX" \
            "$(pass_fail at_least "$(calc "$PURGE_P99_RATIO_MAX - $ratio")" 0.001)"
    done
}

main() {
    local need_postgres=""
    [[ " $SCALE_BACKENDS " == *" postgres "* ]] && need_postgres=postgres
    ensure_tools $need_postgres
    build_release
    local backend
    for backend in $SCALE_BACKENDS; do
        log "=== $backend ==="
        scale_backend "$backend"
    done
    print_tables
}

main "$@"
