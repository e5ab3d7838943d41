#!/usr/bin/env bash
# compare-inproc.sh: zmx against the system libzmq on inproc, one benchmark source built
# twice (bench/inproc_perf.cpp -> zmx_inproc_perf, libzmq_inproc_perf).
#
# Builds the release preset if needed, then runs every (implementation x mode) --runs times,
# alternating zmx and libzmq (and swapping who goes first each round, so drift on a noisy
# machine hits both), takes the median of each metric and prints a markdown table with the
# zmx/libzmq ratio and the machine description. Raw JSON lines are kept next to the build.
# Needs bash and /usr/bin/python3 (standard library only).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build/release"
runs=5
size=16
thr_count=10000000
lat_count=100000
cpus=""
do_build=1
do_spin=1
zmx_bin=""
libzmq_bin=""

usage() {
    cat <<EOF
usage: $0 [options]
  --runs N          runs per (implementation x mode), median reported (default $runs)
  --size S          message body in bytes (default $size)
  --thr-count N     messages per throughput run (default $thr_count)
  --lat-count N     round trips per latency run (default $lat_count)
  --cpus A,B        pin measuring/peer threads (passed to inproc_perf; default: not pinned)
  --no-spin         skip the zmx --idle spin runs
  --no-build        do not configure/build; use existing binaries
  --zmx-bin PATH    zmx_inproc_perf to run (default: $build_dir/bench/zmx_inproc_perf)
  --libzmq-bin PATH libzmq_inproc_perf to run (default: $build_dir/bench/libzmq_inproc_perf)
EOF
}

die_usage() { echo "$0: $*" >&2; usage >&2; exit 2; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) if ! { [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 1 ]]; }; then die_usage "--runs needs a positive integer"; fi; runs=$2; shift 2 ;;
        --size) if ! { [[ $# -ge 2 ]] && is_uint "$2"; }; then die_usage "--size needs an integer"; fi; size=$2; shift 2 ;;
        --thr-count) if ! { [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 2 ]]; }; then die_usage "--thr-count needs an integer >= 2"; fi; thr_count=$2; shift 2 ;;
        --lat-count) if ! { [[ $# -ge 2 ]] && is_uint "$2" && [[ $2 -ge 1 ]]; }; then die_usage "--lat-count needs a positive integer"; fi; lat_count=$2; shift 2 ;;
        --cpus) if ! { [[ $# -ge 2 ]] && [[ $2 =~ ^[0-9]+,[0-9]+$ ]]; }; then die_usage "--cpus needs A,B"; fi; cpus=$2; shift 2 ;;
        --no-spin) do_spin=0; shift ;;
        --no-build) do_build=0; shift ;;
        --zmx-bin) [[ $# -ge 2 ]] || die_usage "--zmx-bin needs a path"; zmx_bin=$2; shift 2 ;;
        --libzmq-bin) [[ $# -ge 2 ]] || die_usage "--libzmq-bin needs a path"; libzmq_bin=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die_usage "unknown argument: $1" ;;
    esac
done
[[ -n $zmx_bin ]] || zmx_bin="$build_dir/bench/zmx_inproc_perf"
[[ -n $libzmq_bin ]] || libzmq_bin="$build_dir/bench/libzmq_inproc_perf"

# ---- build ----
# Only the two benchmark targets, so a test that does not compile mid-edit does not stop a
# comparison. A target that fails to build is reported and its column shows n/a.
if [[ $do_build -eq 1 ]]; then
    cd "$root"
    # Build logs go to stderr so stdout is only the markdown report.
    if [[ ! -f $build_dir/build.ninja ]]; then
        cmake --preset release >&2
    fi
    for target in zmx_inproc_perf libzmq_inproc_perf; do
        if ! cmake --build --preset release --target "$target" >&2; then
            echo "compare-inproc: WARNING: building $target failed; its results will be n/a" >&2
        fi
    done
fi

have_zmx=0
have_libzmq=0
if [[ -x $zmx_bin ]]; then have_zmx=1; fi
if [[ -x $libzmq_bin ]]; then have_libzmq=1; fi
if [[ $have_zmx -eq 0 && $have_libzmq -eq 0 ]]; then
    echo "compare-inproc: neither $zmx_bin nor $libzmq_bin exists" >&2
    exit 1
fi
[[ $have_zmx -eq 1 ]] || echo "compare-inproc: WARNING: no zmx binary ($zmx_bin); zmx columns n/a" >&2
[[ $have_libzmq -eq 1 ]] || echo "compare-inproc: WARNING: no libzmq binary ($libzmq_bin); libzmq column n/a" >&2

# ---- machine ----
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
machine="nproc=$(nproc), cpu=\"${cpu_model:-unknown}\", kernel=$(uname -r), loadavg at start=$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- runs ----
results_dir=$build_dir
[[ -d $results_dir && -w $results_dir ]] || results_dir=${TMPDIR:-/tmp}
results="$results_dir/compare-inproc-$(date +%Y%m%d-%H%M%S).jsonl"
: >"$results"
failures=0

# run_one LABEL BINARY MODE IDLE [EXTRA...]: appends {"variant":LABEL, ...inproc_perf JSON...} to $results.
run_one() {
    local label=$1 bin=$2 mode=$3 idle=$4 count out
    shift 4
    if [[ $mode == thr ]]; then count=$thr_count; else count=$lat_count; fi
    local args=(--mode "$mode" --count "$count" --size "$size" --idle "$idle" --json "$@")
    if [[ -n $cpus ]]; then args+=(--cpus "$cpus"); fi
    echo "  $label $mode" >&2
    if out=$("$bin" "${args[@]}") && [[ $out == \{* ]]; then
        printf '{"variant":"%s",%s\n' "$label" "${out#\{}" >>"$results"
    else
        echo "compare-inproc: WARNING: $bin ${args[*]} failed" >&2
        printf '{"variant":"%s","mode":"%s","failed":true}\n' "$label" "$mode" >>"$results"
        failures=$((failures + 1))
    fi
}

for ((r = 1; r <= runs; r++)); do
    echo "round $r/$runs" >&2
    for mode in thr lat; do
        order=(zmx libzmq)
        if ((r % 2 == 0)); then order=(libzmq zmx); fi
        for impl in "${order[@]}"; do
            if [[ $impl == zmx && $have_zmx -eq 1 ]]; then
                run_one zmx_block "$zmx_bin" "$mode" block
                run_one zmx_sleep "$zmx_bin" "$mode" block --spin-us 0
                if [[ $do_spin -eq 1 ]]; then run_one zmx_spin "$zmx_bin" "$mode" spin; fi
            elif [[ $impl == libzmq && $have_libzmq -eq 1 ]]; then
                run_one libzmq_block "$libzmq_bin" "$mode" block
            fi
        done
    done
done

# ---- table ----
/usr/bin/python3 - "$results" "$machine" "$runs" "$size" "$thr_count" "$lat_count" "${cpus:-none}" <<'PY'
import json, statistics, sys

path, machine, runs, size, thr_count, lat_count, cpus = sys.argv[1:8]
rows = [json.loads(line) for line in open(path) if line.strip()]

libzmq_name = next((r["impl"] for r in rows if r["variant"] == "libzmq_block" and "impl" in r), "libzmq")

def median(variant, mode, key):
    vals = [r[key] for r in rows
            if r["variant"] == variant and r.get("mode") == mode and not r.get("failed")
            and r.get(key) is not None]
    return statistics.median(vals) if vals else None

def failed(variant, mode):
    return sum(1 for r in rows if r["variant"] == variant and r.get("mode") == mode and r.get("failed"))

def fmt(v, digits):
    return "n/a" if v is None else f"{v:,.{digits}f}"

def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"

metrics = [
    ("thr", "msgs_per_s", "msgs/s", 0, "higher; goal >= 3.00"),
    ("thr", "mb_per_s", "MB/s", 1, "higher"),
    ("lat", "p50_us", "p50 us", 2, "lower; goal <= 0.50"),
    ("lat", "p90_us", "p90 us", 2, "lower"),
    ("lat", "p99_us", "p99 us", 2, "lower"),
    ("lat", "p999_us", "p99.9 us", 2, "lower"),
    ("lat", "max_us", "max us", 1, "lower"),
]

print(f"## inproc: zmx vs {libzmq_name} (median of {runs} runs)")
print()
print(f"- machine: {machine}")
print(f"- size {size} B; thr {int(thr_count):,} msgs (PUSH->PULL); lat {int(lat_count):,} round trips (PAIR); cpus {cpus}")
print()
print("zmx block: the default (poll up to ZMX_SPIN_US = 50 us, then sleep); zmx sleep: block with")
print("ZMX_SPIN_US = 0 (sleeps at once, like libzmq); zmx spin: ZMX_IDLE_SPIN.")
print()
print(f"| mode | metric | zmx block | zmx sleep | zmx spin | {libzmq_name} | block / libzmq | sleep / libzmq | spin / libzmq | better |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for mode, key, label, digits, better in metrics:
    zb = median("zmx_block", mode, key)
    zz = median("zmx_sleep", mode, key)
    zs = median("zmx_spin", mode, key)
    lz = median("libzmq_block", mode, key)
    print(f"| {mode} | {label} | {fmt(zb, digits)} | {fmt(zz, digits)} | {fmt(zs, digits)} | {fmt(lz, digits)} "
          f"| {ratio(zb, lz)} | {ratio(zz, lz)} | {ratio(zs, lz)} | {better} |")

def spread(variant, mode, key, digits):
    vals = [r[key] for r in rows
            if r["variant"] == variant and r.get("mode") == mode and not r.get("failed")
            and r.get(key) is not None]
    return "n/a" if not vals else f"{min(vals):,.{digits}f} .. {max(vals):,.{digits}f}"

print()
print("spread over the runs (min .. max):")
print()
print(f"| mode | metric | zmx block | zmx sleep | zmx spin | {libzmq_name} |")
print("|---|---|---:|---:|---:|---:|")
for mode, key, label, digits, _ in metrics:
    cells = " | ".join(spread(v, mode, key, digits) for v in ("zmx_block", "zmx_sleep", "zmx_spin", "libzmq_block"))
    print(f"| {mode} | {label} | {cells} |")

bad = [(v, m, failed(v, m)) for v in ("zmx_block", "zmx_sleep", "zmx_spin", "libzmq_block") for m in ("thr", "lat") if failed(v, m)]
if bad:
    print()
    print("failed runs: " + ", ".join(f"{v} {m} x{n}" for v, m, n in bad))
print()
print(f"raw results: {path}")
PY

[[ $failures -eq 0 ]] || exit 1
