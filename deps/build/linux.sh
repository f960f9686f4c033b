#!/bin/bash
# Stage: the appliance kernel (Linux from the lock, Debian's patch series
# applied) with /init built in, into $PREFIX:
#   bzImage      EFI-stub kernel (UEFI, direct boot, disk images)
#   vmlinux      the ELF kernel for PVH direct boot (microvm, Firecracker)
#   config       the .config it was built from
#   System.map   its symbols
#   initramfs.cpio  the archive built into it (for tests: exactly /init and /dev/console)
#
# Environment:
#   SRC         unpacked kernel source (deps/fetch --unpack linux), left clean
#   OBJ         the build tree (default: $SRC.obj). Keep it between runs: when
#               only INIT changed, the rebuild is a relink of usr/ and vmlinux.
#   PREFIX      where the outputs go
#   CONFIG_DIR  holds bulwark.config (the fragment) and initramfs.list
#   INIT        the static binary that becomes /init
#   JOBS        parallel jobs
#   SOURCE_DATE_EPOCH  build time recorded in the kernel (default: the date
#               of the Debian changelog entry, so it depends on the lock only)
#
# The configuration is `tinyconfig` plus our fragment. After olddefconfig,
# every option of the fragment must read exactly as written; if one does not
# (an unmet dependency, a renamed symbol), the stage fails and names it.
set -euo pipefail

: "${SRC:?SRC must name the unpacked kernel source}"
: "${PREFIX:?PREFIX must name the output directory}"
: "${CONFIG_DIR:?CONFIG_DIR must name the folder holding bulwark.config}"
: "${INIT:?INIT must name the binary to build in as /init}"
OBJ=${OBJ:-$SRC.obj}
JOBS=${JOBS:-$(nproc)}
FRAGMENT=$CONFIG_DIR/bulwark.config
LIST_IN=$CONFIG_DIR/initramfs.list
# Where the initramfs inputs sit inside the build tree. INITRAMFS_SOURCE is
# relative to it so that .config does not depend on where the tree lives.
INITRAMFS_DIR=bulwark-initramfs

die() { printf 'linux.sh: %s\n' "$*" >&2; exit 1; }
[ -f "$FRAGMENT" ] || die "no fragment at $FRAGMENT"
[ -f "$LIST_IN" ] || die "no initramfs list at $LIST_IN"
[ -f "$INIT" ] || die "no /init binary at $INIT"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    stamp=$(sed -n '/^ -- /{s/^ -- .*>  //p;q}' "$SRC/debian/changelog")
    [ -n "$stamp" ] || die "cannot read a date from $SRC/debian/changelog; set SOURCE_DATE_EPOCH"
    SOURCE_DATE_EPOCH=$(date -u -d "$stamp" +%s)
fi
export SOURCE_DATE_EPOCH
# Reproducible kernel: no user, host, time or build count of this machine.
export KBUILD_BUILD_USER=bulwark KBUILD_BUILD_HOST=bulwark KBUILD_BUILD_VERSION=1
KBUILD_BUILD_TIMESTAMP=$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH")
export KBUILD_BUILD_TIMESTAMP
export LC_ALL=C TZ=UTC

# Kconfig asks the host's Rust and pahole for their versions and writes them
# into .config (RUSTC_VERSION, RUSTC_LLVM_VERSION, PAHOLE_VERSION) even with
# Rust and BTF off: whether a rustup toolchain is on this user's PATH then
# changes the .config (make repro-check found it). Names that exist nowhere
# make every version 0, on every machine.
NO_HOST_TOOL=bulwark-no-such-tool
kmake() {
    make -s -C "$SRC" O="$OBJ" ARCH=x86_64 RUSTC=$NO_HOST_TOOL HOSTRUSTC=$NO_HOST_TOOL \
        BINDGEN=$NO_HOST_TOOL PAHOLE=$NO_HOST_TOOL "$@"
}

# check_fragment CONFIG: every option of the fragment as written, or fail.
check_fragment() {
    awk '
        FNR == NR {
            if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) {
                want[substr($0, 1, RLENGTH - 1)] = substr($0, RLENGTH + 1)
            } else if (match($0, /^# CONFIG_[A-Za-z0-9_]+ is not set/)) {
                want[$2] = "n"
            }
            next
        }
        match($0, /^CONFIG_[A-Za-z0-9_]+=/) {
            have[substr($0, 1, RLENGTH - 1)] = substr($0, RLENGTH + 1)
        }
        END {
            bad = 0
            for (k in want) {
                got = (k in have) ? have[k] : "n"
                if (want[k] != got) {
                    printf "linux.sh: %s: wanted %s, .config has %s\n", k, want[k], got > "/dev/stderr"
                    bad = 1
                }
            }
            exit bad
        }' "$FRAGMENT" "$1"
}

# The configuration is redone only when its inputs change: a configured tree
# is reused as is, so that a new /init costs a relink, not a rebuild.
config_id=$( { cat "$FRAGMENT"; cat "$SRC/.bulwark-unpacked" 2>/dev/null; } | sha256sum | cut -c1-16)
mkdir -p "$OBJ"
if [ "$(cat "$OBJ/.bulwark-config-id" 2>/dev/null)" != "$config_id" ]; then
    rm -f "$OBJ/.bulwark-config-id"
    kmake tinyconfig >/dev/null
    "$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" "$FRAGMENT" >/dev/null
    "$SRC/scripts/config" --file "$OBJ/.config" --set-str INITRAMFS_SOURCE "$INITRAMFS_DIR/list"
    kmake olddefconfig >/dev/null
    check_fragment "$OBJ/.config" || die "the fragment $FRAGMENT did not apply as written (see above)"
    grep -qx "CONFIG_INITRAMFS_SOURCE=\"$INITRAMFS_DIR/list\"" "$OBJ/.config" \
        || die "CONFIG_INITRAMFS_SOURCE did not stick"
    echo "$config_id" >"$OBJ/.bulwark-config-id"
fi

# The initramfs inputs. /init goes in stripped (its symbols and debug
# information stay in the build's copy, for reading crash addresses); it is
# replaced only when its bytes change, so an unchanged binary does not relink.
mkdir -p "$OBJ/$INITRAMFS_DIR"
strip --strip-all -o "$OBJ/$INITRAMFS_DIR/init.new" "$INIT"
if cmp -s "$OBJ/$INITRAMFS_DIR/init.new" "$OBJ/$INITRAMFS_DIR/init"; then
    rm "$OBJ/$INITRAMFS_DIR/init.new"
else
    mv "$OBJ/$INITRAMFS_DIR/init.new" "$OBJ/$INITRAMFS_DIR/init"
fi
sed "s|@INIT@|$INITRAMFS_DIR/init|" "$LIST_IN" >"$OBJ/$INITRAMFS_DIR/list.new"
if cmp -s "$OBJ/$INITRAMFS_DIR/list.new" "$OBJ/$INITRAMFS_DIR/list"; then
    rm "$OBJ/$INITRAMFS_DIR/list.new"
else
    mv "$OBJ/$INITRAMFS_DIR/list.new" "$OBJ/$INITRAMFS_DIR/list"
fi

kmake -j"$JOBS" bzImage vmlinux >"$OBJ/make.log" 2>&1 || { tail -40 "$OBJ/make.log" >&2; die "kernel build failed (log: $OBJ/make.log)"; }

mkdir -p "$PREFIX"
install -m 0644 "$OBJ/arch/x86/boot/bzImage" "$PREFIX/bzImage"
install -m 0644 "$OBJ/vmlinux" "$PREFIX/vmlinux"
install -m 0644 "$OBJ/.config" "$PREFIX/config"
install -m 0644 "$OBJ/System.map" "$PREFIX/System.map"
install -m 0644 "$OBJ/usr/initramfs_data.cpio" "$PREFIX/initramfs.cpio"
