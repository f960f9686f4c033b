#!/bin/bash
# The attack suite against our build and against an unpatched one, side by
# side (`make attack-unpatched`; tests/attack/README.md).
#
#   tests/attack/unpatched.sh
#
# 1. builds ours (build/bin/bulwark, build/demo) with ./build.sh's service
#    stages (no image, no kernel);
# 2. copies the committed tree (git archive HEAD) into build/unpatched/src,
#    removes every h2o patch but the ones listed in KEEP below, drops the two
#    lines of app/serve.c that set fields patch 0006 adds, and builds the
#    service there (its own build/ folder, the shared BULWARK_CACHE: the h2o
#    stage's key hashes the patch files, so the two h2o builds are two cache
#    entries);
# 3. runs tests/attack against each binary (junit XML and the pytest output
#    in build/unpatched/) and prints, per test, the result on each.
#
# Exits 0 only when every test passes on ours, every test marked stock_ok
# (pytest.ini: a regression test of a rule stock h2o already had) passes on
# the unpatched build, and every other test fails there (a failure of the
# test itself, not an error of its fixture).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$ROOT/build/unpatched
SRC=$OUT/src
PYTEST=(/usr/bin/python3 -m pytest -p no:cacheprovider)
SERVICE_STAGES=(fetch musl mbedtls libyaml jansson h2o bulwark)

# The h2o patches the unpatched build keeps: only what it needs to build at
# all, none of the security fixes (0004-0015, 0021-0023 are left out).
#   0001  TLS on mbedTLS: there is no OpenSSL to build h2o's TLS layer with
#   0002  HTTP/2 digests on mbedTLS: the same, for casper.c/cache_digests.c
#   0003  the core without the YAML configurator: config.c calls into files
#         we do not build
#   0020  the file handler without gunzip: h2o is built without zlib, and
#         app/routes/static_dir.c links the file handler
KEEP=(0001 0002 0003 0020)
# Left out although app/ relies on it: 0015 (Host fields kept for the host
# check, app/mw/hosts.c) changes what the host check sees, not whether the
# service builds; 0021-0023 are sanitizer fixes (a leak at exit, two cases of
# undefined behaviour UBSan reports) that the gcc build does not need.

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'unpatched.sh: %s\n' "$*" >&2; exit 1; }

t0=$(date +%s)

say "ours: building the service (./build.sh ${SERVICE_STAGES[*]} policy demo)"
"$ROOT/build.sh" "${SERVICE_STAGES[@]}" policy demo

say "unpatched: a copy of HEAD in ${SRC#"$ROOT"/}"
# A fresh copy every run: no object of an earlier run (built against other
# h2o headers) can end up in this binary.
rm -rf "$SRC" && mkdir -p "$SRC"
git -C "$ROOT" archive HEAD | tar -x -m -C "$SRC"

for k in "${KEEP[@]}"; do
    compgen -G "$SRC/deps/patches/h2o/$k-*.patch" >/dev/null || die "patch $k-* is gone: update KEEP"
done
for p in "$SRC"/deps/patches/h2o/*; do
    n=$(basename "$p")
    case " ${KEEP[*]} " in
    *" ${n%%-*} "*) say "unpatched: keeps $n" ;;
    *) rm "$p" ;;
    esac
done

# The fields of patch 0006 do not exist in stock h2o's h2o_globalconf_t.
serve=$SRC/app/serve.c
pattern='conf->(http1\.max_request_line|max_request_headers_size) = '
n=$(grep -cE "$pattern" "$serve" || true)
[ "$n" = 2 ] || die "app/serve.c sets the fields of 0006 on $n lines, not 2: update this script"
sed -i -E "/$pattern/d" "$serve"

say "unpatched: building the service (./build.sh ${SERVICE_STAGES[*]})"
"$SRC/build.sh" "${SERVICE_STAGES[@]}"
[ "$(cat "$SRC/build/deps/h2o/.key")" != "$(cat "$ROOT/build/deps/h2o/.key")" ] \
    || die "the unpatched h2o stage has the same key as ours"
if grep -q H2O_DEFAULT_MAX_REQUEST_LINE "$SRC/build/deps/h2o/include/h2o.h"; then
    die "the unpatched h2o headers have patch 0006's fields"
fi
t_build=$(date +%s)

say "the stock_ok tests (pytest -m stock_ok)"
(cd "$ROOT" && "${PYTEST[@]}" --collect-only -q -m stock_ok tests/attack) \
    | grep '::' >"$OUT/stock_ok.txt" || true

run_suite() {  # run_suite NAME BINARY
    say "$1: pytest tests/attack against ${2#"$ROOT"/} (output: build/unpatched/$1.log)"
    local t; t=$(date +%s)
    (cd "$ROOT" && env BULWARK_BIN="$2" "${PYTEST[@]}" -rA tests/attack \
        --junitxml="$OUT/$1.xml" >"$OUT/$1.log" 2>&1) || true
    tail -n 1 "$OUT/$1.log" >&2
    say "$1: $(( $(date +%s) - t )) s"
}
run_suite ours "$ROOT/build/bin/bulwark"
run_suite unpatched "$SRC/build/bin/bulwark"

rc=0
/usr/bin/python3 "$ROOT/tests/attack/unpatched_report.py" "$OUT/ours.xml" "$OUT/unpatched.xml" \
    "$OUT/stock_ok.txt" || rc=$?
t_end=$(date +%s)
say "builds $(( t_build - t0 )) s, test runs $(( t_end - t_build )) s, total $(( t_end - t0 )) s"
exit "$rc"
