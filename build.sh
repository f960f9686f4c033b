#!/bin/bash
# Builds Bulwark from deps/sources.lock, in named stages:
#
#   ./build.sh              every stage, in order
#   ./build.sh STAGE...     just those (each reruns alone; earlier outputs must exist)
#
# Stages: fetch musl mbedtls libyaml jansson h2o bulwark policy demo image image-test
#
# POLICY=FILE ./build.sh bakes FILE in (default policy/default.yaml); the
# build refuses a policy that `bulwark policy check` fails.
#
# Each third-party stage is keyed by the sha256 of everything that decides its
# output (its lock entry, Debian's and our patches, our config, its stage
# script, the toolchain); a built key is kept in $BULWARK_CACHE/build and
# reused, so only what changed is rebuilt. Outputs:
#   build/sysroot        musl headers and libc.a
#   build/toolchain/cc   the compiler every C file goes through
#   build/deps/NAME      each library's include/ and lib/
#   build/bin/bulwark    the service; build/bin/mkdemo the demo identity tool
#   build/demo/          demo CA, credentials and secrets (made once)
#   build/image/         the appliance (image stage): bzImage, vmlinux, config,
#                        System.map, initramfs.cpio, bulwark (the stripped /init),
#                        bulwark.debug (its debug information, named by its
#                        .gnu_debuglink),
#                        secrets-demo.img, disk.raw, disk.qcow2, SHA256SUMS
#   build/image-test/    the same kernel with tests/system/testinit.c as /init
#                        (image-test stage): bzImage, disk.qcow2, for tests/system
#
# The kernel is the one stage not rebuilt from scratch: its source and build
# trees live in $BULWARK_CACHE/build/linux-KEY (KEY: the lock block, our
# fragment and initramfs list, deps/build/linux.sh, gcc/ld/zstd/make
# versions; not /init), with one build tree per image (release, test), so
# that a new /init is a relink (~30 s), not a cold build (~15-25 min on 2
# cores). The two most recently used keys are kept.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
B=$ROOT/build
CACHE=${BULWARK_CACHE:-$HOME/.cache/bulwark}
JOBS=${JOBS:-$(nproc)}
STAGES=(fetch musl mbedtls libyaml jansson h2o bulwark policy demo image image-test)
export BULWARK_CACHE=$CACHE

# Hardening for every object, ours and third-party (checked on the binary by
# tests/unit/test_binary.py). _FORTIFY_SOURCE is not set: musl's headers have
# no fortified variants, so it would be a flag with no effect.
# The prefix maps keep the checkout's path out of the debug information (the
# last matching map wins: the library sources in build/src/ become NAME/...,
# our sources relative paths, the compile directory itself "."), so that the
# build is the same byte for byte wherever it runs (make repro-check).
HARDEN_CFLAGS="-O2 -g -fPIE -fstack-protector-strong -fstack-clash-protection \
-fcf-protection=full -ftrivial-auto-var-init=zero -ffile-prefix-map=$ROOT=. \
-ffile-prefix-map=$ROOT/= -ffile-prefix-map=$B/src/="
export HARDEN_CFLAGS

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
# shellcheck source=deps/build/cached-stage.sh
. "$ROOT/deps/build/cached-stage.sh"

lock_block() {  # the lock lines of one component, as text
    awk -v c="$1" '$1=="component"{on=($2==c)} on' "$ROOT/deps/sources.lock"
}

stage_key() {  # stage_key NAME [EXTRA...]: hash of everything that decides the output
    local name=$1; shift
    {
        lock_block "$name"
        gcc --version | sed -n 1p  # sed reads it all: no SIGPIPE under pipefail
        printf '%s\n' "$HARDEN_CFLAGS" | sed "s|$ROOT|ROOT|g"
        for f in "$ROOT/deps/build/$name".* "$ROOT/deps/patches/$name"/* \
                 "$ROOT/deps/config/$name"/*; do
            [ -f "$f" ] && { echo "${f#"$ROOT"/}"; cat "$f"; }
        done
        printf '%s\n' "$@"
    } | sha256sum | cut -c1-16
}

key_of() {  # the key a built stage was made with
    if [ "$1" = musl ]; then cat "$B/sysroot/.key"; else cat "$B/deps/$1/.key"; fi
}

# build_dep NAME DEST [EXTRA-KEY...]: build (or reuse) one locked component.
build_dep() {
    local name=$1 dest=$2; shift 2
    local key; key=$(stage_key "$name" "$@")
    cached_stage "$name" "$dest" "$key" "$CACHE/build/$name-$key" "$B/toolchain/cc" "$HARDEN_CFLAGS"
}

write_toolchain() {
    local tc=$B/toolchain sys=$B/sysroot
    mkdir -p "$tc"
    # A specs file of our own: gcc compiles against musl's headers only and
    # links static or static-pie executables with musl's start files.
    cat >"$tc/musl.specs" <<EOF
%rename cpp_options old_cpp_options

*cpp_options:
-nostdinc -isystem $sys/include -isystem include%s %(old_cpp_options)

*cc1:
%(cc1_cpu) -nostdinc -isystem $sys/include -isystem include%s

*link_libgcc:
-L$sys/lib -L .%s

*libgcc:
libgcc.a%s %:if-exists(libgcc_eh.a%s)

*startfile:
%{static-pie:$sys/lib/rcrt1.o; :$sys/lib/crt1.o} $sys/lib/crti.o crtbeginS.o%s

*endfile:
crtendS.o%s $sys/lib/crtn.o

*link:
-nostdlib %{static-pie:-static -pie --no-dynamic-linker -z text; :-static}
EOF
    # Every executable is static-pie with full RELRO and a non-executable
    # stack. -z stack-size sets PT_GNU_STACK's size, which musl takes as its
    # default thread stack: h2o's request handling needs far more than
    # musl's 128 KiB default (deep handler chains, alloca'd header buffers).
    cat >"$tc/cc" <<EOF
#!/bin/sh
case " \$* " in
*" -c "*|*" -E "*|*" -S "*|*" -M "*) exec gcc -specs=$tc/musl.specs "\$@" ;;
esac
exec gcc -specs=$tc/musl.specs -static-pie -Wl,-z,relro,-z,now,-z,noexecstack \\
    -Wl,-z,stack-size=1048576 -Wl,--build-id=sha1 "\$@"
EOF
    chmod +x "$tc/cc"
}

stage_fetch() { say "fetch: verifying sources"; "$ROOT/deps/fetch"; }

stage_musl() {
    build_dep musl "$B/sysroot"
    write_toolchain
}

stage_mbedtls() { build_dep mbedtls "$B/deps/mbedtls" "$(key_of musl)"; }
stage_libyaml() { build_dep libyaml "$B/deps/libyaml" "$(key_of musl)"; }
stage_jansson() { build_dep jansson "$B/deps/jansson" "$(key_of musl)"; }
stage_h2o() { build_dep h2o "$B/deps/h2o" "$(key_of musl)" "$(key_of mbedtls)"; }

stage_bulwark() {
    say "bulwark: compiling"
    # Our objects are compiled against the libraries' headers: when any
    # library stage changed, recompile everything (make's timestamps cannot
    # see a library that came back from the cache with older headers).
    local deps_key
    deps_key=$(cat "$B/sysroot/.key" "$B"/deps/*/.key | sha256sum | cut -c1-16)
    if [ "$(cat "$B/obj/.deps-key" 2>/dev/null)" != "$deps_key" ]; then
        rm -rf "$B/obj" && mkdir -p "$B/obj" && echo "$deps_key" >"$B/obj/.deps-key"
    fi
    make --no-print-directory -C "$ROOT" -j"$JOBS" binaries \
        CC="$B/toolchain/cc" HARDEN_CFLAGS="$HARDEN_CFLAGS" \
        POLICY="${POLICY:-$ROOT/policy/default.yaml}"
}

stage_policy() {
    local policy=${POLICY:-$ROOT/policy/default.yaml}
    say "policy: checking $policy"
    if ! "$B/bin/bulwark" policy check "$policy" >"$B/policy-check.txt"; then
        grep -v '^PASS' "$B/policy-check.txt" >&2 || true
        die "policy $policy is refused: fix every FAIL above (full report: build/policy-check.txt)"
    fi
    grep '^WARN' "$B/policy-check.txt" >&2 || true
    cp "$policy" "$B/policy.yaml"
}

stage_demo() {
    if [ -f "$B/demo/secrets/tls-cert.pem" ]; then
        say "demo: identity exists (build/demo; make clean-demo to renew)"
        return
    fi
    say "demo: generating the demo identity"
    "$B/bin/mkdemo" "$B/demo"
}

# --- The appliance image ----------------------------------------------------

KERNEL_TREES_KEPT=2

kernel_key() {  # hash of everything that decides the kernel, /init aside
    {
        lock_block linux
        for f in "$ROOT/deps/build/linux.sh" "$ROOT/image/kernel/bulwark.config" \
                 "$ROOT/image/kernel/initramfs.list" "$ROOT/deps/patches/linux"/*; do
            if [ -f "$f" ]; then echo "${f#"$ROOT"/}"; cat "$f"; fi
        done
        gcc --version | sed -n 1p  # sed reads it all: no SIGPIPE under pipefail
        ld --version | sed -n 1p  # sed reads it all: no SIGPIPE under pipefail
        zstd --version 2>&1 || echo "no zstd"
        make --version | sed -n 1p  # sed reads it all: no SIGPIPE under pipefail
    } | sha256sum | cut -c1-16
}

# kernel_tree: the unpacked kernel source of the current key, in the cache;
# sets KTREE. The build trees are its subfolders (see build_kernel), so the
# kernel names its source `..` in command lines and dependency files. Holds
# a lock on the entry until the script ends: two builds never share a tree.
kernel_tree() {
    local key; key=$(kernel_key)
    KTREE=$CACHE/build/linux-$key
    mkdir -p "$CACHE/build"
    exec 9>"$KTREE.lock"
    flock -n 9 || { say "kernel: waiting for another build of linux-$key"; flock 9; }
    if [ ! -f "$KTREE/.key" ]; then
        say "kernel: unpacking the source into the cache (linux-$key)"
        rm -rf "$KTREE" "$KTREE.tmp"
        "$ROOT/deps/fetch" --unpack linux "$KTREE.tmp" \
            || { rm -rf "$KTREE.tmp"; die "unpacking linux failed"; }
        echo "$key" >"$KTREE.tmp/.key"
        mv "$KTREE.tmp" "$KTREE"
    fi
    touch "$KTREE/.key"  # last use, for prune_kernel_trees
}

# The cache keeps the KERNEL_TREES_KEPT most recently used kernel entries
# (~2.2 GB each: a fragment change should not cost a cold build to undo).
prune_kernel_trees() {
    local n=0 k d
    while read -r k; do
        d=$(dirname "$k")
        n=$((n + 1))
        [ "$n" -le "$KERNEL_TREES_KEPT" ] && continue
        [ "$d" = "$KTREE" ] && continue
        # Skip an entry another build holds.
        if ( flock -n 8 ) 8>"$d.lock"; then
            say "kernel: pruning $(basename "$d") from the cache"
            rm -rf "$d" "$d.lock"
        fi
    done < <(ls -1t "$CACHE"/build/linux-*/.key 2>/dev/null)
}

# build_kernel TREE INIT PREFIX: the kernel with INIT as /init, its outputs
# into PREFIX. Each image has a build tree of its own (TREE: release, test),
# so that switching images is a relink, not a rebuild; but every tree is
# built at the same path, KTREE/obj: the kernel's host tools (objtool) record
# their absolute build path, every object depends on objtool, and a tree
# built at another path rebuilds everything. The others wait as
# KTREE/obj.NAME; KTREE/obj/.bulwark-tree says whose tree is in place. A tree
# that does not exist yet starts as a copy of another (a relink, not a cold
# build).
build_kernel() {
    local tree=$1 init=$2 prefix=$3 obj=$KTREE/obj cur other t0
    rm -rf "$obj.tmp"
    if [ -d "$obj" ]; then
        cur=$(cat "$obj/.bulwark-tree" 2>/dev/null || true)
        if [ -z "$cur" ]; then
            rm -rf "$obj"  # an interrupted copy
        elif [ "$cur" != "$tree" ]; then
            rm -rf "$obj.$cur" && mv "$obj" "$obj.$cur"
        fi
    fi
    if [ ! -d "$obj" ] && [ -d "$obj.$tree" ]; then
        mv "$obj.$tree" "$obj"
    fi
    if [ ! -d "$obj" ]; then
        for other in "$obj".*; do
            if [ -f "$other/.bulwark-config-id" ]; then
                say "kernel: the $tree build tree starts as a copy of ${other##*.}'s"
                cp -a "$other" "$obj.tmp"
                mv "$obj.tmp" "$obj"
                break
            fi
        done
    fi
    mkdir -p "$obj"
    echo "$tree" >"$obj/.bulwark-tree"
    if [ -f "$obj/.bulwark-config-id" ]; then
        say "kernel: $tree kernel in $(basename "$KTREE") (a relink when only /init changed)"
    else
        say "kernel: cold build of the $tree kernel in $(basename "$KTREE") (about 15 min on 2 cores)"
    fi
    t0=$(date +%s)
    SRC=$KTREE OBJ=$obj PREFIX=$prefix CONFIG_DIR=$ROOT/image/kernel \
        INIT=$init JOBS=$JOBS "$ROOT/deps/build/linux.sh" \
        || die "kernel build failed (build tree $obj)"
    say "kernel: $tree kernel done in $(( $(date +%s) - t0 )) s"
}

stage_image() {
    local out=$B/image
    [ -f "$B/bin/bulwark" ] || die "image: no $B/bin/bulwark (./build.sh bulwark)"
    [ -d "$B/demo/secrets" ] || die "image: no $B/demo/secrets (./build.sh demo)"
    kernel_tree
    rm -rf "$out" && mkdir -p "$out"
    # /init is the service without its symbols; its debug information goes
    # to bulwark.debug (for gdb or addr2line on a crash address), which the
    # stripped binary names in .gnu_debuglink (file name and the CRC-32 of
    # bulwark.debug: deterministic). build/bin/bulwark keeps everything.
    objcopy --only-keep-debug "$B/bin/bulwark" "$out/bulwark.debug"
    chmod 0644 "$out/bulwark.debug"
    strip --strip-all -o "$out/bulwark.stripped" "$B/bin/bulwark"
    (cd "$out" && objcopy --add-gnu-debuglink=bulwark.debug bulwark.stripped bulwark)
    rm "$out/bulwark.stripped"
    build_kernel release "$out/bulwark" "$out"
    say "image: secrets-demo.img, disk.raw, disk.qcow2"
    "$ROOT/image/mksecrets" "$B/demo/secrets" "$out/secrets-demo.img"
    "$ROOT/image/mkdisk" --kernel "$out/bzImage" --out "$out"
    say "image: sbom.spdx.json"
    "$ROOT/image/sbom" --image-dir "$out" --out "$out/sbom.spdx.json"
    (
        cd "$out"
        names=()
        for f in *; do
            if [ -f "$f" ] && [ "$f" != SHA256SUMS ]; then names+=("$f"); fi
        done
        printf '%s\n' "${names[@]}" | LC_ALL=C sort | xargs -d '\n' sha256sum >SHA256SUMS.new
        mv SHA256SUMS.new SHA256SUMS
    )
    prune_kernel_trees
    say "image: build/image ($(stat -c %s "$out/bzImage") bytes of kernel)"
}

stage_image_test() {
    local out=$B/image-test
    [ -x "$B/toolchain/cc" ] || die "image-test: no $B/toolchain/cc (./build.sh musl)"
    kernel_tree
    rm -rf "$out" && mkdir -p "$out"
    "$B/toolchain/cc" -O2 -Wall -o "$out/testinit" "$ROOT/tests/system/testinit.c"
    build_kernel test "$out/testinit" "$out"
    "$ROOT/image/mkdisk" --kernel "$out/bzImage" --out "$out"
    say "image-test: build/image-test"
}

[ -x "$(command -v gcc)" ] || die "gcc not found: run 'make deps' first"
if [ $# -eq 0 ]; then set -- "${STAGES[@]}"; fi
for s in "$@"; do
    case " ${STAGES[*]} " in
    *" $s "*) ;;
    *) die "unknown stage '$s' (stages: ${STAGES[*]})" ;;
    esac
done
start=$(date +%s)
for s in "$@"; do "stage_${s//-/_}"; done
say "done in $(( $(date +%s) - start )) s"
