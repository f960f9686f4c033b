# shellcheck shell=bash
# What the side-by-side bench scripts share (sourced): a free port, a
# process's CPU ticks, starting one bulwark under a policy, and the three
# /healthz loads with their table.
#
# The caller sets DEMO (the demo identity) and THREADS and defines die().
# A script that uses run_loads also sets REPS, H1_N and H2_N and calls
# loads_init, which makes WORK (a scratch folder) and the server arrays;
# any other sets WORK and declares `PIDS=()` and `declare -A PORT PID`.

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

CLK_TCK=$(getconf CLK_TCK)

cpu_ticks() {  # utime + stime of the PIDs given, summed (fields 14, 15; the name field may hold spaces)
    local p
    for p in "$@"; do sed 's/^.*) //' "/proc/$p/stat"; done | awk '{t += $12 + $13} END {print t}'
}

# start_bulwark NAME BIN POLICY: serves HTTPS on a free port until /healthz
# answers; PORT[NAME], PID[NAME]; stdout/stderr in $WORK/NAME.{log,err}
start_bulwark() {
    local port
    port=$(free_port)
    "$2" serve --https "127.0.0.1:$port" --policy "$3" --secrets "$DEMO/secrets" \
        --threads "$THREADS" >"$WORK/$1.log" 2>"$WORK/$1.err" &
    PIDS+=("$!")
    # shellcheck disable=SC2034  # the caller's arrays (declared there)
    PORT[$1]=$port
    # shellcheck disable=SC2034  # the caller's arrays (declared there)
    PID[$1]=$!
    for _ in $(seq 100); do
        curl -sk "https://localhost:$port/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$1 did not start: $(cat "$WORK/$1.err")"
}

# measure PID[,PID...] N CODE H2LOAD-ARGS...: one h2load run against the
# server (its processes' CPU summed); prints "REQ/S CPU_US_PER_REQUEST";
# dies unless all N requests got CODE (2xx or 4xx)
measure() {
    local pids n=$2 code=$3 out t0 t1 ok rps
    IFS=, read -ra pids <<<"$1"
    shift 3
    t0=$(cpu_ticks "${pids[@]}")
    out=$(timeout 120 h2load "$@" 2>&1) || die "h2load failed: $out"
    t1=$(cpu_ticks "${pids[@]}")
    if [ "$code" = 2xx ]; then
        ok=$(echo "$out" | sed -n 's/.*status codes: \([0-9]*\) 2xx.*/\1/p')
    else
        ok=$(echo "$out" | sed -n 's/.*status codes: .*, \([0-9]*\) 4xx.*/\1/p')
    fi
    [ "$ok" = "$n" ] || die "not every request got $code: $(echo "$out" | grep 'status codes')"
    rps=$(echo "$out" | sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p')
    echo "$rps $(( (t1 - t0) * 1000000 / CLK_TCK / n ))"
}

# run_loads NAME...: REPS rounds; in each, every load (HTTP/1.1 keep-alive
# /healthz: h2load --h1 -n H1_N -c 50; HTTP/2 /healthz: -n H2_N -c 50 -m 10;
# HTTP/2 on a path no route has, the router's JSON 404) runs against each
# named server in turn, so that drift in the machine's load falls on all of
# them alike. Lines "LOAD NAME REQ/S CPU_US" go to $WORK/results.
run_loads() {
    local load who n path code r args
    : >"$WORK/results"
    for _ in $(seq "$REPS"); do
        for load in h1 h2 h2-404; do
            for who in "$@"; do
                path=/healthz code=2xx
                case $load in
                h1) n=$H1_N; args=(--h1 -n "$n" -c 50) ;;
                h2) n=$H2_N; args=(-n "$n" -c 50 -m 10) ;;
                h2-404) n=$H2_N; args=(-n "$n" -c 50 -m 10); path=/no-such-route code=4xx ;;
                esac
                r=$(measure "${PID[$who]}" "$n" "$code" "${args[@]}" "https://localhost:${PORT[$who]}$path")
                echo "$load $who $r" >>"$WORK/results"
            done
        done
    done
}

# report_loads A B: per load, the medians of req/s and CPU µs per request
# of A and of B, and A/B of req/s
report_loads() {
    python3 - "$WORK/results" "$1" "$2" "$THREADS" "$REPS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
a, b = sys.argv[2], sys.argv[3]
print("/healthz (h1, h2) and a 404 (h2-404), %s server thread(s), medians of %s" % (sys.argv[4], sys.argv[5]))
print("%-6s %12s %12s %8s %14s %14s" % ("load", a + " req/s", b + " req/s", "ratio", a + " CPU us", b + " CPU us"))
for load in ("h1", "h2", "h2-404"):
    m = {w: (statistics.median(float(r[2]) for r in rows if r[0] == load and r[1] == w),
             statistics.median(int(r[3]) for r in rows if r[0] == load and r[1] == w)) for w in (a, b)}
    print("%-6s %12.0f %12.0f %8.2f %14d %14d" % (load, m[a][0], m[b][0], m[a][0] / m[b][0], m[a][1], m[b][1]))
PY
}

# loads_init NAME: for the scripts that run run_loads. Checks h2load and that
# the 404 runs stay within the raised limit, makes WORK (/tmp/bulwark-NAME.*),
# the server arrays and the exit trap that stops the servers and removes
# WORK, and writes $WORK/policy.yaml: the default policy with its general
# limit raised to 1,000,000 per minute, the most the schema allows (nothing
# else changes), so that a run measures requests, not 429s.
loads_init() {
    command -v h2load >/dev/null || die "h2load not installed: apt-get install nghttp2-client"
    # /healthz is exempt from the general limit: only the 404 load counts
    [ $(( REPS * H2_N )) -le 1000000 ] || die "REPS*H2_N must stay within the general limit of 1,000,000"
    WORK=$(mktemp -d "/tmp/bulwark-$1.XXXXXX")
    PIDS=()
    declare -gA PORT PID
    trap loads_cleanup EXIT
    sed -e '/^    general:/,/^    [a-z]/s/requests: 100$/requests: 1000000/' "$ROOT/policy/default.yaml" >"$WORK/policy.yaml"
}

loads_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
