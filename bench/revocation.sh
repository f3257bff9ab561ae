#!/usr/bin/env bash
# Revocation enforcement delay across instances (issue 14): three `jwt-allauth serve` on
# one PostgreSQL database; each trial logs in on one instance, ends the session through
# another (logout, DELETE /sessions/{id}/ or logout-all in turn), and polls the access
# token on all three until each refuses it. Prints the delay after the revoking request's
# 200: p50, p99 and max over 3 × REVOCATION_TRIALS samples (default 1,000 trials).
#
#   bench/revocation.sh
#   REVOCATION_TRIALS=100 bench/revocation.sh
#
# The same test runs in CI with 15 trials
# (server/tests/revocation.rs, three_instances_enforce_a_revocation_within_the_bound).

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export JWT_ALLAUTH_TEST_POSTGRES_URL="${JWT_ALLAUTH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export JWT_ALLAUTH_REQUIRE_POSTGRES=1
export REVOCATION_TRIALS="${REVOCATION_TRIALS:-1000}"
cargo test --release -p jwt-allauth-server --test revocation \
    three_instances_enforce_a_revocation_within_the_bound -- --nocapture 2>&1 |
    grep -E "enforcement delay|test result|panicked"
