#!/usr/bin/env bash
# fuzz.sh: build the libFuzzer targets (preset "fuzz", clang) and run each for a bounded
# time over a COPY of its corpus (tests/fuzz/corpus/<target>) plus freshly generated seeds,
# so the repository is never written unless asked. Exits 1 if any target crashed, hung or
# broke an invariant (the input that did it is left in build/fuzz/artifacts/).
#
#   scripts/fuzz.sh                     # CI: every target, 40 s each
#   scripts/fuzz.sh --time 600 zmtp_handshake
#   scripts/fuzz.sh --time 300 --merge  # then add new interesting inputs to the corpus
#   scripts/fuzz.sh --minimize          # rewrite each corpus as a minimal set (no fuzzing)
#
# Options: --time S (seconds per target), --merge (after fuzzing, merge inputs that reach
# new edges into tests/fuzz/corpus/<target>), --minimize (keep the named inputs regress-*
# and seed-*, replace the others by the smallest subset of corpus + generated seeds that
# reaches the same edges).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

time_s=40
merge=0
minimize=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) time_s=$2; shift 2 ;;
        --merge) merge=1; shift ;;
        --minimize) minimize=1; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -eq 0 ] && targets=(zmtp_decoder zmtp_handshake zmtp_command)

bash scripts/deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

bin=build/fuzz/tests/fuzz
work=build/fuzz/work
artifacts=build/fuzz/artifacts
rm -rf "$work"
mkdir -p "$work" "$artifacts"
# Seeds with valid CURVE boxes for this build's handshake code.
"$bin/fuzz_corpus_gen" "$work/generated" >/dev/null

# Limits: a single input may take at most 10 s and 2 GiB (libFuzzer then reports it).
flags=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -max_len=4096 -print_final_stats=1
       -dict=tests/fuzz/zmtp.dict)
passed=0
failed=0
for t in "${targets[@]}"; do
    repo="tests/fuzz/corpus/$t"
    corpus="$work/$t"
    mkdir -p "$corpus" "$repo"
    cp -r "$repo/." "$corpus/" 2>/dev/null || true
    cp -r "$work/generated/$t/." "$corpus/" 2>/dev/null || true
    if [ "$minimize" -eq 1 ]; then
        # Named inputs (regress-*, seed-*) stay as they are; the rest is replaced by the
        # smallest set that adds edges beyond them (-use_counters=0: edges, not hit counts).
        fresh="$work/$t.min"
        mkdir -p "$fresh" "$work/$t.named"
        find "$repo" -maxdepth 1 -type f \( -name 'regress-*' -o -name 'seed-*' \) -exec cp {} "$work/$t.named/" \;
        cp "$work/$t.named/." "$fresh/" -r
        "$bin/${t}_fuzz" "${flags[@]}" -use_counters=0 -merge=1 "$fresh" "$corpus" 2>"$work/$t.merge.log"
        rm -rf "$repo"
        cp -r "$fresh" "$repo"
        echo "fuzz: $t: corpus minimised to $(ls "$repo" | wc -l) files"
        continue
    fi
    echo "fuzz: $t for ${time_s}s ($(ls "$corpus" | wc -l) inputs to start from)"
    if "$bin/${t}_fuzz" "${flags[@]}" -max_total_time="$time_s" -artifact_prefix="$artifacts/$t-" \
        "$corpus" >"$work/$t.log" 2>&1; then
        passed=$((passed + 1))
        grep -E "^stat::(number_of_executed_units|new_units_added|peak_rss_mb)" "$work/$t.log" | sed "s/^/fuzz: $t: /" || true
    else
        failed=$((failed + 1))
        echo "fuzz: $t FAILED; the end of its log ($work/$t.log):"
        tail -n 60 "$work/$t.log"
        ls -l "$artifacts" | grep -- "$t-" || true
    fi
    if [ "$merge" -eq 1 ]; then
        "$bin/${t}_fuzz" "${flags[@]}" -use_counters=0 -merge=1 "$repo" "$corpus" 2>"$work/$t.merge.log"
        echo "fuzz: $t: corpus now $(ls "$repo" | wc -l) files"
    fi
done
[ "$minimize" -eq 1 ] && exit 0
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
