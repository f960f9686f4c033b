#!/bin/bash
# Two bulwark binaries side by side (before and after a change to the build,
# e.g. the mbedTLS configuration), on the loads of middleware-overhead.sh:
# HTTP/1.1 keep-alive and HTTP/2 on /healthz, and HTTP/2 on the router's 404,
# the same policy (the default one with its general limit raised to the
# schema's maximum), the same demo identity, the same thread count.
#
#   tests/bench/binaries.sh BEFORE_BIN [AFTER_BIN]   (AFTER: build/bin/bulwark)
#
# REPS (3) rounds, the two servers alternating within each load. Reported:
# median req/s, the ratio after/before, server CPU µs per request
# (utime+stime from /proc/PID/stat over each run).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BEFORE=${1:?usage: tests/bench/binaries.sh BEFORE_BIN [AFTER_BIN]}
AFTER=${2:-$ROOT/build/bin/bulwark}
DEMO=${BULWARK_DEMO:-$ROOT/build/demo}
REPS=${REPS:-3}; H1_N=${H1_N:-100000}; H2_N=${H2_N:-300000}; THREADS=${THREADS:-1}

die() { echo "binaries: $*" >&2; exit 1; }
for b in "$BEFORE" "$AFTER"; do [ -x "$b" ] || die "no binary at $b"; done
[ "$(readlink -f "$BEFORE")" != "$(readlink -f "$AFTER")" ] || die "BEFORE and AFTER are the same file"

# shellcheck source=tests/bench/common.sh
. "$ROOT/tests/bench/common.sh"
loads_init binbench
for b in "$BEFORE" "$AFTER"; do
    "$b" policy check "$WORK/policy.yaml" >/dev/null || die "$b: policy check refuses the bench policy"
done

start_bulwark before "$BEFORE" "$WORK/policy.yaml"
start_bulwark after "$AFTER" "$WORK/policy.yaml"
echo "before: $BEFORE ($(sha256sum <"$BEFORE" | cut -c1-16))"
echo "after:  $AFTER ($(sha256sum <"$AFTER" | cut -c1-16))"
run_loads after before
report_loads after before
