# shellcheck shell=bash
# The PostgreSQL references (sourced): pgbench running the minimal rotation SQL
# (bench/sql/rotation.sql) in a database of its own, for /refresh/, and the primary-key
# read of a user (bench/sql/user_by_id.sql) in the benchmark's database, for /user/.

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

# `run_pgbench_user_by_id NAME CLIENTS URL`: pgbench reading users by primary key
# (bench/sql/user_by_id.sql) in the database URL, which holds the benchmark's users, for
# DURATION with CLIENTS clients and THREADS threads, `-M prepared`; records
# RESULT[NAME.rps] (transactions, i.e. reads, per second) and RESULT[NAME.latency_ms].
run_pgbench_user_by_id() {
    local name=$1 clients=$2 url=$3
    local output="$WORK_DIR/$name.pgbench.txt" first_id users tps latency
    read -r first_id users < <(psql -q -X -At -F ' ' "$url" \
        -c 'SELECT min(id), count(*) FROM jwt_allauth_users')
    [[ "$users" -gt 0 ]] || die "no users to read in $url"
    "$PGBENCH" -n -M prepared -D first_id="$first_id" -D users="$users" -c "$clients" \
        -j "$THREADS" -T "$(seconds "$DURATION")" -f "$SQL_DIR/user_by_id.sql" "$url" \
        >"$output" 2>&1 || { cat "$output" >&2; die "pgbench failed"; }
    tps="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$output" | tail -n 1)"
    latency="$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$output")"
    [[ -n "$tps" ]] || { cat "$output" >&2; die "no pgbench result"; }
    RESULT["$name.rps"]=$(printf '%.1f' "$tps")
    RESULT["$name.latency_ms"]=$latency
    RESULT["$name.status_errors"]=0
    log "$name: $tps reads/s, average latency $latency ms"
}
