#!/bin/bash
# Stage: jansson (JSON for the middleware: request bodies, claims, logs).
set -euo pipefail
cd "$SRC"
ver=$(sed -n 's/^AC_INIT(\[jansson\], \[\([0-9.]*\)\].*/\1/p' configure.ac)
IFS=. read -r major minor patch <<<"$ver.0"
mkdir -p obj "$PREFIX/lib" "$PREFIX/include"
sed -e "s/@JANSSON_MAJOR_VERSION@/$major/; s/@JANSSON_MINOR_VERSION@/$minor/" \
    -e "s/@JANSSON_MICRO_VERSION@/${patch:-0}/; s/@JANSSON_VERSION@/$ver/" \
    -e 's/@json_have_long_long@/1/; s/@json_inline@/inline/' \
    -e 's/@json_have_localeconv@/1/; s/@json_have_atomic_builtins@/1/' \
    -e 's/@json_have_sync_builtins@/1/' \
    src/jansson_config.h.in >src/jansson_config.h
# The private config autotools would write. The hash-table seed (defence
# against hash flooding, CVE-2013-6401) comes from getentropy(), added by
# deps/patches/jansson/0001: no /dev/urandom needed, and never the
# clock-and-pid fallback jansson takes without USE_URANDOM.
cat >src/jansson_private_config.h <<'CONF'
#define HAVE_STDINT_H 1
#define HAVE_UNISTD_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_LOCALECONV 1
#define HAVE_GETTIMEOFDAY 1
#define HAVE_GETPID 1
#define HAVE_SCHED_H 1
#define HAVE_SCHED_YIELD 1
#define HAVE_ATOMIC_BUILTINS 1
#define HAVE_SYNC_BUILTINS 1
#define INITIAL_HASHTABLE_ORDER 3
#define USE_GETENTROPY 1
CONF
for f in src/*.c; do
    # shellcheck disable=SC2086 # CFLAGS is a list of flags: split on purpose
    $CC $CFLAGS -DHAVE_CONFIG_H -Isrc -c "$f" -o "obj/$(basename "${f%.c}").o"
done
ar rcsD "$PREFIX/lib/libjansson.a" obj/*.o
cp src/jansson.h src/jansson_config.h "$PREFIX/include/"
