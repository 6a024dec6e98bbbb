#!/usr/bin/env bash
# CI smoke: builds every cargo-fuzz target and runs each for SECONDS (default 20) on its
# committed seed corpus. A crash, a timeout, an allocation over the limits or a failed
# build fails the smoke (run.sh's exit status), and the crashing input is printed.
#
#   fuzz/smoke.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
targets=$(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' Cargo.toml | grep -v '^arbor-fuzz$')
log=$(mktemp)
for t in $targets; do
    echo "--- fuzz smoke: $t (${seconds}s)"
    if ! ./run.sh "$t" "$seconds" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz target $t failed; artifacts:" >&2
        ls -l "artifacts/$t" >&2 2>/dev/null || true
        exit 1
    fi
    grep -E "^#[0-9]+[[:space:]]+DONE|stat::average_exec_per_sec" "$log" || true
done
rm -f "$log"
