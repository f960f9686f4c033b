#!/bin/bash
# The cost of JWT verification on an authenticated route, side by side:
# two bulwark binaries (before and after a change, e.g. the verified-
# signature cache of app/crypto/jwt_verify.c) serve GET /api/users/me with
# the same Bearer token under the same policy: the default one with the
# general and per-subject limits raised so that the benchmark measures
# requests, not 429s (1,000,000 per window, the most the schema allows;
# keep N below it) (`policy check` still passes it).
#
#   tests/bench/jwt-cache.sh BEFORE_BIN [AFTER_BIN]   (AFTER: build/bin/bulwark)
#
# Each server runs REPS times, alternating: h2load HTTP/2 -n N -c C -m M.
# Reported: median req/s, ratio after/before, server CPU µs per request
# (utime+stime from /proc/PID/stat over the run).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BEFORE=${1:?usage: tests/bench/jwt-cache.sh BEFORE_BIN [AFTER_BIN]}
AFTER=${2:-$ROOT/build/bin/bulwark}
DEMO=${BULWARK_DEMO:-$ROOT/build/demo}
REPS=${REPS:-3}; N=${N:-20000}; C=${C:-10}; M=${M:-10}; THREADS=${THREADS:-1}

die() { echo "jwt-cache: $*" >&2; exit 1; }
for b in "$BEFORE" "$AFTER"; do [ -x "$b" ] || die "no binary at $b"; done
command -v h2load >/dev/null || die "h2load not installed: apt-get install nghttp2-client"

WORK=$(mktemp -d /tmp/bulwark-jwtbench.XXXXXX)
PIDS=()
declare -A PORT PID
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

sed -e '/^    general:/,/^    [a-z]/s/requests: 100$/requests: 1000000/' \
    -e '/^    api_subject:/,/^    [a-z]/s/requests: 1000$/requests: 1000000/' \
    "$ROOT/policy/default.yaml" >"$WORK/policy.yaml"
"$AFTER" policy check "$WORK/policy.yaml" >/dev/null || die "the bench policy fails policy check"

# shellcheck source=tests/bench/common.sh
. "$ROOT/tests/bench/common.sh"

start_bulwark before "$BEFORE" "$WORK/policy.yaml"
start_bulwark after "$AFTER" "$WORK/policy.yaml"

PASSWORD=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["alice"])' "$DEMO/credentials.json")
TOKEN=$(curl -sk "https://localhost:${PORT[after]}/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"alice\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
[ -n "$TOKEN" ] || die "login failed"

: >"$WORK/results"
for _ in $(seq "$REPS"); do
    for who in before after; do
        r=$(measure "${PID[$who]}" "$N" 2xx -n "$N" -c "$C" -m "$M" -H "authorization: Bearer $TOKEN" \
            "https://localhost:${PORT[$who]}/api/users/me")
        echo "$who $r" >>"$WORK/results"
    done
done

python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {w: (statistics.median(float(r[1]) for r in rows if r[0] == w),
           statistics.median(int(r[2]) for r in rows if r[0] == w)) for w in ("before", "after")}
print("GET /api/users/me, HTTP/2, medians of %d runs" % (len(rows) // 2))
print("%-7s %12s %14s" % ("", "req/s", "CPU us/req"))
for w in ("before", "after"):
    print("%-7s %12.0f %14d" % (w, med[w][0], med[w][1]))
print("ratio after/before: %.2f req/s, %.2f CPU" % (med["after"][0] / med["before"][0], med["after"][1] / max(med["before"][1], 1)))
PY
