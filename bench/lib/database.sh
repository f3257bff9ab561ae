# shellcheck shell=bash
# Direct database work (sourced): the schema for pgbench, bulk seeding of sessions and
# settling a database after a bulk write. Never through HTTP.

# `sqlite_file URL`: the file of a sqlite:// URL.
sqlite_file() { local file=${1#sqlite://}; echo "${file%%\?*}"; }

# `apply_schema_postgres URL`: the library's and the server's migrations, applied with
# psql (for a database the server never opens: pgbench's).
apply_schema_postgres() {
    psql -q -X -v ON_ERROR_STOP=1 "$1" \
        -f "$ROOT_DIR/crates/jwt-allauth-sqlx/migrations/postgres/0001_init.sql" \
        -f "$ROOT_DIR/server/migrations/postgres/0001_users.sql" >/dev/null
}

# `seed_sessions BACKEND URL FIRST COUNT EXPIRED`: COUNT session rows of other users,
# numbered from FIRST, expired when EXPIRED is 1 (bench/sql/seed_sessions_*.sql).
seed_sessions() {
    local backend=$1 url=$2 first=$3 count=$4 expired=$5
    case "$backend" in
        postgres)
            psql -q -X -v ON_ERROR_STOP=1 -v first="$first" -v count="$count" \
                -v expired="$expired" -f "$SQL_DIR/seed_sessions_postgres.sql" "$url" >/dev/null
            ;;
        sqlite)
            sqlite3 -bail -cmd ".parameter set :first $first" \
                -cmd ".parameter set :count $count" -cmd ".parameter set :expired $expired" \
                "$(sqlite_file "$url")" <"$SQL_DIR/seed_sessions_sqlite.sql" >/dev/null
            ;;
    esac
}

# `settle_database BACKEND URL`: after a bulk write, what a quiet production database
# would have done by itself before the load comes: statistics, visibility map and a
# checkpoint on PostgreSQL; a WAL checkpoint on SQLite.
settle_database() {
    case "$1" in
        postgres)
            psql -q -X -v ON_ERROR_STOP=1 "$2" -c 'VACUUM ANALYZE jwt_allauth_sessions' \
                -c 'CHECKPOINT' >/dev/null
            ;;
        sqlite)
            sqlite3 -bail "$(sqlite_file "$2")" '.timeout 30000' \
                'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
            ;;
    esac
}

# `count_sessions BACKEND URL`: rows of the session table.
count_sessions() {
    local sql='SELECT count(*) FROM jwt_allauth_sessions'
    case "$1" in
        postgres) psql -q -X -At "$2" -c "$sql" ;;
        sqlite) sqlite3 "$(sqlite_file "$2")" '.timeout 30000' "$sql;" ;;
    esac
}
