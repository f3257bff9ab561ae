# shellcheck shell=bash
# The PostgreSQL reference of the /refresh/ benchmark (sourced): pgbench running the
# minimal rotation SQL (bench/sql/rotation.sql) in a database of its own.

# `run_pgbench_rotation NAME CLIENTS`: seeds a fresh database (one user and one session
# per client), runs pgbench for DURATION with CLIENTS clients and THREADS threads, checks
# that every transaction rotated its session once, and records RESULT[NAME.rps]
# (transactions per second), RESULT[NAME.latency_ms] (average) and
# RESULT[NAME.rotated] (rows rotated, from the jtis).
run_pgbench_rotation() {
    local name=$1 clients=$2
    local output="$WORK_DIR/$name.pgbench.txt"
    new_database postgres pgbench
    apply_schema_postgres "$DB_URL"
    psql -q -X -v ON_ERROR_STOP=1 -v clients="$clients" -f "$SQL_DIR/rotation_seed.sql" \
        "$DB_URL" >/dev/null
    "$PGBENCH" -n -M prepared -D n=0 -c "$clients" -j "$THREADS" -T "$(seconds "$DURATION")" \
        -f "$SQL_DIR/rotation.sql" "$DB_URL" >"$output" 2>&1 ||
        { cat "$output" >&2; die "pgbench failed"; }
    local transactions tps latency rotated
    transactions="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$output")"
    tps="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$output" | tail -n 1)"
    latency="$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$output")"
    rotated="$(psql -q -X -At "$DB_URL" -c "SELECT sum(jti::bigint
        - substr(session, 9)::bigint * 1000000000) FROM jwt_allauth_sessions
        WHERE session LIKE 'pgbench-%'")"
    [[ -n "$transactions" && -n "$tps" ]] || { cat "$output" >&2; die "no pgbench result"; }
    RESULT["$name.rps"]=$(printf '%.1f' "$tps")
    RESULT["$name.latency_ms"]=$latency
    RESULT["$name.transactions"]=$transactions
    RESULT["$name.rotated"]=$rotated
    if [[ "$rotated" != "$transactions" ]]; then
        RESULT["$name.status_errors"]=$(( transactions > rotated ? transactions - rotated : rotated - transactions ))
        TOTAL_ERRORS=$(( TOTAL_ERRORS + ${RESULT["$name.status_errors"]} ))
        log "warning: pgbench reported $transactions transactions but $rotated rotations happened"
    fi
    log "$name: $tps tps, average latency $latency ms, $rotated of $transactions transactions rotated their session"
}
