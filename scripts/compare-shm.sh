#!/usr/bin/env bash
# compare-shm.sh: zmx over shm:// against libzmq over ipc:// (and inproc), every peer in
# a second process (zmx-perf --cross-process), in one run. Each cell runs --runs times
# (default 3) and the median is reported; zmx and libzmq cells alternate row by row.
#
# stdout: a markdown table (the command, medians, ratios). Raw JSON stays in
# build/release/compare-shm-<time>/. Needs a release build (scripts/test.sh or run.sh).
#   --runs N   runs per cell (default 3)
#   --quick    short counts (a smoke run: numbers are not worth keeping)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$root/build/release/bench/zmx_perf/zmx-perf"
runs=3
scale=1
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --quick) scale=10; runs=1; shift ;;
    *) echo "usage: $0 [--runs N] [--quick]" >&2; exit 2 ;;
    esac
done
[ -x "$bin" ] || { echo "compare-shm: build first ($bin missing)" >&2; exit 1; }
out="$root/build/release/compare-shm-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

# name | zmx-perf arguments (the lib options are added per row)
cells=(
    "lat 16 B, round trip|lat --size 16 --count $((200000 / scale))"
    "thr 16 B|thr --size 16 --count $((10000000 / scale))"
    "thr 64 KiB|thr --size 65536 --count $((200000 / scale))"
    "fanout 16 B, 2 SUBs, HWM 0|fanout --peers 2 --size 16 --hwm 0 --count $((2000000 / scale))"
)
# label | transport and options
libs=(
    "zmx shm spin+direct|--lib zmx --transport shm --cross-process --idle spin --direct"
    "zmx shm block|--lib zmx --transport shm --cross-process"
    "libzmq ipc|--lib libzmq --transport ipc --cross-process"
)

n=0
for cell in "${cells[@]}"; do
    for lib in "${libs[@]}"; do
        n=$((n + 1))
        args="${cell#*|} ${lib#*|} --runs $runs --interval 0 --timeout 30"
        echo "compare-shm: [$n] zmx-perf $args" >&2
        # shellcheck disable=SC2086
        "$bin" $args --json "$out/$n.json" >"$out/$n.txt" 2>&1 || echo "compare-shm: cell $n failed (see $out/$n.txt)" >&2
        printf '%s\t%s\t%s\t%s\n' "$n" "${cell%%|*}" "${lib%%|*}" "$args" >>"$out/index.tsv"
    done
done

/usr/bin/python3 - "$out" <<'EOF'
import json, statistics, sys, os
out = sys.argv[1]
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "index.tsv"))]
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
print("| cell | library | median | p50 / p99 (us) | command |")
print("|---|---|---:|---:|---|")
base = {}
for n, cell, lib, args in rows:
    try:
        runs = [r for r in json.load(open(os.path.join(out, n + ".json")))["runs"] if r.get("status") == "ok"]
    except Exception:
        runs = []
    if not runs:
        print(f"| {cell} | {lib} | failed | | `{args}` |")
        continue
    if runs[0]["scenario"] == "lat":
        v = med([r["latency"]["p50_us"] for r in runs]); p99 = med([r["latency"]["p99_us"] for r in runs])
        val = f"{v:.2f} us p50"; lat = f"{v:.2f} / {p99:.2f}"
    else:
        key = "delivered_msgs_per_s" if runs[0]["scenario"] == "fanout" else "msgs_per_s"
        v = med([r.get(key) or r.get("msgs_per_s") for r in runs]); mb = med([r.get("mb_per_s") for r in runs])
        val = f"{v/1e6:.2f} M msgs/s ({mb:,.0f} MB/s)"; lat = ""
    print(f"| {cell} | {lib} | {val} | {lat} | `zmx-perf {args}` |")
EOF
echo "raw results: $out" >&2
