#!/usr/bin/env bash
# compare-libzmq.sh: zmx against the system's libzmq over a fixed matrix
# (scenarios lat, thr, fanout, reqrep x transports x message sizes), in one run.
#
# Every cell is one `zmx-perf SCENARIO --vs-libzmq --runs N --json FILE` invocation, so both
# libraries run in the same process, alternating (zmx-perf swaps who goes first each run).
# Before a (scenario, transport) row, a tiny zmx-only probe checks that zmx supports it:
# when zmx-perf exits 3 ("not supported by this build") the row is listed as n/a and
# neither library runs it; once zmx has the socket type, the row fills in by itself.
#
# stdout: a markdown section (machine, exact command, medians, zmx/libzmq ratios) and a
# link to a PNG chart (gnuplot). Progress and build logs go to stderr. Raw JSON and
# zmx-perf's own reports are kept in build/release/compare-libzmq-<time>/.
# --write also puts the section into bench/RESULTS.md between the compare-libzmq markers
# (the rest of the file is left alone) and the chart into bench/results.png.
#
# Exit status: 0 every supported cell ran, 1 a run failed or the build failed (the report
# is still printed), 2 bad arguments.
# Needs bash, /usr/bin/python3 (standard library) and, for the chart, gnuplot (gnuplot-nox).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build/release"
all_scenarios=(lat thr fanout reqrep)
sizes_csv="16,256,4096,65536"
transports_csv="inproc,tcp,ipc"
runs=""
quick=0
do_build=1
do_write=0
bin=""

usage() {
    cat <<EOF
usage: scripts/compare-libzmq.sh [options]
Runs zmx-perf lat, thr, fanout, reqrep for every transport and size, zmx and libzmq
alternating in one process, and prints a markdown report with medians and ratios.
  --quick           short counts and 2 runs (scripts/run.sh uses this)
  --runs N          runs per library and cell, medians reported (default 5; --quick: 2)
  --sizes A,B,...   message sizes in bytes, each >= 1 (default $sizes_csv)
  --transports X,Y  any of inproc,tcp,ipc (default $transports_csv)
  --no-build        do not configure/build; use the existing zmx-perf
  --write           also write the section into bench/RESULTS.md (between its
                    compare-libzmq markers) and the chart to bench/results.png
  --bin PATH        the zmx-perf to run (default build/release/bench/zmx_perf/zmx-perf)
  -h, --help        this text
Exit status: 0 ok, 1 a run or the build failed, 2 bad arguments.
EOF
}

die_usage() {
    echo "compare-libzmq: $*" >&2
    usage >&2
    exit 2
}
die() {
    echo "compare-libzmq: $*" >&2
    exit 1
}

orig_args=("$@")
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) quick=1; shift ;;
        --runs)
            if ! [[ $# -ge 2 && $2 =~ ^[0-9]{1,4}$ ]] || ((10#$2 < 1 || 10#$2 > 1000)); then
                die_usage "--runs needs an integer from 1 to 1000"
            fi
            runs=$((10#$2)); shift 2 ;;
        --sizes)
            [[ $# -ge 2 && $2 =~ ^[0-9]+(,[0-9]+)*$ ]] || die_usage "--sizes needs a comma-separated list of sizes in bytes"
            sizes_csv=$2; shift 2 ;;
        --transports)
            [[ $# -ge 2 && -n $2 ]] || die_usage "--transports needs a comma-separated list (inproc,tcp,ipc)"
            transports_csv=$2; shift 2 ;;
        --no-build) do_build=0; shift ;;
        --write) do_write=1; shift ;;
        --bin)
            [[ $# -ge 2 && -n $2 ]] || die_usage "--bin needs a path"
            bin=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die_usage "unknown argument: $1" ;;
    esac
done

IFS=, read -r -a sizes <<<"$sizes_csv"
for s in "${sizes[@]}"; do
    ((${#s} <= 10 && 10#$s >= 1 && 10#$s <= 268435456)) || die_usage "--sizes: $s is not a size from 1 to 268435456 bytes"
done
for i in "${!sizes[@]}"; do sizes[i]=$((10#${sizes[i]})); done
IFS=, read -r -a transports <<<"$transports_csv"
for t in "${transports[@]}"; do
    case $t in
        inproc|tcp|ipc) ;;
        *) die_usage "--transports: '$t' is not one of inproc, tcp, ipc" ;;
    esac
done
if [[ -z $runs ]]; then
    # Two runs, so each library goes first once.
    if [[ $quick -eq 1 ]]; then runs=2; else runs=5; fi
fi
[[ -n $bin ]] || bin="$build_dir/bench/zmx_perf/zmx-perf"
python=/usr/bin/python3
[[ -x $python ]] || die "$python is needed (scripts/deps.sh installs it)"
report_py="$root/scripts/compare_libzmq_report.py"
[[ -f $report_py ]] || die "missing $report_py"

# Counts per run. Streams send at most a byte budget, so large messages do not run for minutes.
if [[ $quick -eq 1 ]]; then
    lat_count=5000; lat_warmup=500; stream_max=200000; stream_bytes=$((256 << 20))
else
    lat_count=20000; lat_warmup=1000; stream_max=2000000; stream_bytes=$((1 << 30))
fi
stream_min=2000
stream_count() {
    local n=$((stream_bytes / $1))
    if ((n > stream_max)); then n=$stream_max; fi
    if ((n < stream_min)); then n=$stream_min; fi
    echo "$n"
}

# ---- build ----
cd "$root"
if [[ $do_build -eq 1 ]]; then
    # Only zmx-perf (and the library it links), so a test that does not compile mid-edit
    # does not stop a comparison. Build output goes to stderr: stdout is the report.
    if [[ ! -f $build_dir/build.ninja ]]; then
        cmake --preset release >&2 || die "cmake --preset release failed"
    fi
    cmake --build --preset release --target zmx-perf >&2 || die "building zmx-perf failed"
fi
[[ -x $bin ]] || die "no zmx-perf at $bin (build it, or drop --no-build)"

# ---- machine, taken before any run ----
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
cores="$(nproc) CPUs online"
if command -v lscpu >/dev/null 2>&1; then
    topo=$(LC_ALL=C lscpu 2>/dev/null | awk -F': *' '
        /^Socket\(s\)/ {s=$2} /^Core\(s\) per socket/ {c=$2} /^Thread\(s\) per core/ {t=$2}
        /^Hypervisor vendor/ {h=$2}
        END { if (s != "" && c != "" && t != "") printf "%s socket(s) x %s core(s) x %s thread(s)", s, c, t;
              if (h != "") printf ", %s guest", h }')
    [[ -z $topo ]] || cores="$cores ($topo)"
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
kernel="$(uname -sr)"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown && -n $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    commit="$commit (with local changes)"
fi
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
command_line="scripts/compare-libzmq.sh"
for a in "${orig_args[@]}"; do
    if [[ $a =~ ^[A-Za-z0-9_,./=:+-]+$ ]]; then command_line+=" $a"; else command_line+=" $(printf '%q' "$a")"; fi
done

# ---- runs ----
out_dir=$build_dir
[[ -d $out_dir && -w $out_dir ]] || out_dir=${TMPDIR:-/tmp}
out_dir="$out_dir/compare-libzmq-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$out_dir"
manifest="$out_dir/manifest.tsv"
: >"$manifest"
t_start=$SECONDS
cells_total=$(( ${#all_scenarios[@]} * ${#transports[@]} * ${#sizes[@]} ))
cell=0

# record SCENARIO TRANSPORT SIZE KIND RC JSON LOG
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$manifest"; }

for scenario in "${all_scenarios[@]}"; do
    for transport in "${transports[@]}"; do
        # Does zmx support this scenario on this transport? Exit 3 means no.
        probe_json="$out_dir/probe-$scenario-$transport.json"
        probe_log="$out_dir/probe-$scenario-$transport.log"
        rc=0
        "$bin" "$scenario" --lib zmx --transport "$transport" --size 16 --count 10 --warmup 0 \
            --interval 0 --timeout 10 --json "$probe_json" >"$probe_log" 2>&1 || rc=$?
        if [[ $rc -eq 3 ]]; then
            echo "compare-libzmq: $scenario over $transport: not supported by zmx (n/a)" >&2
            record "$scenario" "$transport" - probe "$rc" "$probe_json" "$probe_log"
            cell=$((cell + ${#sizes[@]}))
            continue
        fi
        for size in "${sizes[@]}"; do
            cell=$((cell + 1))
            json="$out_dir/$scenario-$transport-$size.json"
            log="$out_dir/$scenario-$transport-$size.log"
            args=("$scenario" --transport "$transport" --size "$size" --runs "$runs" --vs-libzmq
                  --interval 0 --json "$json")
            case $scenario in
                lat|reqrep) args+=(--count "$lat_count" --warmup "$lat_warmup") ;;
                *) args+=(--count "$(stream_count "$size")") ;;
            esac
            t0=$SECONDS
            rc=0
            "$bin" "${args[@]}" >"$log" 2>&1 || rc=$?
            case $rc in
                0) verdict=ok ;;
                3) verdict="partly unsupported (see $log)" ;;
                *) why=$(grep -m 1 -E 'FAILED|^zmx-perf: ' "$log" || tail -n 1 "$log")
                   verdict="FAILED, exit $rc: ${why#"${why%%[![:space:]]*}"}" ;;
            esac
            echo "compare-libzmq: [$cell/$cells_total] $scenario $transport $size B: $verdict ($((SECONDS - t0)) s)" >&2
            record "$scenario" "$transport" "$size" run "$rc" "$json" "$log"
        done
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$((SECONDS - t_start))

# ---- report ----
report_args=(--manifest "$manifest" --out-dir "$out_dir" --root "$root"
             --command "$command_line" --started "$started" --commit "$commit"
             --cpu "${cpu_model:-unknown}" --cores "$cores" --kernel "$kernel"
             --load-start "$load_start" --load-end "$load_end" --nproc "$(nproc)"
             --elapsed "$elapsed" --runs "$runs" --sizes "$(IFS=,; echo "${sizes[*]}")"
             --lat-count "$lat_count" --lat-warmup "$lat_warmup")
for size in "${sizes[@]}"; do report_args+=(--stream-count "$size=$(stream_count "$size")"); done
if [[ $do_write -eq 1 ]]; then
    report_args+=(--write "$root/bench/RESULTS.md" --chart "$root/bench/results.png")
else
    report_args+=(--chart "$out_dir/results.png")
fi
"$python" "$report_py" "${report_args[@]}"
