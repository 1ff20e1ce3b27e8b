#!/usr/bin/env bash
# `npm run mutants`: mutation testing of the Rust core with cargo-mutants
# (config: .cargo/mutants.toml). Installs cargo-mutants on demand. Results in
# target/mutants/mutants.out (caught.txt, missed.txt, timeout.txt, unviable.txt).
# Extra arguments go to cargo mutants (e.g. `npm run mutants -- -f src/fixed.rs`).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! cargo mutants --version >/dev/null 2>&1; then
  echo "mutants: installing cargo-mutants (a few minutes)"
  cargo install cargo-mutants --locked --quiet
fi
# Few proptest cases: a mutant is nearly always caught by the first cases or a
# unit test, and each of a few hundred mutants runs the whole suite.
export PROPTEST_CASES=${PROPTEST_CASES:-32}
status=0
nice cargo mutants --output target/mutants --jobs "${MUTANTS_JOBS:-1}" "$@" || status=$?
out=target/mutants/mutants.out
if [ -f "$out/caught.txt" ] && [ -f "$out/outcomes.json" ]; then
  caught=$(wc -l < "$out/caught.txt"); missed=$(wc -l < "$out/missed.txt"); timeout=$(wc -l < "$out/timeout.txt")
  viable=$((caught + missed + timeout))
  echo "mutants: $caught caught, $timeout timed out, $missed missed of $viable viable" \
    "($(( (caught + timeout) * 100 / (viable > 0 ? viable : 1) ))% caught); survivors judged equivalent: tests/mutants/equivalent.md"
fi
# cargo mutants exits 2 when mutants were missed, 3 on timeouts only: the summary says which.
exit "$status"
