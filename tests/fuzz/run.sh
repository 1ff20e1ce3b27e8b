#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo-fuzz (libFuzzer) of the header parsers and
# snapshot restore. `npm test` runs each target for a few seconds
# (`tests/fuzz/run.sh 10`), `npm run fuzz` for longer (default 300 s each).
#
# Only the stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets it accept the
# nightly flags cargo-fuzz passes (-Zsanitizer, coverage passes), and
# libfuzzer-sys builds libFuzzer from its C++ sources with the system g++.
# No sanitizer: the crate forbids unsafe code, so ASan would find nothing the
# panics do not; debug assertions (-a) are on, so an overflow is a crash.
#
# New inputs a run finds go to a scratch directory, not into the seed corpus
# tests/fuzz/corpus/<target>/; a crash is saved in tests/fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-300}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz (a few minutes)"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in headers snapshot; do
  mkdir -p "$scratch/$target"
  echo "fuzz: $target for ${secs} s"
  status=0
  nice cargo fuzz run --fuzz-dir tests/fuzz -s none -a "$target" "$scratch/$target" "tests/fuzz/corpus/$target" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 > "$scratch/$target.log" 2>&1 || status=$?
  # libFuzzer's progress lines are left out; its statistics and any crash are shown.
  grep -E '^(stat::number_of_executed_units|stat::new_units_added|==|Test unit|SUMMARY|Done)|panicked|^error|^Error' "$scratch/$target.log" || true
  if [ "$status" != 0 ]; then
    grep -A12 panicked "$scratch/$target.log" | head -20 || true
    echo "fuzz: $target failed (status $status): the input is in tests/fuzz/artifacts/$target/"
    exit 1
  fi
done
