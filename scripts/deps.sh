#!/usr/bin/env bash
# deps.sh: install what building and testing zmx needs on Debian 12 (idempotent).
# The real libzmq and pyzmq are installed as peers for interop tests and benchmarks;
# gnuplot-nox draws the chart of scripts/compare-libzmq.sh.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config googletest libgtest-dev libgmock-dev
      libbenchmark-dev libzmq3-dev python3 python3-zmq libsodium-dev gnuplot-nox
      clang-14 libclang-rt-14-dev)  # the libFuzzer targets (scripts/fuzz.sh)
# dpdk_io: DPDK 22.11 and what its tests drive on the kernel side of a tap (ip, ping, nft).
pkgs+=(dpdk dpdk-dev libdpdk-dev iproute2 iputils-ping nftables)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
