#!/bin/bash
# Runs the libFuzzer targets (build/sanitize/fuzz/, made by
# `tests/sanitize/build.sh fuzz`):
#
#   tests/fuzz/run.sh [--seconds N] [TARGET...]     (default: 60 s, every target)
#
# For each target, in order:
#   1. every file of tests/fuzz/regressions/TARGET/ is run once: inputs that
#      once crashed it must not any more;
#   2. it fuzzes for N seconds from its seeds (tests/fuzz/corpus/TARGET/ and
#      the extra seed folders below) and the inputs earlier runs found
#      (build/sanitize/fuzz/corpus/TARGET/, kept between local runs).
# Exits non-zero when a regression fails or fuzzing finds a crash, a leak,
# a timeout or an out-of-memory; the input is kept in
# build/sanitize/fuzz/artifacts/ (README.md says how it becomes a regression).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/fuzz
OUT=$ROOT/build/sanitize/fuzz
TARGETS=(policy jwt json_schema client_addr http1 http2)
SECONDS_EACH=60
# one input may take this long (the HTTP targets: one connection)
INPUT_TIMEOUT_S=10
RSS_LIMIT_MB=2048

while [ $# -gt 0 ]; do
    case $1 in
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --seconds=*) SECONDS_EACH=${1#*=}; shift ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] && TARGETS=("$@")

# seeds besides the committed corpus: our own policy files
extra_seeds() {
    case $1 in
    policy) echo "$ROOT/policy $ROOT/policy/examples $ROOT/policy/examples/insecure" ;;
    esac
}

# a dictionary of the protocol's words, where one helps
dict_option() {
    if [ -f "$HERE/$1.dict" ]; then echo "-dict=$HERE/$1.dict"; fi
}

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:report_error_type=1"
export ASAN_OPTIONS="detect_stack_use_after_return=1:strict_string_checks=1"
ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
export ASAN_SYMBOLIZER_PATH

mkdir -p "$OUT/artifacts" "$OUT/logs"
failed=()
for t in "${TARGETS[@]}"; do
    bin=$OUT/fuzz_$t
    [ -x "$bin" ] || { echo "run.sh: no $bin: run 'tests/sanitize/build.sh fuzz'" >&2; exit 1; }
    log=$OUT/logs/$t.log
    : >"$log"

    regressions=("$HERE/regressions/$t"/*)
    if [ -e "${regressions[0]}" ]; then
        if ! "$bin" "${regressions[@]}" >>"$log" 2>&1; then
            echo "FAIL $t: a regression input crashes it again (log: ${log#"$ROOT"/})"
            failed+=("$t")
            continue
        fi
        printf 'ok   %-12s %d regression inputs\n' "$t" "${#regressions[@]}"
    fi

    mkdir -p "$OUT/corpus/$t"
    # shellcheck disable=SC2046
    if "$bin" -max_total_time="$SECONDS_EACH" -timeout="$INPUT_TIMEOUT_S" -rss_limit_mb="$RSS_LIMIT_MB" \
        -artifact_prefix="$OUT/artifacts/$t-" -print_final_stats=1 $(dict_option "$t") \
        "$OUT/corpus/$t" "$HERE/corpus/$t" $(extra_seeds "$t") >>"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        printf 'ok   %-12s %s s, %s inputs, %s\n' "$t" "$SECONDS_EACH" "${runs:-?}" "${cov:-cov: ?}"
    else
        echo "FAIL $t: see ${log#"$ROOT"/}; the input is in ${OUT#"$ROOT"/}/artifacts/"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -5 | sed 's/^/     /'
        failed+=("$t")
    fi
done

# The last line is the summary make test ends with: one count per target.
passed=$(( ${#TARGETS[@]} - ${#failed[@]} ))
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
    echo "$passed passed, ${#failed[@]} failed"
    exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets, ${SECONDS_EACH} s each: no findings"
echo "$passed passed, 0 failed"
