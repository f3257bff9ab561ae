# shellcheck shell=bash
# wrk runs and their results (sourced).
#
# Every run uses a script that loads bench/lua/report.lua, whose `done` hook prints one
# `BENCH_RESULT key=value ...` line; `run_wrk` keeps wrk's whole output in the work
# directory and stores the values in RESULT["<name>.<key>"]: requests, seconds, rps,
# p50_ms, p99_ms, status_errors, socket_errors (and rotations, failures for refresh.lua).

declare -gA RESULT=()
# Error responses and socket errors of every run so far.
TOTAL_ERRORS=0

# `run_wrk NAME WRK_ARGS...`: runs `wrk --latency WRK_ARGS...` and records its result.
run_wrk() {
    local name=$1
    shift
    local output="$WORK_DIR/$name.wrk.txt"
    wrk --latency "$@" >"$output" 2>&1 || { cat "$output" >&2; die "wrk failed ($name)"; }
    record_result "$name" "$output"
    TOTAL_ERRORS=$(( TOTAL_ERRORS + $(errors "$name") ))
    log "$name: $(result "$name" rps) req/s, p50 $(result "$name" p50_ms) ms, p99 $(result "$name" p99_ms) ms, errors $(errors "$name")"
}

# `record_result NAME FILE`: stores the BENCH_RESULT line of FILE under NAME.
record_result() {
    local name=$1 line pair
    line="$(grep '^BENCH_RESULT ' "$2" | tail -n 1)" || die "no result in $2"
    for pair in ${line#BENCH_RESULT }; do
        RESULT["$name.${pair%%=*}"]="${pair#*=}"
    done
}

# `copy_result FROM TO`: the values recorded under FROM, also under TO.
copy_result() {
    local key
    for key in requests seconds rps p50_ms p99_ms status_errors socket_errors; do
        RESULT["$2.$key"]=${RESULT["$1.$key"]:-}
    done
}

# `result NAME KEY`: a recorded value ("" if none).
result() { echo "${RESULT["$1.$2"]:-}"; }

# `errors NAME`: error responses (status >= 400) or, when more, the failed rotations of
# a refresh run (any answer without a new token), plus socket errors.
errors() {
    local status=${RESULT["$1.status_errors"]:-0} failures=${RESULT["$1.failures"]:-0}
    ((failures > status)) && status=$failures
    echo $(( status + ${RESULT["$1.socket_errors"]:-0} ))
}

# `trace_stats FROM_US TO_US TRACE_FILES...`: the requests of refresh.lua traces that
# started in [FROM_US, TO_US): "count rps p50_ms p99_ms non_200".
trace_stats() {
    local from=$1 to=$2
    shift 2
    awk -v from="$from" -v to="$to" '$1 >= from && $1 < to { print $2, $3 }' "$@" |
        sort -n -k1,1 |
        awk -v span="$(( to - from ))" '
            { latency[NR] = $1; if ($2 != 200) bad++ }
            END {
                if (NR == 0) { print 0, 0, 0, 0, 0; exit }
                p50 = latency[int(NR * 0.50 + 0.999999)]
                p99 = latency[int(NR * 0.99 + 0.999999)]
                printf "%d %.1f %.3f %.3f %d\n", NR, NR / (span / 1e6), p50 / 1000, p99 / 1000, bad
            }'
}
