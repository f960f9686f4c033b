#!/bin/bash
# Bulwark side by side with two peers serving the same contract (issue 5,
# section 6): Debian's nginx configured with the default policy as far as
# its configuration can express it (tests/bench/peers/nginx.conf.in), and a
# FastAPI app on uvicorn with `limits` (tests/bench/peers/fastapi_app.py,
# our own implementation of the contract). All three use the demo
# certificate, on 127.0.0.1, with ONE worker each: bulwark --threads 1,
# nginx worker_processes 1 (the master and its worker are measured), one
# uvicorn process with one event loop.
#
#   tests/bench/peers.sh           the benchmark (a markdown table)
#   tests/bench/peers.sh --check   each server against the contract, no load
#
# Both modes first hold every server to the contract with curl
# (tests/bench/peers/check.py); --check also starts them with a general
# limit of 5 per minute and checks the 429. The benchmark raises the
# general limit to 1,000,000 per minute for all three (nginx: limit_req
# rate=1000000r/m burst=999999), more than a run sends, so that it measures
# answers, not 429s: every request of every run must get the expected
# status (h2load's per-request log), or the script fails.
#
# Loads, REPS (3) times each, servers alternating:
#   h1      HTTP/1.1 keep-alive  h2load --h1 -n H1_N -c 50   GET /healthz
#   h1-404  the same on a path no route has (the JSON 404)
#   h2      HTTP/2               h2load -n H2_N -c 50 -m 10   GET /healthz
#   h2-404  the same on the 404 path
# The FastAPI app gets the HTTP/1.1 loads only (uvicorn has no HTTP/2),
# with PY_N requests (it is two orders of magnitude slower).
# Reported: median req/s and median server CPU µs per request
# (utime+stime of the server's processes over the run), the ratios
# Bulwark/nginx (req/s), nginx/Bulwark and FastAPI/Bulwark (CPU per
# request), each the median of the per-repetition ratios.
# Env: BULWARK_BIN, BULWARK_DEMO, REPS, H1_N, H2_N, PY_N, KEEP_WORK=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BULWARK_BIN:-$ROOT/build/bin/bulwark}
DEMO=${BULWARK_DEMO:-$ROOT/build/demo}
PEERS=$ROOT/tests/bench/peers
REPS=${REPS:-3}; H1_N=${H1_N:-20000}; H2_N=${H2_N:-100000}; PY_N=${PY_N:-4000}
THREADS=1
PY=/usr/bin/python3  # Debian's, which has the packages (not a pyenv shim)
CHECK_LIMIT=5
BENCH_LIMIT=1000000

MODE=bench
case ${1:-} in
--check) MODE=check ;;
"") ;;
*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

die() { echo "peers: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "no bulwark binary at $BIN (./build.sh builds it, or set BULWARK_BIN)"
[ -r "$DEMO/secrets/tls-cert.pem" ] || die "no demo identity under $DEMO (./build.sh makes it)"
mapfile -t want < <(sed 's/#.*//' "$ROOT/tests/bench/host-packages.txt" | tr -s ' \t' '\n' | sed '/^$/d')
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || die "missing host packages (tests/bench/host-packages.txt); as root:
  apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$MODE" = bench ]; then
    [ $(( REPS * (H1_N + H2_N) )) -lt "$BENCH_LIMIT" ] || die "REPS*(H1_N+H2_N) must stay under $BENCH_LIMIT"
    [ $(( REPS * PY_N )) -lt "$BENCH_LIMIT" ] || die "REPS*PY_N must stay under $BENCH_LIMIT"
fi

WORK=$(mktemp -d /tmp/bulwark-peers.XXXXXX)
chmod 755 "$WORK"  # nginx's worker runs as nobody
PIDS=()
declare -A PORT PID
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# shellcheck source=tests/bench/common.sh
. "$ROOT/tests/bench/common.sh"

wait_healthz() {  # NAME PORT: until /healthz answers
    for _ in $(seq 150); do
        curl -sk "https://localhost:$2/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$1 did not start: $(tail -5 "$WORK/$1".{err,out} 2>/dev/null)"
}

# start_servers LIMIT: the three servers, a general limit of LIMIT per
# minute per client address (/healthz exempt) in each
start_servers() {
    local limit=$1 port master worker
    sed -e "/^    general:/,/^    [a-z]/s/requests: 100\$/requests: $limit/" "$ROOT/policy/default.yaml" >"$WORK/policy.yaml"
    grep -q "requests: $limit\$" "$WORK/policy.yaml" || die "could not set the general limit in the policy"
    "$BIN" policy check "$WORK/policy.yaml" >/dev/null || die "the bench policy fails policy check"
    start_bulwark bulwark "$BIN" "$WORK/policy.yaml"

    # limit_req's bucket admits burst+1 at once
    port=$(free_port)
    mkdir -p "$WORK/empty"
    sed -e "s|@WORK@|$WORK|g; s|@PORT@|$port|g; s|@CERT@|$DEMO/secrets/tls-cert.pem|; s|@KEY@|$DEMO/secrets/tls-key.pem|" \
        -e "s|@RATE@|${limit}r/m|; s|@BURST@|$((limit - 1))|" "$PEERS/nginx.conf.in" >"$WORK/nginx.conf"
    ! grep -n '@[A-Z]*@' "$WORK/nginx.conf" || die "a placeholder is left in nginx.conf"
    nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx.err" 2>"$WORK/nginx.out" &
    master=$!
    PIDS+=("$master")
    wait_healthz nginx "$port"
    worker=$(pgrep -P "$master")
    [ "$(echo "$worker" | wc -l)" = 1 ] || die "nginx has not exactly one worker: $worker"
    PORT[nginx]=$port
    PID[nginx]=$master,$worker

    port=$(free_port)
    "$PY" "$PEERS/fastapi_app.py" --port "$port" --cert "$DEMO/secrets/tls-cert.pem" \
        --key "$DEMO/secrets/tls-key.pem" --general-limit "$limit/minute" >"$WORK/fastapi.log" 2>"$WORK/fastapi.err" &
    PIDS+=("$!")
    PID[fastapi]=$!
    wait_healthz fastapi "$port"
    PORT[fastapi]=$port
}

stop_servers() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}

# check_servers [--rate-limit N]: each server against the contract
check_servers() {
    local failed=0
    "$PY" "$PEERS/check.py" bulwark "https://localhost:${PORT[bulwark]}" --h2 "$@" || failed=1
    "$PY" "$PEERS/check.py" nginx "https://localhost:${PORT[nginx]}" --h2 --server-header nginx "$@" || failed=1
    "$PY" "$PEERS/check.py" fastapi "https://localhost:${PORT[fastapi]}" "$@" || failed=1
    [ "$failed" = 0 ] || die "a server breaks the contract (above)"
}

# --- the contract ----------------------------------------------------------------
if [ "$MODE" = check ]; then
    start_servers "$CHECK_LIMIT"
    check_servers --rate-limit "$CHECK_LIMIT"
    stop_servers
fi
start_servers "$BENCH_LIMIT"
check_servers
[ "$MODE" = check ] && exit 0

# --- the runs ----------------------------------------------------------------------
# run WHO LOAD REP: one measured h2load run; every request must get the status
# (200 on /healthz, 404 elsewhere), per h2load's per-request log
run() {
    local who=$1 load=$2 rep=$3 n=$H1_N path=/healthz status=200 args r counts
    case $load in
    *-404) path=/no-such-route status=404 ;;
    esac
    case $load in
    h1*) [ "$who" = fastapi ] && n=$PY_N; args=(--h1 -n "$n" -c 50) ;;
    h2*) n=$H2_N; args=(-n "$n" -c 50 -m 10) ;;
    esac
    rm -f "$WORK/requests.tsv"  # h2load appends
    r=$(measure "${PID[$who]}" "$n" "${status:0:1}xx" "${args[@]}" --log-file "$WORK/requests.tsv" \
        "https://localhost:${PORT[$who]}$path")
    counts=$(awk -v s="$status" '{n++; if ($2 != s) bad++} END {print n + 0, bad + 0}' "$WORK/requests.tsv")
    [ "$counts" = "$n 0" ] || die "$who $load: of $n requests (logged, wrong status): $counts"
    echo "$load $who $rep $r" >>"$WORK/results"
}

{
    echo "bulwark: $("$BIN" version 2>/dev/null | sed -n 1p)"
    echo "nginx: $(nginx -v 2>&1)"
    echo "fastapi: $("$PY" -c 'import fastapi, uvicorn, limits, starlette
print("fastapi", fastapi.__version__, "starlette", starlette.__version__, "uvicorn", uvicorn.__version__, "limits", limits.__version__)')"
    echo "uvicorn: $(grep -m1 -o 'Uvicorn running.*' "$WORK/fastapi.err" || true)"
    echo "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg); reps: $REPS"
} >&2
START=$(date +%s)
# warm-up, not counted
for who in bulwark nginx fastapi; do
    h2load --h1 -n 500 -c 10 "https://localhost:${PORT[$who]}/healthz" >/dev/null
done
: >"$WORK/results"
for rep in $(seq "$REPS"); do
    for load in h1 h1-404 h2 h2-404; do
        for who in bulwark nginx fastapi; do
            [ "$who" = fastapi ] && [ "${load:0:2}" = h2 ] && continue
            run "$who" "$load" "$rep"
        done
    done
    echo "  rep $rep done ($(( $(date +%s) - START )) s)" >&2
done
for who in bulwark nginx fastapi; do
    kill -0 "${PID[$who]%%,*}" 2>/dev/null || die "$who died during the run"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PY" - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]  # load who rep req/s cpu
def runs(load, who, col):
    return [float(r[col]) for r in rows if r[0] == load and r[1] == who]
def med(load, who, col):
    v = runs(load, who, col)
    return statistics.median(v) if v else None
def ratio(load, a, b, col):
    """median of the per-repetition ratios a/b (the two ran back to back)"""
    x, y = runs(load, a, col), runs(load, b, col)
    return statistics.median(p / q for p, q in zip(x, y)) if x and y else None
names = {"h1": "HTTP/1.1 /healthz", "h1-404": "HTTP/1.1 404", "h2": "HTTP/2 /healthz", "h2-404": "HTTP/2 404"}
fmt = lambda v, f="%.0f": "—" if v is None else f % v
print("| load | Bulwark req/s | nginx req/s | FastAPI req/s | Bulwark/nginx req/s "
      "| Bulwark CPU µs/req | nginx CPU µs/req | FastAPI CPU µs/req | nginx/Bulwark CPU | FastAPI/Bulwark CPU |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for load in ("h1", "h1-404", "h2", "h2-404"):
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        (names[load],) + tuple(fmt(med(load, w, 3)) for w in ("bulwark", "nginx", "fastapi")) +
        (fmt(ratio(load, "bulwark", "nginx", 3), "%.2f×"),) +
        tuple(fmt(med(load, w, 4)) for w in ("bulwark", "nginx", "fastapi")) +
        (fmt(ratio(load, "nginx", "bulwark", 4), "%.2f×"), fmt(ratio(load, "fastapi", "bulwark", 4), "%.1f×"))))
print()
print("Runs (req/s, CPU µs/req): " + "; ".join(
    "%s %s %s" % (load, who, [(round(float(r[3])), int(r[4])) for r in rows if r[0] == load and r[1] == who])
    for load in ("h1", "h1-404", "h2", "h2-404") for who in ("bulwark", "nginx", "fastapi")
    if any(r[0] == load and r[1] == who for r in rows)))
print("Medians of the runs; a ratio is the median of the per-repetition ratios (the servers ran back to back). "
      "One worker each. Aims (issue 5): Bulwark/nginx req/s >= 3x on HTTP/2, >= 1.1x on HTTP/1.1 keep-alive; "
      "FastAPI/Bulwark >= 100x CPU per request.")
PY
