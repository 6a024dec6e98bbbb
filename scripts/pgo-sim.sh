#!/usr/bin/env bash
# A profile-guided build of `arbor` for simulator sweeps: target/pgo/release/arbor.
#
# 1. builds an instrumented binary (target/pgo-gen), 2. trains it on simulator sweeps whose
# seeds (1000 and up) are disjoint from the ones the README's speed figures use (0..10),
# 3. merges the profile with the toolchain's own llvm-profdata (rustup's `llvm-tools`
# component: the profile format follows rustc's LLVM, so a distribution's llvm-profdata
# will not do), 4. rebuilds with the profile. Same source, same features, same behaviour
# (trace hashes are equal; `arbor sim --seed S` prints them): only code layout, inlining and
# branch decisions change.
#
# Only simulator code is trained, so untrained paths (the TCP server) are laid out as cold:
# serve and bench with the ordinary `cargo build --release` binary.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add llvm-tools >/dev/null 2>&1 || true
sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
[ -x "$profdata" ] || { echo "llvm-profdata not found at $profdata (rustup component add llvm-tools)" >&2; exit 1; }

data=$(pwd)/target/pgo-data
rm -rf "$data"
echo "==> instrumented build (target/pgo-gen)"
RUSTFLAGS="-Cprofile-generate=$data" cargo build --release -p arbor --target-dir target/pgo-gen
gen=target/pgo-gen/release/arbor
echo "==> training on seeds disjoint from the measured ones"
"$gen" sim --seeds 1000..1030 --nodes 5 --clients 5 >/dev/null
"$gen" sim --seeds 1000..1060 --swarm >/dev/null
"$gen" sim --seeds 1000..1060 >/dev/null
"$profdata" merge -o "$data/merged.profdata" "$data"
echo "==> optimized build (target/pgo)"
RUSTFLAGS="-Cprofile-use=$data/merged.profdata" cargo build --release -p arbor --target-dir target/pgo
echo "built target/pgo/release/arbor"
