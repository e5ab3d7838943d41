#!/usr/bin/env bash
# test.sh: install dependencies, build (release preset, warnings as errors) and run every
# test through ctest. Extra arguments go to ctest (e.g. -L fast).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
ctest --preset release -j2 "$@"
