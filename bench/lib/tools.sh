# shellcheck shell=bash disable=SC2034 # PGBENCH is for the scripts that source this
# The tools the benchmarks need (sourced): installed from Debian's packages when missing,
# and the release binaries built.

# `apt_install PACKAGE...`: installs with apt-get (as root, or through sudo).
apt_install() {
    local sudo=()
    [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    log "installing $* (apt-get)"
    "${sudo[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}

# `ensure_tools [postgres]`: wrk, curl, sqlite3, and for PostgreSQL psql and pgbench.
ensure_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v curl >/dev/null || missing+=(curl)
    command -v sqlite3 >/dev/null || missing+=(sqlite3)
    if [[ "${1:-}" == postgres ]]; then
        command -v psql >/dev/null || missing+=(postgresql-client)
    fi
    if ((${#missing[@]} > 0)); then
        apt_install "${missing[@]}"
    fi
    if [[ "${1:-}" == postgres ]]; then
        PGBENCH="$(find_pgbench)" ||
            die "pgbench not found: it ships with the PostgreSQL server package (postgresql-15)"
        psql -q -X "$BENCH_POSTGRES_URL" -c 'SELECT 1' >/dev/null ||
            die "cannot connect to PostgreSQL at BENCH_POSTGRES_URL=$BENCH_POSTGRES_URL"
    fi
}

# `find_pgbench`: the pgbench binary (Debian's wrapper needs a local cluster to pick a
# version, so the versioned binaries are tried too).
find_pgbench() {
    local candidate
    for candidate in /usr/lib/postgresql/*/bin/pgbench "$(command -v pgbench || true)"; do
        if [[ -x "$candidate" ]] && "$candidate" --version >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# `build_release`: the `jwt-allauth` binary and the benchmark server, release profile.
build_release() {
    if [[ "${SKIP_BUILD:-0}" == 1 ]]; then
        log "SKIP_BUILD=1: using the binaries in $TARGET_DIR/release"
    else
        log "building release binaries (cargo build --release -p jwt-allauth-server --examples --bins)"
        (cd "$ROOT_DIR" && cargo build --release -p jwt-allauth-server --examples --bins) >&2
    fi
    [[ -x "$JWT_ALLAUTH_BIN" && -x "$BENCH_SERVER_BIN" ]] ||
        die "missing $JWT_ALLAUTH_BIN or $BENCH_SERVER_BIN"
}
