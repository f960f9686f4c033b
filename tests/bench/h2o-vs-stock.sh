#!/bin/bash
# Compare `bulwark serve` (h2o 2.2.5 on mbedTLS, static, musl) with Debian's
# stock h2o 2.2.5 (OpenSSL) serving the same {"status":"ok"} at /healthz with
# the same certificate, key and thread count, on 127.0.0.1 only.
#
# Three loads, each repeated REPS times per server, servers alternating:
#   h1  HTTP/1.1 keep-alive:   h2load --h1 -n H1_N -c H1_C
#   h2  HTTP/2, 10 streams:    h2load -n H2_N -c H2_C -m 10
#   hs  one full TLS handshake per request: HS_ROUNDS × h2load --h1 -n HS_C -c HS_C.
#       h2load resumes the TLS session on a client's later connections, so
#       "Connection: close" with several requests per client measures
#       resumptions, not handshakes. With -n equal to -c every client makes
#       exactly one connection and one request: no client ever has a session
#       to resume. The stock server's access log (connection id, session
#       reused) is counted after the run to prove it: see the "evidence" line.
# Reported: median req/s, ratio bulwark/stock, and server CPU time
# (utime+stime of the whole process from /proc/PID/stat, all threads) per
# request, which for "hs" is per full handshake. h2load shares the machine's
# cores, so req/s is partly bound by the client; CPU per request is not.
#
# Usage: tests/bench/h2o-vs-stock.sh            (from the repository root)
# Env:   BULWARK_BIN, BULWARK_DEMO, THREADS (server threads, default 1),
#        CLIENT_THREADS (h2load -t, default 1), REPS (3), and the sizes below.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BULWARK_BIN:-$ROOT/build/bin/bulwark}
DEMO=${BULWARK_DEMO:-$ROOT/build/demo}
CERT=$DEMO/secrets/tls-cert.pem
KEY=$DEMO/secrets/tls-key.pem
THREADS=${THREADS:-1}
CLIENT_THREADS=${CLIENT_THREADS:-1}
REPS=${REPS:-3}
H1_N=${H1_N:-30000}; H1_C=${H1_C:-50}
H2_N=${H2_N:-100000}; H2_C=${H2_C:-50}
HS_C=${HS_C:-500}; HS_ROUNDS=${HS_ROUNDS:-4}
RUN_LIMIT_S=60      # one h2load run; a hung run is a failure, not a hang
TOTAL_LIMIT_S=290   # the whole comparison stays under 5 minutes

die() { echo "h2o-vs-stock: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "no bulwark binary at $BIN (build it with ./build.sh, or set BULWARK_BIN)"
if [ ! -r "$CERT" ] || [ ! -r "$KEY" ]; then
    die "no demo certificate/key under $DEMO/secrets (set BULWARK_DEMO)"
fi
STOCK=$(command -v h2o || true)
[ -n "$STOCK" ] || die "stock h2o not installed: apt-get install h2o"
command -v h2load >/dev/null || die "h2load not installed: apt-get install nghttp2-client"

WORK=$(mktemp -d /tmp/bulwark-bench.XXXXXX)
chmod 755 "$WORK"  # stock h2o started as root serves files as "nobody"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
START=$(date +%s)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {  # wait until something accepts on 127.0.0.1:$1
    for _ in $(seq 100); do
        python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
cpu_ticks() {  # utime + stime of PID $1 (fields 14, 15; the name field may hold spaces)
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
CLK_TCK=$(getconf CLK_TCK)

# --- the two servers -----------------------------------------------------------
BPORT=$(free_port)
"$BIN" serve --https "127.0.0.1:$BPORT" --secrets "$DEMO/secrets" --cert "$CERT" --key "$KEY" --threads "$THREADS" \
    >"$WORK/bulwark.log" 2>"$WORK/bulwark.err" &
BPID=$!; PIDS+=("$BPID")
wait_port "$BPORT" || die "bulwark did not start: $(cat "$WORK/bulwark.err")"

SPORT=$(free_port)
printf '{"status":"ok"}' >"$WORK/healthz.json"
cat >"$WORK/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $SPORT
  ssl:
    certificate-file: $CERT
    key-file: $KEY
    minimum-version: TLSv1.2
    cipher-suite: "ECDHE+AESGCM:ECDHE+CHACHA20"
    cipher-preference: server
    ocsp-update-interval: 0
num-threads: $THREADS
send-server-name: OFF
file.mime.addtypes:
  application/json: .json
hosts:
  default:
    paths:
      /healthz:
        file.file: $WORK/healthz.json
# Logs every request, as bulwark does; connection id and resumption prove
# that the handshake runs make one full handshake per request.
access-log:
  path: $WORK/stock-access.log
  format: "%{connection-id}x %{ssl.session-reused}x %{ssl.protocol-version}x %H %s"
EOF
"$STOCK" -c "$WORK/h2o.conf" >"$WORK/stock.out" 2>&1 &
SPID=$!; PIDS+=("$SPID")
wait_port "$SPORT" || die "stock h2o did not start: $(cat "$WORK/stock.out")"

# --- runs ------------------------------------------------------------------------
# results: server mode rep reqs seconds ticks
RES="$WORK/results.txt"; : >"$RES"

h2load_run() {  # args...: prints "succeeded seconds", fails on any failed request
    local out
    out=$(timeout "$RUN_LIMIT_S" h2load "$@" 2>&1) || die "h2load $* failed:
$out"
    echo "$out" >>"$WORK/h2load.txt"
    echo "$out" | grep -q ' 0 failed, 0 errored, 0 timeout' || die "h2load $* had failures:
$out"
    echo "$out" | awk '/^finished in/ {t=$3; sub(/,$/,"",t);
            if (t ~ /ms$/) {sub(/ms$/,"",t); t/=1000} else if (t ~ /us$/) {sub(/us$/,"",t); t/=1e6}
            else sub(/s$/,"",t); secs=t}
        /^requests:/ {ok=$8}
        END {print ok, secs}'
}

measure() {  # server pid port mode rep
    local server=$1 pid=$2 port=$3 mode=$4 rep=$5
    local url="https://127.0.0.1:$port/healthz"
    local t0 t1 r reqs=0 secs=0
    t0=$(cpu_ticks "$pid")
    case $mode in
        h1) r=$(h2load_run --h1 -n "$H1_N" -c "$H1_C" -t "$CLIENT_THREADS" "$url"); reqs=${r% *}; secs=${r#* } ;;
        h2) r=$(h2load_run -n "$H2_N" -c "$H2_C" -m 10 -t "$CLIENT_THREADS" "$url"); reqs=${r% *}; secs=${r#* } ;;
        hs) for _ in $(seq "$HS_ROUNDS"); do
                r=$(h2load_run --h1 -n "$HS_C" -c "$HS_C" -t "$CLIENT_THREADS" "$url")
                reqs=$((reqs + ${r% *})); secs=$(awk -v a="$secs" -v b="${r#* }" 'BEGIN{print a+b}')
            done ;;
    esac
    t1=$(cpu_ticks "$pid")
    echo "$server $mode $rep $reqs $secs $((t1 - t0))" >>"$RES"
    [ $(( $(date +%s) - START )) -lt "$TOTAL_LIMIT_S" ] || die "over the ${TOTAL_LIMIT_S}s budget; lower the sizes"
}

echo "bulwark: $("$BIN" version 2>/dev/null || echo '?')  ($BIN)" >&2
echo "stock:   $("$STOCK" --version | head -2 | tr '\n' ' ')" >&2
echo "threads: server $THREADS, h2load $CLIENT_THREADS; cores: $(nproc); reps: $REPS" >&2
# Warm-up, not counted.
h2load_run -n 2000 -c 10 "https://127.0.0.1:$BPORT/healthz" >/dev/null
h2load_run -n 2000 -c 10 "https://127.0.0.1:$SPORT/healthz" >/dev/null
: >"$WORK/stock-access.log"

for mode in h1 h2 hs; do
    for rep in $(seq "$REPS"); do
        measure bulwark "$BPID" "$BPORT" "$mode" "$rep"
        before=$(wc -l <"$WORK/stock-access.log")
        measure stock "$SPID" "$SPORT" "$mode" "$rep"
        if [ "$mode" = hs ]; then
            sleep 0.2  # h2o writes its log asynchronously
            tail -n +$((before + 1)) "$WORK/stock-access.log" >>"$WORK/stock-hs.log"
        fi
        echo "  $mode rep $rep done ($(( $(date +%s) - START ))s)" >&2
    done
done
kill -0 "$BPID" 2>/dev/null || die "bulwark died during the run: $(cat "$WORK/bulwark.err")"

# Evidence for "one full handshake per request": in the stock server's log of
# the handshake runs, every request has its own connection and none resumed.
hs_evidence=$(awk '
    {conn[$1]=1; n++; if ($2 == "1") resumed++}
    END {c=0; for (k in conn) c++; printf "%d requests, %d connections, %d resumed", n, c, resumed+0}' \
    "$WORK/stock-hs.log")

# --- the table -------------------------------------------------------------------
python3 - "$RES" "$CLK_TCK" "$hs_evidence" <<'EOF'
import statistics, sys
res, tck, evidence = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
for line in open(res):
    server, mode, rep, reqs, secs, ticks = line.split()
    rows.setdefault((mode, server), []).append((int(reqs), float(secs), int(ticks)))
names = {"h1": "HTTP/1.1 keep-alive", "h2": "HTTP/2 (-m 10)", "hs": "full TLS handshake per request"}
print("| load | bulwark req/s | stock h2o req/s | ratio | bulwark CPU µs/req | stock CPU µs/req | CPU ratio |")
print("|---|---:|---:|---:|---:|---:|---:|")
for mode in ("h1", "h2", "hs"):
    med = {}
    for server in ("bulwark", "stock"):
        runs = rows[(mode, server)]
        rps = statistics.median(r / s for r, s, _ in runs)
        cpu = statistics.median(t / tck / r * 1e6 for r, _, t in runs)
        med[server] = (rps, cpu, [round(r / s) for r, s, _ in runs])
    b, s = med["bulwark"], med["stock"]
    print("| %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.2f |" % (
        names[mode], b[0], s[0], b[0] / s[0], b[1], s[1], b[1] / s[1] if s[1] else float("nan")))
print()
print("Runs (req/s): " + "; ".join("%s %s %s" % (m, srv, rows_) for (m, srv), rows_ in
      sorted((k, [round(r / s) for r, s, _ in v]) for k, v in rows.items())))
print("Handshake evidence (stock h2o's log of the hs runs): " + evidence)
print("ratio = bulwark/stock (req/s: higher is better; CPU: lower is better). "
      "CPU is server utime+stime per request; for the handshake load that is per full handshake.")
EOF
echo "total $(( $(date +%s) - START ))s" >&2
