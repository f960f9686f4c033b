# shellcheck shell=bash
# What the side-by-side bench scripts share (sourced): a free port, a
# process's CPU ticks, and starting one bulwark under a policy.
#
# The caller sets WORK (a scratch folder), DEMO (the demo identity) and
# THREADS, declares the arrays `PIDS=()` and `declare -A PORT PID`, and
# defines die().

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
