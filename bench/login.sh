#!/usr/bin/env bash
# Login under load (issue 5, item 5): argon2id work must not block the async runtime, and
# its concurrency must be bounded.
#
#   bench/login.sh                      # SQLite, DURATION=10s
#   DURATION=2s LOGIN_BACKEND=postgres bench/login.sh
#
# On a fresh database and benchmark server, a probe (wrk, one connection) measures
# GET PROBE_PATH (default /bench/authenticated/: token verification on the runtime, no
# database) twice for DURATION: idle, then while LOGINS connections (default 50) keep
# POST /login/ requests in flight (a second wrk). Meanwhile the server's thread count
# and resident memory are sampled every 0.1 s: each argon2id verification runs on a
# blocking thread with ≈ 19 MiB of its own, so the peaks show how many ran at once.
#
# Pass: the probe's p99 under load stays below one argon2id verification (the login
# p50 at one connection, measured first): a runtime thread stuck in argon2 would hold
# a probe request at least that long. The concurrency bound is reported, not judged: the
# server allows one verification per core (server/src/passwords.rs).

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
# shellcheck source=bench/lib/report.sh
source "$here/lib/report.sh"

LOGIN_BACKEND="${LOGIN_BACKEND:-sqlite}"
LOGINS="${LOGINS:-50}"
PROBE_PATH="${PROBE_PATH:-/bench/authenticated/}"

# `sample_server FILE`: appends "threads rss_mib" every 0.1 s until killed.
sample_server() {
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        echo "$(thread_count "$SERVER_PID") $(rss_mib VmRSS)" >>"$1" 2>/dev/null || true
        sleep 0.1
    done
}

main() {
    if [[ "$LOGIN_BACKEND" == postgres ]]; then
        ensure_tools postgres
    else
        ensure_tools
    fi
    build_release
    new_database "$LOGIN_BACKEND" login
    create_users "$DB_URL" 5
    start_server "$LOGIN_BACKEND" "$DB_URL"
    login 1
    local bearer="Authorization: Bearer $ACCESS_TOKEN"
    local probe=(-t 1 -c 1 -d "$DURATION" -s "$LUA_DIR/report.lua" -H "$bearer" "$SERVER_URL$PROBE_PATH")
    local idle_threads idle_rss
    idle_threads="$(thread_count "$SERVER_PID")"
    idle_rss="$(rss_mib VmRSS)"

    run_wrk login.single -t 1 -c 1 -d "$DURATION" --timeout 30s -s "$LUA_DIR/login.lua" \
        "$SERVER_URL/login/"
    run_wrk probe.idle "${probe[@]}"

    local samples="$WORK_DIR/samples.txt" sampler logins_pid
    : >"$samples"
    sample_server "$samples" &
    sampler=$!
    track_pid "$sampler"
    local load_seconds=$(( $(seconds "$DURATION") + 3 ))
    wrk --latency -t "$THREADS" -c "$LOGINS" -d "${load_seconds}s" --timeout 60s \
        -s "$LUA_DIR/login.lua" "$SERVER_URL/login/" >"$WORK_DIR/login.load.wrk.txt" 2>&1 &
    logins_pid=$!
    track_pid "$logins_pid"
    sleep 1.5
    run_wrk probe.loaded "${probe[@]}"
    wait "$logins_pid" || die "the login load failed"
    record_result login.load "$WORK_DIR/login.load.wrk.txt"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    local max_threads max_rss
    max_threads="$(awk 'BEGIN { m = 0 } $1 > m { m = $1 } END { print m }' "$samples")"
    max_rss="$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$samples")"
    local peak_rss
    peak_rss="$(rss_mib VmHWM)"
    stop_server

    local argon_ms
    argon_ms="$(result login.single p50_ms)"
    print_run_header "Login under load (bench/login.sh, $LOGIN_BACKEND)"
    row case "req/s" "p50 ms" "p99 ms" errors figure target result
    row --- ---: ---: ---: ---: ---: --- ---
    row "POST /login/, 1 connection (one verification)" "$(result login.single rps)" \
        "$(result login.single p50_ms)" "$(result login.single p99_ms)" "$(errors login.single)" "" "" ""
    row "GET $PROBE_PATH idle, 1 connection" "$(result probe.idle rps)" \
        "$(result probe.idle p50_ms)" "$(result probe.idle p99_ms)" "$(errors probe.idle)" "" "" ""
    row "GET $PROBE_PATH during $LOGINS logins, 1 connection" "$(result probe.loaded rps)" \
        "$(result probe.loaded p50_ms)" "$(result probe.loaded p99_ms)" "$(errors probe.loaded)" \
        "p99 $(calc "$(result probe.loaded p99_ms) / $(result probe.idle p99_ms)") × idle" \
        "p99 < $argon_ms ms (one verification)" \
        "$(pass_fail at_least "$argon_ms" "$(result probe.loaded p99_ms)")"
    row "POST /login/, $LOGINS connections" "$(result login.load rps)" \
        "$(result login.load p50_ms)" "$(result login.load p99_ms)" "$(errors login.load)" "" "" ""
    row "server threads (idle → max under load)" "" "" "" "" "$idle_threads → $max_threads" \
        "bounded ($(nproc) verifications at a time)" ""
    row "server RSS MiB (idle → max sampled, peak)" "" "" "" "" "$idle_rss → $max_rss, $peak_rss" "" ""
}

main "$@"
