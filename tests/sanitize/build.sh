#!/bin/bash
# Builds the sanitizer variant of Bulwark into build/sanitize/ (make
# test-sanitize, make fuzz):
#
#   tests/sanitize/build.sh            libraries and build/sanitize/bin/bulwark
#   tests/sanitize/build.sh fuzz       libraries and the libFuzzer targets
#                                      (build/sanitize/fuzz/*, tests/fuzz/)
#
# Everything -- mbedTLS, libyaml, jansson, h2o and app/ -- is compiled by
# clang with AddressSanitizer and UndefinedBehaviorSanitizer, from the same
# locked and patched sources as ./build.sh (deps/fetch --unpack) and by the
# same stage scripts (deps/build/*.sh), only with CC and CFLAGS of our own.
# The target is glibc, not musl: ASan's run-time needs a dynamic libc it can
# intercept and does not support musl or static-pie.
#
# One set of objects serves both uses: they carry libFuzzer's coverage
# instrumentation too (-fsanitize=fuzzer-no-link), which the service binary
# links as no-ops from the ASan run-time; two variants would double the
# library build (minutes on a 2-core CI machine) for no finding.
#
# Libraries are cached like ./build.sh's ($BULWARK_CACHE/build/NAME-san-KEY),
# keyed by their lock entry, patches, config, stage script, this script, the
# compiler and the flags.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$ROOT/build/sanitize
CACHE=${BULWARK_CACHE:-$HOME/.cache/bulwark}
JOBS=${JOBS:-$(nproc)}
export BULWARK_CACHE=$CACHE

# Debian 12's clang (tests/sanitize/host-packages.txt).
CLANG=${CLANG:-clang-14}
# Third-party code the sanitizers must not look at, each entry justified in
# the file: a compile-time ignore list, so that no report is ever silenced at
# run time.
IGNORELIST=$ROOT/tests/sanitize/ignorelist.txt
# No recovery from UBSan: the first report ends the process, like ASan's.
SAN_COMMON="-g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
-fsanitize-ignorelist=$IGNORELIST -ffile-prefix-map=$ROOT/= -ffile-prefix-map=$B/src/="
# Ours, h2o, libyaml and jansson: -O1 (exact reports) with libFuzzer's
# coverage, for the fuzz targets that drive them.
SAN_CFLAGS="-O1 $SAN_COMMON -fsanitize=fuzzer-no-link"
# mbedTLS: -O2 and no coverage. The suite's cost is PBKDF2 (310 000
# iterations per demo login): -O1 with coverage made a login take 4 s, which
# the timing tests of the demo API and CI cannot afford; no fuzz target is
# after mbedTLS's own branches.
SAN_CFLAGS_MBEDTLS="-O2 $SAN_COMMON"

lib_cflags() { if [ "$1" = mbedtls ]; then echo "$SAN_CFLAGS_MBEDTLS"; else echo "$SAN_CFLAGS"; fi; }

say() { printf '==> sanitize: %s\n' "$*" >&2; }
die() { printf 'tests/sanitize/build.sh: %s\n' "$*" >&2; exit 1; }
# shellcheck source=deps/build/cached-stage.sh
. "$ROOT/deps/build/cached-stage.sh"

command -v "$CLANG" >/dev/null || die "$CLANG not found: run 'make deps' (tests/sanitize/host-packages.txt)"

lock_block() { awk -v c="$1" '$1=="component"{on=($2==c)} on' "$ROOT/deps/sources.lock"; }

lib_key() {
    local name=$1
    {
        lock_block "$name"
        "$CLANG" --version | head -1
        lib_cflags "$name" | sed "s|$ROOT|ROOT|g"
        for f in "$ROOT/deps/build/$name".* "$ROOT/deps/patches/$name"/* \
                 "$ROOT/deps/config/$name"/* "$IGNORELIST" "${BASH_SOURCE[0]}"; do
            [ -f "$f" ] && { echo "${f#"$ROOT"/}"; cat "$f"; }
        done
        # h2o is compiled against mbedTLS's headers
        if [ "$name" = h2o ]; then cat "$B/deps/mbedtls/.key"; fi
    } | sha256sum | cut -c1-16
}

build_lib() {
    local name=$1
    local key; key=$(lib_key "$name")
    cached_stage "$name" "$B/deps/$name" "$key" "$CACHE/build/$name-san-$key" "$CLANG" "$(lib_cflags "$name")"
}

build_app() {
    local target=$1
    # as ./build.sh: a library that changed recompiles all of app/
    local deps_key
    deps_key=$(cat "$B"/deps/*/.key | sha256sum | cut -c1-16)
    if [ "$(cat "$B/obj/.deps-key" 2>/dev/null)" != "$deps_key" ]; then
        rm -rf "$B/obj" && mkdir -p "$B/obj" && echo "$deps_key" >"$B/obj/.deps-key"
    fi
    say "app: $target"
    make --no-print-directory -C "$ROOT" -j"$JOBS" "$target" B=build/sanitize \
        CC="$CLANG" HARDEN_CFLAGS="$SAN_CFLAGS" \
        SYSCALL_H=/usr/include/x86_64-linux-gnu/asm/unistd_64.h \
        POLICY="${POLICY:-$ROOT/policy/default.yaml}"
}

what=${1:-bulwark}
case $what in
bulwark) target=build/sanitize/bin/bulwark ;;
fuzz) target=fuzz-targets ;;
*) die "unknown target '$what' (bulwark or fuzz)" ;;
esac
start=$(date +%s)
for name in mbedtls libyaml jansson h2o; do build_lib "$name"; done
build_app "$target"
say "done in $(( $(date +%s) - start )) s"
