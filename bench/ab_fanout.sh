#!/usr/bin/env bash
# A/B of the pinned shm fan-out (PUB to 2 SUBs, block + direct, --cpus 0,1,0) between
# zmx-perf binaries (or one binary with different options), alternating so that the
# host's moods hit every side alike. Prints per side the median and quartiles of the
# delivered rate and of the receiver's CPU time per message (2 runs per round).
#
#   bench/ab_fanout.sh ROUNDS "label|path/to/zmx-perf|extra options" ...
#   e.g. cp build/release/bench/zmx_perf/zmx-perf /tmp/zp_old   (before a change)
#        bench/ab_fanout.sh 6 "old|/tmp/zp_old|" "new|build/release/bench/zmx_perf/zmx-perf|"
set -euo pipefail
rounds=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for r in $(seq "$rounds"); do
    for spec in "$@"; do
        IFS='|' read -r label bin extra <<<"$spec"
        # shellcheck disable=SC2086 # extra options are words
        out=$($bin fanout --peers 2 --size 16 --hwm 0 --count 2000000 --transport shm --cross-process \
            --idle block --direct --cpus 0,1,0 --interval 0 --runs 2 --timeout 60 $extra)
        grep -E '^  delivered +[0-9]' <<<"$out" | awk '{gsub(",", "", $2); print $2}' >>"$dir/$label.rate"
        grep -E 'cpu/msg' <<<"$out" | awk '{print $3}' >>"$dir/$label.rx"
    done
done
quart() { sort -n | awk '{a[NR]=$1} END {printf "median %s (quartiles %s-%s, n %d)", a[int((NR+1)/2)], a[int(NR/4)+1], a[int(3*NR/4)], NR}'; }
for spec in "$@"; do
    IFS='|' read -r label _ _ <<<"$spec"
    printf '%-10s delivered/s %s | receiver ns/msg %s\n' "$label" "$(quart <"$dir/$label.rate")" "$(quart <"$dir/$label.rx")"
done
