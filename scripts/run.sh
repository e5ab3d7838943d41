#!/usr/bin/env bash
# run.sh: install dependencies, build, and show zmx at work: a short side-by-side benchmark
# of zmx and the system's libzmq 4.3.4 (zmx-perf lat, thr, fanout, reqrep as far as zmx has
# them, over inproc, tcp and ipc, 16 B to 64 KiB, both libraries alternating in one
# process), printed as markdown tables with a chart (scripts/compare-libzmq.sh --quick;
# extra arguments are passed to it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
exec bash scripts/compare-libzmq.sh --quick --no-build "$@"
