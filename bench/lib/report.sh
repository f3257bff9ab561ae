# shellcheck shell=bash
# The printed report (sourced): the machine and run description, and markdown rows.

# `print_run_header TITLE`: what ran where, as a markdown table.
print_run_header() {
    local cpu load commit
    cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    load="$(cut -d ' ' -f 1-3 /proc/loadavg)"
    commit="$(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    [[ -n "$(git -C "$ROOT_DIR" status --porcelain 2>/dev/null)" ]] && commit="$commit (modified)"
    cat <<EOF

## $1

| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| machine | $(nproc) cores, ${cpu:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) |
| load average (1, 5, 15 min) at the end | $load |
| commit | $commit |
| wrk | $(wrk --version 2>&1 | head -n 1 | cut -d ' ' -f 1-2) |
| knobs | DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS SERVER_LOG=$SERVER_LOG refresh token in the $BENCH_REFRESH_MODE |

EOF
}

# `row CELL...`: one markdown table row.
row() {
    local line="|" cell
    for cell in "$@"; do
        line+=" $cell |"
    done
    echo "$line"
}
