#!/usr/bin/env bash
# The speed floors of issues 2 (core) and 7 (shm) in one pass, each beside libzmq in the
# same pass, with the vCPU placement (cache-line round trip) measured before and after:
# on these 2-vCPU VMs the placement moves during a session and every number moves with it.
#
#   bench/floors.sh [build dir, default build/release] [runs, default 5]
#
# The cross-process one-way and round-trip rows pin the two processes' threads to the two
# vCPUs (--cpus 0,1), as issue 7 asks: unpinned, two spinning threads now and then share
# one vCPU and a run drops from 18M to 5M msgs/s. The fan-out rows run three threads on
# two vCPUs: once floating, once pinned with both SUBs on one vCPU and the PUB on the
# other (--cpus 0,1,0, for libzmq too), the placement that shares the work evenly.
#
# Prints one line per measurement: what, zmx median, libzmq median, ratio. Medians are
# over the runs of zmx-perf (delivered msgs/s, or round-trip p50/p99 in us).
set -euo pipefail
build=${1:-build/release}
runs=${2:-5}
P=$build/bench/zmx_perf/zmx-perf
rtt() { "$build/bench/cacheline_rtt" | awk '{print $4}'; }
med() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) {print "-"; exit} print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Per-run delivered msgs/s (not the summary line zmx-perf adds after several runs, nor the
# "delivered %" line under each run's rate).
rates() { grep -E '^  delivered +[0-9]' | awk '{gsub(",", "", $2); print $2}' | head -n "$runs" | med; }
# Per-run p50 or p99 of a lat run's round-trip line.
pct() { grep -E ' p50 ' | sed -E "s/.* $1 ([0-9.,]+).*/\1/" | tr -d , | head -n "$runs" | med; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
# Latency rows: how many times lower zmx is.
lower() { ratio "$2" "$1"; }
row() { printf '%-52s %14s %14s %8s\n' "$1" "$2" "$3" "$4"; }

X=(--interval 0 --runs "$runs" --timeout 60)
echo "cache-line round trip before: $(rtt) ns"
row "measure" "zmx" "libzmq" "x better"

z=$($P thr --size 16 --count 5000000 --cpus 0,1 "${X[@]}" | rates)
l=$($P thr --size 16 --count 5000000 --cpus 0,1 --lib libzmq "${X[@]}" | rates)
row "inproc PUSH/PULL 16 B msgs/s (block)" "$z" "$l" "$(ratio "$z" "$l")"

out=$($P lat --size 16 --count 100000 --cpus 0,1 "${X[@]}")
zl=$(pct p50 <<<"$out")
l=$($P lat --size 16 --count 20000 --cpus 0,1 --lib libzmq "${X[@]}" | pct p50)
row "inproc PAIR round trip p50 us (block)" "$zl" "$l" "$(lower "$zl" "$l")"
z=$($P lat --size 16 --count 100000 --cpus 0,1 --idle spin --direct "${X[@]}" | pct p50)
row "inproc PAIR round trip p50 us (spin+direct)" "$z" "" ""

z=$($P thr --size 16 --count 10000000 --transport shm --idle spin --direct --cross-process --cpus 0,1 "${X[@]}" | rates)
l=$($P thr --size 16 --count 2000000 --lib libzmq --transport ipc --cross-process --cpus 0,1 "${X[@]}" | rates)
row "16 B one way msgs/s (shm spin+direct | libzmq ipc)" "$z" "$l" "$(ratio "$z" "$l")"

out=$($P lat --size 16 --count 200000 --transport shm --idle spin --direct --cross-process --cpus 0,1 "${X[@]}")
z50=$(pct p50 <<<"$out")
z99=$(pct p99 <<<"$out")
l=$($P lat --size 16 --count 20000 --lib libzmq --transport ipc --cross-process --cpus 0,1 "${X[@]}" | pct p50)
row "round trip p50 us (shm spin+direct | libzmq ipc)" "$z50" "$l" "$(lower "$z50" "$l")"
row "round trip p99 us (shm spin+direct)" "$z99" "" ""

z=$($P thr --size 65536 --count 200000 --transport shm --idle spin --direct --cross-process --cpus 0,1 "${X[@]}" | rates)
row "64 KiB one way msgs/s (shm spin+direct; x65536 = B/s)" "$z" "" ""

z=$($P fanout --peers 2 --size 16 --hwm 0 --count 2000000 --transport shm --cross-process --idle block --direct "${X[@]}" | rates)
l=$($P fanout --peers 2 --size 16 --hwm 0 --count 2000000 --lib libzmq --transport ipc --cross-process "${X[@]}" | rates)
row "PUB to 2 SUBs msgs/s (shm block+direct | libzmq ipc)" "$z" "$l" "$(ratio "$z" "$l")"
z=$($P fanout --peers 2 --size 16 --hwm 0 --count 2000000 --transport shm --cross-process --idle block --direct --cpus 0,1,0 "${X[@]}" | rates)
l=$($P fanout --peers 2 --size 16 --hwm 0 --count 2000000 --lib libzmq --transport ipc --cross-process --cpus 0,1,0 "${X[@]}" | rates)
row "PUB to 2 SUBs, pinned 0,1,0 (shm block+direct | ipc)" "$z" "$l" "$(ratio "$z" "$l")"
# Issue 7 names spin idle: the same pinned fan-out with spinning SUBs (libzmq's row again,
# measured right after, for the same host mood).
z=$($P fanout --peers 2 --size 16 --hwm 0 --count 2000000 --transport shm --cross-process --idle spin --direct --cpus 0,1,0 "${X[@]}" | rates)
l=$($P fanout --peers 2 --size 16 --hwm 0 --count 2000000 --lib libzmq --transport ipc --cross-process --cpus 0,1,0 "${X[@]}" | rates)
row "PUB to 2 SUBs, pinned 0,1,0 (shm spin+direct | ipc)" "$z" "$l" "$(ratio "$z" "$l")"

echo "cache-line round trip after: $(rtt) ns"
