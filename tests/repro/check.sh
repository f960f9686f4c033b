#!/bin/bash
# make repro-check: build everything twice, under different conditions, and
# compare the outputs byte for byte (image/README.md, "Reproducible builds").
#
#   tests/repro/check.sh [--keep] [--parallel]
#
# Build A is this checkout, as ./build.sh builds it (umask 0022, TZ=UTC, this
# user, the normal cache). Build B is `git archive HEAD` unpacked into a
# directory whose path has another length, built later, with umask 0002,
# TZ=Pacific/Kiritimati (UTC+14), as the system user bulwark-repro (created
# when missing; only when run as root, otherwise the same user), with its own
# HOME and an empty BULWARK_CACHE: every library and the kernel are built from
# scratch. Only the verified source tarballs are copied over from A's cache
# (deps/fetch checks each against the lock again); nothing built is shared.
#
# The demo identity is random (build/bin/mkdemo), so B is given A's build/demo
# as input (the demo stage keeps an identity that exists): secrets-demo.img
# is then compared like everything else.
#
# SOURCE_DATE_EPOCH is unset in both builds: every tool takes its date from
# the lock (linux.sh: the Debian changelog of the kernel; image/sbom: the
# newest changelog of the lock; mkdisk: FAT's 1980 epoch; mksecrets: 0).
#
# Each output that differs is fed to diffoscope (tests/repro/packages.txt),
# its report saved as build/repro/diffoscope-NAME.txt, and the check exits 1.
# B's tree is removed at the end unless --keep is given (or a file differed).
# --parallel starts B while A is still building (B still starts later, in
# another time zone): the same comparison in about half the wall time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$ROOT/build
OUT=$B/repro
REPRO_USER=bulwark-repro
STAGES=(fetch musl mbedtls libyaml jansson h2o bulwark policy demo image)
# What is compared: build/bin/bulwark, then build/image/*.
FILES=(bin/bulwark image/bulwark image/bulwark.debug image/bzImage image/vmlinux
    image/config image/System.map image/initramfs.cpio image/secrets-demo.img
    image/disk.raw image/disk.qcow2 image/sbom.spdx.json image/SHA256SUMS)

keep=0 parallel=0
for arg in "$@"; do
    case $arg in
    --keep) keep=1 ;;
    --parallel) parallel=1 ;;
    *) printf 'usage: tests/repro/check.sh [--keep] [--parallel]\n' >&2; exit 2 ;;
    esac
done

say() { printf '==> repro-check: %s\n' "$*" >&2; }
die() { printf 'repro-check: %s\n' "$*" >&2; exit 2; }

cd "$ROOT"
git rev-parse --git-dir >/dev/null 2>&1 || die "not a git checkout: build B is made from git archive HEAD"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    die "uncommitted changes: build B is HEAD, so build A must be too (commit or stash first)"
fi
head=$(git rev-parse --short HEAD)

# diffoscope is for this check only: its list is not one of the CI lists
# that deps/host-deps installs.
missing=()
while read -r p; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done < <(sed 's/#.*//' "$ROOT/tests/repro/packages.txt" | tr -s ' \t' '\n' | sed '/^$/d')
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing host packages; as root: apt-get install --no-install-recommends ${missing[*]}"
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rm -rf "$OUT" && mkdir -p "$OUT/a" "$OUT/b"
start=$(date +%s)

# --- build A: this checkout --------------------------------------------------
build_a() {
    say "build A: $ROOT (umask 0022, TZ=UTC, $(id -un), cache ${BULWARK_CACHE:-$HOME/.cache/bulwark})"
    local t0; t0=$(date +%s)
    (umask 0022; env -u SOURCE_DATE_EPOCH TZ=UTC ./build.sh "${STAGES[@]}") >"$OUT/build-a.log" 2>&1 \
        || { tail -30 "$OUT/build-a.log" >&2; die "build A failed (log: build/repro/build-a.log)"; }
    echo $(( $(date +%s) - t0 )) >"$OUT/time-a"
    for f in "${FILES[@]}"; do
        mkdir -p "$OUT/a/$(dirname "$f")" && cp "$B/$f" "$OUT/a/$f"
    done
}

# --- build B: HEAD elsewhere, later, as someone else ----------------------------
prepare_b() {
    [ -f "$B/demo/secrets/tls-cert.pem" ] || die "no demo identity in build/demo to give build B"
    work=$(mktemp -d /var/tmp/bulwark-repro-check.XXXXXXXX)
    srcb=$work/checkout-of-another-length
    mkdir -p "$srcb" "$work/cache/sources" "$work/home"
    git archive --format=tar HEAD | tar -x -C "$srcb"
    cache_a=${BULWARK_CACHE:-$HOME/.cache/bulwark}
    if [ -d "$cache_a/sources" ]; then
        cp -a "$cache_a/sources/." "$work/cache/sources/"
    fi
    mkdir -p "$srcb/build"
    cp -a "$B/demo" "$srcb/build/demo"

    as_user=()
    user_b=$(id -un)
    if [ "$(id -u)" -eq 0 ]; then
        if ! id "$REPRO_USER" >/dev/null 2>&1; then
            say "creating the system user $REPRO_USER"
            useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$REPRO_USER"
        fi
        chown -R "$REPRO_USER:$REPRO_USER" "$work"
        chmod 0755 "$work"
        as_user=(setpriv --reuid="$REPRO_USER" --regid="$REPRO_USER" --init-groups --)
        user_b=$REPRO_USER
    else
        say "not root: build B runs as $(id -un) too (run as root to vary the user)"
    fi
}

build_b() {
    say "build B: $srcb (umask 0002, TZ=Pacific/Kiritimati, $user_b, cache $work/cache, empty)"
    local t0; t0=$(date +%s)
    (
        umask 0002
        cd "$srcb"
        "${as_user[@]}" env -i PATH="$PATH" HOME="$work/home" USER="$user_b" LOGNAME="$user_b" \
            LANG=C.UTF-8 TZ=Pacific/Kiritimati BULWARK_CACHE="$work/cache" JOBS="${JOBS:-$(nproc)}" \
            ./build.sh "${STAGES[@]}"
    ) >"$OUT/build-b.log" 2>&1 || { tail -30 "$OUT/build-b.log" >&2; die "build B failed (log: build/repro/build-b.log, tree: $srcb)"; }
    echo $(( $(date +%s) - t0 )) >"$OUT/time-b"
    for f in "${FILES[@]}"; do
        mkdir -p "$OUT/b/$(dirname "$f")" && cp "$srcb/build/$f" "$OUT/b/$f"
    done
}

if [ "$parallel" -eq 1 ]; then
    # B needs A's demo identity before A has finished: it must exist already.
    [ -f "$B/demo/secrets/tls-cert.pem" ] || die "--parallel needs build/demo (./build.sh once, or no --parallel)"
    prepare_b
    build_a &
    pid_a=$!
    sleep 60  # B starts later than A
    build_b
    wait "$pid_a" || die "build A failed"
else
    build_a
    prepare_b
    build_b
fi
time_a=$(cat "$OUT/time-a") time_b=$(cat "$OUT/time-b")

# --- compare ---------------------------------------------------------------------
differ=0
{
    echo "repro-check of $head: build A ${time_a} s, build B ${time_b} s"
    echo "A: $ROOT, umask 0022, TZ=UTC, user $(id -un)"
    echo "B: $srcb, umask 0002, TZ=Pacific/Kiritimati, user $user_b, empty cache"
} >"$OUT/report.txt"
for f in "${FILES[@]}"; do
    if cmp -s "$OUT/a/$f" "$OUT/b/$f"; then
        printf '%-24s identical  %s\n' "$f" "$(sha256sum <"$OUT/a/$f" | cut -c1-16)" >>"$OUT/report.txt"
    else
        differ=1
        name=$(basename "$f")
        [ "$f" = bin/bulwark ] && name=bulwark-unstripped
        printf '%-24s DIFFERENT  diffoscope: build/repro/diffoscope-%s.txt\n' "$f" "$name" >>"$OUT/report.txt"
        say "$f differs: diffoscope (build/repro/diffoscope-$name.txt)"
        timeout 1800 diffoscope --no-progress --max-report-size 20000000 \
            --text "$OUT/diffoscope-$name.txt" "$OUT/a/$f" "$OUT/b/$f" >/dev/null 2>&1 || true
    fi
done
echo "total $(( $(date +%s) - start )) s" >>"$OUT/report.txt"
cat "$OUT/report.txt"

if [ "$differ" -eq 0 ] && [ "$keep" -eq 0 ]; then
    rm -rf "$work"
else
    say "build B kept in $srcb"
fi
if [ "$differ" -ne 0 ]; then
    say "NOT reproducible: see build/repro/report.txt and build/repro/diffoscope-*.txt"
    exit 1
fi
say "reproducible: every file identical"
