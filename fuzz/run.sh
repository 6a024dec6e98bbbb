#!/usr/bin/env bash
# Runs one cargo-fuzz target for a while on its corpus, on the stable toolchain.
#
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer args...]
#   fuzz/run.sh --list
#
# How it works on stable: `--sanitizer none` builds with libFuzzer's coverage
# instrumentation only (stable -C flags), so no nightly is needed. For AddressSanitizer,
# run with ARBOR_FUZZ_ASAN=1, which sets RUSTC_BOOTSTRAP=1 so stable accepts -Zsanitizer.
# cargo-fuzz is installed from crates.io if it is missing. New corpus entries go to
# fuzz/work/TARGET (git-ignored); the committed seeds in fuzz/corpus/TARGET (from
# fuzz/seed_corpus.py) are only read. Crashes go to fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz 0.13 (about 4 minutes)..." >&2
    cargo install cargo-fuzz --version '^0.13' --locked
fi

if [ "${1:-}" = "--list" ]; then
    cargo fuzz list
    exit 0
fi
target=${1:?usage: fuzz/run.sh TARGET SECONDS}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS}
shift 2

[ -d "corpus/$target" ] || python3 seed_corpus.py >/dev/null
# ARBOR_FUZZ_WORK overrides where new corpus entries go (the smoke uses a fresh directory
# so that it starts from the committed corpus alone).
work=${ARBOR_FUZZ_WORK:-work/$target}
mkdir -p "corpus/$target" "$work"

sanitizer=(--sanitizer none)
if [ "${ARBOR_FUZZ_ASAN:-0}" = 1 ]; then
    export RUSTC_BOOTSTRAP=1
    sanitizer=(--sanitizer address)
fi

# -rss_limit_mb / -malloc_limit_mb make an unbounded allocation a crash, not a slow run.
exec cargo fuzz run "${sanitizer[@]}" --release "$target" "$work" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
    -print_final_stats=1 "$@"
