#!/usr/bin/env bash
# run.sh: install dependencies, build, and show zmx at work: a short side-by-side
# benchmark of zmx and the system's libzmq 4.3.4 over inproc (throughput of 16-byte
# PUSH/PULL messages and PAIR round-trip latency), printed as a table.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
exec bash scripts/compare-inproc.sh --no-build --runs 3 --thr-count 2000000 --lat-count 20000 "$@"
