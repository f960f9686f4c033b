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

cpu_ticks() {  # utime + stime of PID $1 (fields 14, 15; the name field may hold spaces)
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
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
