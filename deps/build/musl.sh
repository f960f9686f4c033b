#!/bin/bash
# Stage: musl libc, static only, into $PREFIX (becomes build/sysroot).
# Built with the system gcc and the same hardening as everything else; musl's
# configure itself turns the stack protector off for the few objects that run
# before the canary exists (CFLAGS_NOSSP).
set -euo pipefail
cd "$SRC"
./configure --prefix=/ --disable-shared \
    CC=gcc AR=ar RANLIB=ranlib CFLAGS="$HARDEN_CFLAGS" >configure.log 2>&1 || { tail -20 configure.log; exit 1; }
make -j"$JOBS" >make.log 2>&1 || { tail -30 make.log; exit 1; }
make DESTDIR="$PREFIX" install-headers install-libs >/dev/null
