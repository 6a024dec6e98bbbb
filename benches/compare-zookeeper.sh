#!/usr/bin/env bash
# Arbor vs Apache ZooKeeper, same machine, same client (`arbor bench`), same workloads.
#
# Starts an N-node ZooKeeper ensemble (Debian package `zookeeper`, installed if missing) and
# an N-node Arbor ensemble (per-node zoo.cfg + myid, `arbor serve --config`) on loopback,
# both with fsync on (ZooKeeper's default forceSync=yes; Arbor always fsyncs) and the same
# tickTime / initLimit / syncLimit, then runs each workload against both in alternation
# (Arbor, ZooKeeper, Arbor, ZooKeeper, ... for --rounds rounds):
#   a  1 session, 1 in flight, setData 100 B          (commit latency)
#   b  32 sessions x 8 in flight, setData 100 B       (write throughput)
#   c  32 x 8 getData                                  (read throughput)
#   d  32 x 8 mixed, 90 % getData / 10 % setData
#   e  (b) again after loading --znodes znodes of 32 B
# plus the RSS of each server process after the load (per process and summed), and the
# physical floor: fdatasync p50/p99 of a small append in the data directory and the
# loopback TCP RTT; commit latency (a) is printed as a multiple of fsync p50 + 2 x RTT p50.
# Prints a table: the median over rounds per figure and system, and Arbor / ZooKeeper.
#
# Usage: benches/compare-zookeeper.sh [--quick] [--nodes 1|3] [--rounds N] [--znodes N]
#          [--duration S] [--warmup S] [--work DIR] [--arbor PATH] [--arbor-serve PATH]
#   --arbor PATH        the arbor binary (default: build target/release/arbor)
#   --arbor-serve PATH  a different arbor binary for the servers (default: --arbor)
#   --quick      3 s runs, 1 s warm-up, 100k znodes: a few minutes in all
#   --nodes 1    standalone servers on both sides (before Arbor ensembles exist)
# Results: DIR/results.jsonl (one `arbor bench` JSON line per run, tagged) and DIR/table.txt.
# Every process it starts is stopped on exit (by pid).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

NODES=3
ROUNDS=3
ZNODES=1000000
DURATION=20
WARMUP=5
WORK=""
ARBOR=""
ARBOR_SERVE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) DURATION=3; WARMUP=1; ZNODES=100000; shift ;;
        --nodes) NODES=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --znodes) ZNODES=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --arbor) ARBOR=$2; shift 2 ;;
        --arbor-serve) ARBOR_SERVE=$2; shift 2 ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
case "$NODES" in 1|3|5) ;; *) echo "--nodes must be 1, 3 or 5" >&2; exit 2 ;; esac

log() { printf '==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)" >&2; }

# --- prerequisites -------------------------------------------------------------------------
ZK_JAR=/usr/share/java/zookeeper.jar
if [ ! -f "$ZK_JAR" ]; then
    log "installing Apache ZooKeeper (Debian package zookeeper)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
fi
ZK_VERSION=$(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null || echo unknown)
if [ -z "$ARBOR" ]; then
    log "building arbor (release)"
    cargo build --release -p arbor >&2
    ARBOR=$REPO/target/release/arbor
fi
[ -z "$ARBOR_SERVE" ] && ARBOR_SERVE=$ARBOR
[ -z "$WORK" ] && WORK=$(mktemp -d "${TMPDIR:-/tmp}/arbor-vs-zk.XXXXXX")
mkdir -p "$WORK"
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
log "work dir $WORK; ZooKeeper $ZK_VERSION; $NODES node(s) per system"

# --- clusters ------------------------------------------------------------------------------
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

ZK_BASE=22180      # client ports 22181.., peer 22881.., election 23881..
ARBOR_BASE=32180   # client ports 32181.., peer 32881.., election 33881..
ZK_PIDS=()
ARBOR_PIDS=()

write_cfg() { # system base node dir
    local base=$2 n=$3 dir=$4
    mkdir -p "$dir/data"
    echo "$n" >"$dir/data/myid"
    {
        echo "tickTime=2000"
        echo "initLimit=10"
        echo "syncLimit=5"
        echo "dataDir=$dir/data"
        echo "clientPort=$((base + n))"
        echo "clientPortAddress=127.0.0.1"
        echo "maxClientCnxns=0"
        echo "4lw.commands.whitelist=srvr,ruok,mntr"
        if [ "$1" = zookeeper ]; then
            echo "admin.enableServer=false"
            echo "forceSync=yes"
        fi
        if [ "$NODES" -gt 1 ]; then
            for i in $(seq 1 "$NODES"); do
                echo "server.$i=127.0.0.1:$((base + 700 + i)):$((base + 1700 + i))"
            done
        fi
    } >"$dir/zoo.cfg"
}

connect_list() { # base
    local out="" i
    for i in $(seq 1 "$NODES"); do out="$out${out:+,}127.0.0.1:$(($1 + i))"; done
    echo "$out"
}

start_zookeeper() {
    local i dir
    for i in $(seq 1 "$NODES"); do
        dir=$WORK/zk$i
        rm -rf "$dir"
        write_cfg zookeeper $ZK_BASE "$i" "$dir"
        # QuorumPeerMain runs standalone when zoo.cfg has no server.N lines.
        java -Xmx4g -cp "/etc/zookeeper/conf:$ZK_JAR" \
            -Dzookeeper.log.dir="$dir" -Dzookeeper.root.logger=WARN,CONSOLE \
            org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
            >"$dir/server.log" 2>&1 &
        PIDS+=($!)
        ZK_PIDS+=($!)
    done
}

start_arbor() {
    local i dir
    for i in $(seq 1 "$NODES"); do
        dir=$WORK/arbor$i
        rm -rf "$dir"
        write_cfg arbor $ARBOR_BASE "$i" "$dir"
        RUST_LOG=warn "$ARBOR_SERVE" serve --config "$dir/zoo.cfg" >"$dir/server.log" 2>&1 &
        PIDS+=($!)
        ARBOR_PIDS+=($!)
    done
}

# Ready when every node answers a request over the ZooKeeper protocol (a session can be
# created on it, which needs an elected, synced quorum).
wait_ready() { # name base
    local i deadline=$((SECONDS + 90))
    for i in $(seq 1 "$NODES"); do
        until "$ARBOR" bench --connect "127.0.0.1:$(($2 + i))" --op exists --ops 1 --warmup 0 \
            --no-setup --timeout 2 --json 2>/dev/null |
            python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); sys.exit(0 if d["ops"]+d["errors"]>0 else 1)' 2>/dev/null; do
            if [ $SECONDS -ge $deadline ]; then
                echo "$1 node $i (port $(($2 + i))) not serving after 90 s; see $WORK/*/server.log" >&2
                exit 1
            fi
            sleep 1
        done
    done
    log "$1: $NODES node(s) serving"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- measurements ----------------------------------------------------------------------------
# CPU time (utime + stime, clock ticks) used so far by the given processes.
cpu_ticks() {
    local t=0 p v
    for p in "$@"; do
        v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
        t=$((t + v))
    done
    echo "$t"
}
CLK_TCK=$(getconf CLK_TCK)

bench() { # system round workload base args...
    local sys=$1 round=$2 wl=$3 base=$4
    shift 4
    local line pids t0 t1 c0 c1
    if [ "$sys" = arbor ]; then pids=("${ARBOR_PIDS[@]}"); else pids=("${ZK_PIDS[@]}"); fi
    c0=$(cpu_ticks "${pids[@]}")
    t0=$(date +%s.%N)
    line=$("$ARBOR" bench --connect "$(connect_list "$base")" --label "$sys" --json \
        --warmup "$WARMUP" --duration "$DURATION" "$@" | tail -n 1)
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "${pids[@]}")
    # server_cpu_us_per_op: the servers' CPU over the whole run (warm-up included) divided
    # by the ops that run did at its measured rate over its whole wall time.
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(system=sys.argv[2], round=int(sys.argv[3]), workload=sys.argv[4]); cpu=(int(sys.argv[6])-int(sys.argv[5]))/int(sys.argv[7]); wall=float(sys.argv[9])-float(sys.argv[8]); d.update(server_cpu_s=cpu, run_wall_s=wall, server_cpu_us_per_op=(cpu*1e6/(d["ops_per_s"]*wall) if d["ops_per_s"] > 0 and wall > 0 else None)); print(json.dumps(d))' \
        "$line" "$sys" "$round" "$wl" "$c0" "$c1" "$CLK_TCK" "$t0" "$t1" >>"$RESULTS"
    log "$sys round $round $wl: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.0f ops/s p50 %.0f us p99 %.0f us errors %d lost %d" % (d["ops_per_s"], d["p50_us"], d["p99_us"], d["errors"], sum(d["client_errors"].values())))' "$line")"
}

workloads_abcd() { # system round base
    bench "$1" "$2" a "$3" --sessions 1 --inflight 1 --op set --value-size 100 --keys 1000
    bench "$1" "$2" b "$3" --sessions 32 --inflight 8 --op set --value-size 100 --keys 1000 --no-setup
    bench "$1" "$2" c "$3" --sessions 32 --inflight 8 --op get --value-size 100 --keys 1000 --no-setup
    bench "$1" "$2" d "$3" --sessions 32 --inflight 8 --op mixed --read-ratio 0.9 --value-size 100 --keys 1000 --no-setup
}

log "physical floor: fsync probe in $WORK, loopback RTT probe"
"$ARBOR" bench --fsync-probe --probe-dir "$WORK" --probe-count 2000 --probe-parallel "$NODES" --json |
    python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); d.update(system="machine", workload="fsync", round=0); print(json.dumps(d))' >>"$RESULTS"
"$ARBOR" bench --rtt-probe --probe-count 20000 --json |
    python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); d.update(system="machine", workload="rtt", round=0); print(json.dumps(d))' >>"$RESULTS"

log "starting $NODES-node Arbor and ZooKeeper on loopback"
start_arbor
start_zookeeper
wait_ready arbor $ARBOR_BASE
wait_ready zookeeper $ZK_BASE

for r in $(seq 1 "$ROUNDS"); do
    workloads_abcd arbor "$r" $ARBOR_BASE
    workloads_abcd zookeeper "$r" $ZK_BASE
done

record_rss() { # system phase pids...
    local sys=$1 phase=$2 total=0 per="" p kb
    shift 2
    for p in "$@"; do
        kb=$(rss_kb "$p")
        total=$((total + kb))
        per="$per${per:+,}$kb"
    done
    echo "{\"system\":\"$sys\",\"workload\":\"rss_$phase\",\"round\":0,\"rss_total_kb\":$total,\"rss_kb\":[$per]}" >>"$RESULTS"
    log "$sys RSS $phase: total $((total / 1024)) MiB (per process kB: $per)"
}

record_rss arbor before_load "${ARBOR_PIDS[@]}"
record_rss zookeeper before_load "${ZK_PIDS[@]}"
log "loading $ZNODES znodes of 32 B into each"
bench arbor 0 load $ARBOR_BASE --load-znodes "$ZNODES" --value-size 32 --sessions 8 --inflight 64 --prefix /load
bench zookeeper 0 load $ZK_BASE --load-znodes "$ZNODES" --value-size 32 --sessions 8 --inflight 64 --prefix /load
sleep 5 # let background snapshotting settle before reading RSS
record_rss arbor after_load "${ARBOR_PIDS[@]}"
record_rss zookeeper after_load "${ZK_PIDS[@]}"

for r in $(seq 1 "$ROUNDS"); do
    bench arbor "$r" e $ARBOR_BASE --sessions 32 --inflight 8 --op set --value-size 100 --keys 1000 --no-setup
    bench zookeeper "$r" e $ZK_BASE --sessions 32 --inflight 8 --op set --value-size 100 --keys 1000 --no-setup
done

# --- table -----------------------------------------------------------------------------------
python3 - "$RESULTS" "$NODES" "$ZK_VERSION" <<'EOF' | tee "$WORK/table.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
nodes, zkv = sys.argv[2], sys.argv[3]
def runs(sys_, wl):
    return [r for r in rows if r.get("system") == sys_ and r.get("workload") == wl]
def med(sys_, wl, key):
    v = [r[key] for r in runs(sys_, wl) if key in r]
    return statistics.median(v) if v else None
fs = runs("machine", "fsync")[0]
rtt = runs("machine", "rtt")[0]
floor = fs["p50_us"] + 2 * rtt["p50_us"]
print(f"Arbor vs Apache ZooKeeper {zkv}, {nodes} node(s) each on loopback, fsync on; "
      f"median of rounds")
print(f"physical floor: write+fdatasync into a preallocated file p50 {fs['p50_us']:.0f} us "
      f"p99 {fs['p99_us']:.0f} us (appending to a growing file: p50 "
      f"{fs.get('append_p50_us', 0):.0f} us p99 {fs.get('append_p99_us', 0):.0f} us); "
      f"loopback RTT p50 {rtt['p50_us']:.1f} us p99 {rtt['p99_us']:.1f} us; "
      f"fsync p50 + 2 RTT = {floor:.0f} us")
shared = None
if fs.get("parallel_p50_us"):
    shared = fs["parallel_p50_us"] + 2 * rtt["p50_us"]
    print(f"shared disk: {fs['parallel']} writers syncing at once (as the {nodes} servers of "
          f"each ensemble do), each its own preallocated file: p50 {fs['parallel_p50_us']:.0f} us "
          f"p99 {fs['parallel_p99_us']:.0f} us; that p50 + 2 RTT = {shared:.0f} us")
figs = [
    ("a 1x1 setData p50 us", "a", "p50_us"), ("a 1x1 setData p99 us", "a", "p99_us"),
    ("a 1x1 setData ops/s", "a", "ops_per_s"),
    ("b 32x8 setData ops/s", "b", "ops_per_s"), ("b 32x8 setData p50 us", "b", "p50_us"),
    ("b 32x8 setData p99 us", "b", "p99_us"),
    ("c 32x8 getData ops/s", "c", "ops_per_s"), ("c 32x8 getData p99 us", "c", "p99_us"),
    ("d 32x8 mixed 90/10 ops/s", "d", "ops_per_s"), ("d 32x8 mixed p99 us", "d", "p99_us"),
    ("e 32x8 setData, loaded, ops/s", "e", "ops_per_s"), ("e p99 us", "e", "p99_us"),
    ("b server CPU us per op (all)", "b", "server_cpu_us_per_op"),
    ("c server CPU us per op (all)", "c", "server_cpu_us_per_op"),
    ("d server CPU us per op (all)", "d", "server_cpu_us_per_op"),
    ("e server CPU us per op (all)", "e", "server_cpu_us_per_op"),
    ("load znodes/s", "load", "ops_per_s"),
    ("RSS before load MiB (sum)", "rss_before_load", "rss_total_kb"),
    ("RSS after load MiB (sum)", "rss_after_load", "rss_total_kb"),
]
print(f"{'figure':<34} {'arbor':>12} {'zookeeper':>12} {'arbor/zk':>9}")
for name, wl, key in figs:
    a, z = med("arbor", wl, key), med("zookeeper", wl, key)
    if key == "rss_total_kb":
        a = a / 1024 if a is not None else None
        z = z / 1024 if z is not None else None
    fa = f"{a:12.0f}" if a is not None else f"{'-':>12}"
    fz = f"{z:12.0f}" if z is not None else f"{'-':>12}"
    ratio = f"{a / z:9.2f}" if a is not None and z else f"{'-':>9}"
    print(f"{name:<34} {fa} {fz} {ratio}")
for s in ("arbor", "zookeeper"):
    a50 = med(s, "a", "p50_us")
    if a50:
        print(f"{s}: commit latency (a) p50 = {a50 / floor:.1f} x (fsync p50 + 2 RTT)"
              + (f", {a50 / shared:.1f} x the shared-disk figure" if shared else ""))
    r = runs(s, "rss_after_load")
    if r:
        print(f"{s}: RSS per process after load (MiB): "
              + ", ".join(f"{k / 1024:.0f}" for k in r[0]["rss_kb"]))
    errs = sum(r.get("errors", 0) for r in runs(s, "a") + runs(s, "b") + runs(s, "c")
               + runs(s, "d") + runs(s, "e") + runs(s, "load"))
    lost = sum(sum(r.get("client_errors", {}).values()) for r in rows if r.get("system") == s)
    print(f"{s}: error replies {errs}, requests lost to connection failures {lost}")
EOF
log "results in $RESULTS and $WORK/table.txt"
