#!/usr/bin/env bash
# CI smoke: builds every cargo-fuzz target and runs each on its committed seed corpus
# (which holds every input that ever crashed a target) for a fixed number of runs from a
# fixed libFuzzer seed, sized to about 15 s each here, capped at SECONDS (default 90). A
# crash, a timeout, an allocation over the limits or a failed build fails the smoke
# (run.sh's exit status), and the crashing input is printed.
#
# Fixed seed and run count make the smoke replay the same mutations on every CI run, so a
# red smoke is a reproducible bug, not a lucky draw; finding new bugs is the job of the
# long runs (fuzz/run.sh TARGET SECONDS), whose crashes are pinned in the corpus and in
# core/tests/fuzz_regressions.
#
#   fuzz/smoke.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-90}
# Runs per target, about 15 s at the exec/s each reaches on a 2-core CI machine.
runs_for() {
    case "$1" in
        jute_request) echo 3000000 ;;
        jute_response) echo 2000000 ;;
        snapshot) echo 1000000 ;;
        peer_message) echo 800000 ;;
        wal_frame) echo 250000 ;;
        tree_ops) echo 100000 ;;
        sim_run) echo 200 ;;
        # Measured here from the committed corpus, seed 1: snapshot_file ~8300 exec/s,
        # wal_record ~7500, replica_inputs ~4000 (10-minute runs, bigger corpora: 1774,
        # 5452, 1621).
        snapshot_file) echo 110000 ;;
        wal_record) echo 100000 ;;
        replica_inputs) echo 55000 ;;
        *) echo 100000 ;;
    esac
}
targets=$(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' Cargo.toml | grep -v '^arbor-fuzz$')
log=$(mktemp)
for t in $targets; do
    runs=$(runs_for "$t")
    echo "--- fuzz smoke: $t ($runs runs from seed 1, at most ${seconds}s)"
    fresh=$(mktemp -d)
    if ! ARBOR_FUZZ_WORK="$fresh" ./run.sh "$t" "$seconds" -seed=1 -runs="$runs" >"$log" 2>&1; then
        # The panic message first: the input's Debug dump can push it out of the tail.
        grep -m 3 -A 12 "panicked at" "$log" >&2 || true
        tail -n 60 "$log" >&2
        echo "fuzz target $t failed; artifacts:" >&2
        ls -l "artifacts/$t" >&2 2>/dev/null || true
        exit 1
    fi
    grep -E "^#[0-9]+[[:space:]]+DONE|stat::average_exec_per_sec" "$log" || true
    rm -rf "$fresh"
done
rm -f "$log"
