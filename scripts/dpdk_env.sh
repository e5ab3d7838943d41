#!/usr/bin/env bash
# dpdk_env.sh: prepare this machine for the DPDK tests and benchmarks (idempotent).
# As root, reserves 2 MiB hugepages (ZMX_HUGEPAGES, default 128 = 256 MiB) when the kernel
# gives them; without root or hugepages it changes nothing and the tests run the EAL with
# --no-huge (eal_options::auto_no_huge). Checks /dev/net/tun for the net_tap tests.
# Usage: scripts/dpdk_env.sh [--release]   (--release gives the hugepages back)
set -euo pipefail
want=${ZMX_HUGEPAGES:-128}
nr=/proc/sys/vm/nr_hugepages
if [ "$(id -u)" -ne 0 ]; then
    echo "dpdk_env: not root: DPDK tests will skip (they need root for taps and EAL memory)"
    exit 0
fi
if [ "${1:-}" = "--release" ]; then
    echo 0 > "$nr" 2>/dev/null || true
    echo "dpdk_env: hugepages released"
    exit 0
fi
if [ -w "$nr" ]; then
    have=$(cat "$nr")
    if [ "$have" -lt "$want" ]; then
        echo "$want" > "$nr" 2>/dev/null || true
    fi
    echo "dpdk_env: hugepages $(cat "$nr") (free $(awk '/HugePages_Free/ {print $2}' /proc/meminfo)); EAL runs --in-memory"
else
    echo "dpdk_env: cannot set hugepages here: EAL runs --no-huge --no-shconf"
fi
if [ ! -c /dev/net/tun ]; then
    mkdir -p /dev/net && mknod /dev/net/tun c 10 200 2>/dev/null || true
fi
[ -c /dev/net/tun ] || echo "dpdk_env: no /dev/net/tun: net_tap tests will fail"
