#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ with libFuzzer, each for a given time.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS defaults to 60 per target; the targets default to all of fuzz/fuzz_targets/.
# Builds every target once, then runs each with its seeds (fuzz/corpus/TARGET, never
# written to) and its dictionary (fuzz/dict/), growing a corpus in fuzz/run/corpus/TARGET
# (ignored by git, kept between runs). Prints one summary line per target and exits
# non-zero if any target crashed, panicked, took more than FUZZ_TIMEOUT seconds on one
# input or ran out of memory; the input is saved in fuzz/artifacts/TARGET/ and the end of
# the log (fuzz/run/TARGET.log) is printed. Reproduce with:
#   fuzz/target/x86_64-unknown-linux-gnu/release/TARGET fuzz/artifacts/TARGET/crash-...
#
# fuzz/ is a cargo-fuzz project (`cargo +nightly fuzz run TARGET` works where cargo-fuzz
# is installed), but this script needs only the nightly toolchain: it builds with
# `cargo +nightly build` and the flags cargo-fuzz 0.13 passes (libFuzzer comes from the
# libfuzzer-sys crate). Installing cargo-fuzz costs about a minute of CPU, which CI's
# five-minute fuzz budget cannot spare.
#
# Environment:
#   FUZZ_SANITIZER   none (default: the project's crates forbid unsafe code, and without
#                    a sanitizer the build and the runs are about twice as fast) or
#                    address (AddressSanitizer, for the dependencies' unsafe code).
#   FUZZ_OPT_LEVEL   3 (default, as cargo-fuzz: one codegen unit) or 1 (CI: about a
#                    third less build time, runs two to three times slower).
#   FUZZ_TIMEOUT     seconds one input may take before it counts as a failure (10).
#   CARGO_TARGET_DIR where to build (fuzz/target by default, as cargo-fuzz).
set -euo pipefail

seconds="${1:-60}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz="$root/fuzz"
sanitizer="${FUZZ_SANITIZER:-none}"
opt_level="${FUZZ_OPT_LEVEL:-3}"
timeout="${FUZZ_TIMEOUT:-10}"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for file in "$fuzz"/fuzz_targets/*.rs; do
    targets+=("$(basename "$file" .rs)")
  done
fi
for target in "${targets[@]}"; do
  if [ ! -f "$fuzz/fuzz_targets/$target.rs" ]; then
    echo "unknown fuzz target: $target" >&2
    exit 2
  fi
done

triple="x86_64-unknown-linux-gnu"
target_dir="${CARGO_TARGET_DIR:-$fuzz/target}"
# cargo-fuzz 0.13's flags: SanitizerCoverage with inline 8-bit counters, PC table,
# comparison tracing and stack depth, `cfg(fuzzing)`, no branch folding; plus debug
# assertions and overflow checks (its `-a`), so that an arithmetic overflow is a finding.
rustflags="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cllvm-args=-sanitizer-coverage-stack-depth \
 -Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
 --cfg fuzzing -Cdebug-assertions"
case "$sanitizer" in
  none) ;;
  address)
    rustflags="$rustflags -Zsanitizer=address"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0"
    ;;
  *)
    echo "FUZZ_SANITIZER must be none or address" >&2
    exit 2
    ;;
esac
case "$opt_level" in
  # ThinLTO imports nothing across the sancov-instrumented codegen units otherwise.
  3) rustflags="$rustflags -Ccodegen-units=1" ;;
  1) ;;
  *)
    echo "FUZZ_OPT_LEVEL must be 3 or 1" >&2
    exit 2
    ;;
esac

echo "building the fuzz targets (sanitizer: $sanitizer, opt-level: $opt_level)"
# --target keeps the flags off build scripts and proc macros, as cargo-fuzz does. Not
# --locked: a dependency added to the crates under test is resolved into fuzz/Cargo.lock
# here (the other entries stay as they are; commit the change).
RUSTFLAGS="$rustflags" cargo +nightly build --quiet --release --bins \
  --manifest-path "$fuzz/Cargo.toml" --target "$triple" --target-dir "$target_dir" \
  --config 'profile.release.debug="line-tables-only"' \
  --config "profile.release.opt-level=$opt_level"

# The dictionary of a target; auth_headers also gets the JWT words.
dictionary() {
  case "$1" in
    token_decode | token_signed) echo "$fuzz/dict/jwt.dict" ;;
    auth_headers)
      cat "$fuzz/dict/auth_headers.dict" "$fuzz/dict/jwt.dict" >"$fuzz/run/auth_headers.dict"
      echo "$fuzz/run/auth_headers.dict"
      ;;
    *) echo "$fuzz/dict/$1.dict" ;;
  esac
}

# The value of `stat::NAME` in libFuzzer's final statistics.
stat() {
  sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

bin_dir="$target_dir/$triple/release"
failed=0
for target in "${targets[@]}"; do
  corpus="$fuzz/run/corpus/$target"
  artifacts="$fuzz/artifacts/$target"
  log="$fuzz/run/$target.log"
  mkdir -p "$corpus" "$artifacts"
  dict="$(dictionary "$target")"
  status=0
  "$bin_dir/$target" "$corpus" "$fuzz/corpus/$target" \
    -dict="$dict" \
    -max_total_time="$seconds" \
    -timeout="$timeout" \
    -artifact_prefix="$artifacts/" \
    -print_final_stats=1 \
    >"$log" 2>&1 || status=$?

  runs="$(stat number_of_executed_units "$log")"
  per_second="$(stat average_exec_per_sec "$log")"
  # The last status line: "#N  DONE  cov: C ft: F corp: U/S ..." (or the line of a crash).
  last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")"
  if [ "$status" -eq 0 ]; then
    crashes=0
  else
    crashes=1
    failed=$((failed + 1))
  fi
  printf '%-13s %6ss  runs: %-10s exec/s: %-7s cov: %-5s ft: %-6s corpus: %-12s crashes: %s\n' \
    "$target" "$seconds" "${runs:-?}" "${per_second:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
  if [ "$status" -ne 0 ]; then
    echo "---- $target failed (exit $status); end of $log:"
    tail -n 40 "$log"
    echo "---- saved inputs: $(ls "$artifacts" 2>/dev/null | tr '\n' ' ')"
  fi
done

echo "fuzz: ${#targets[@]} target(s), ${seconds}s each, targets with a crash: $failed/${#targets[@]}"
[ "$failed" -eq 0 ]
