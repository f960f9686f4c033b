#!/bin/bash
# What the middleware chain costs: build/bin/bulwark (the full default
# policy: request id, trusted hosts, security headers, CORS, rate limits,
# input limits, auth, error sanitiser, JSON access log) against
# build/bench/bulwark-bare (the same sources with serve.c built with
# BULWARK_BENCH_BARE: router and builtin routes only), on /healthz, same
# TLS, same thread count.  The target is at most 10% less throughput.
#
#   tests/bench/middleware-overhead.sh
#
# Loads (REPS alternating runs each): HTTP/1.1 keep-alive
# (h2load --h1 -n H1_N -c 50) and HTTP/2 (h2load -n H2_N -c 50 -m 10) on
# the builtin JSON route /healthz, and HTTP/2 on a path no route has (the
# JSON 404 of the router's fallback).
# The default policy's general limit (100/min) is raised to the schema's
# maximum for the run; nothing else changes.  Reported: median req/s,
# ratio full/bare, server CPU µs per request.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FULL=${BULWARK_BIN:-$ROOT/build/bin/bulwark}
BARE=${BULWARK_BARE_BIN:-$ROOT/build/bench/bulwark-bare}
DEMO=${BULWARK_DEMO:-$ROOT/build/demo}
REPS=${REPS:-3}; H1_N=${H1_N:-100000}; H2_N=${H2_N:-300000}; THREADS=${THREADS:-1}

die() { echo "middleware-overhead: $*" >&2; exit 1; }
for b in "$FULL" "$BARE"; do [ -x "$b" ] || die "no binary at $b (./build.sh builds both)"; done

# shellcheck source=tests/bench/common.sh
. "$ROOT/tests/bench/common.sh"
loads_init mwbench
"$FULL" policy check "$WORK/policy.yaml" >/dev/null || die "the bench policy fails policy check"

start_bulwark full "$FULL" "$WORK/policy.yaml"
start_bulwark bare "$BARE" "$WORK/policy.yaml"
# the bare server really is bare: no security headers
curl -skI "https://localhost:${PORT[bare]}/healthz" | grep -qi '^strict-transport-security' && die "bulwark-bare has middleware"
curl -skI "https://localhost:${PORT[full]}/healthz" | grep -qi '^strict-transport-security' || die "the full server has no HSTS"

run_loads full bare
report_loads full bare
