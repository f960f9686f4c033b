#!/bin/bash
# Stage: libh2o-evloop (HTTP/1.1, HTTP/2, the handlers we use) on mbedTLS,
# compiled with our own rules: the file list and defines are in h2o.mk.
# h2o's CMake build would pull in libuv, OpenSSL, mruby and friends.
set -euo pipefail
cd "$SRC"
make --no-print-directory -f "$STAGE_DIR/h2o-lib.mk" -j"$JOBS" \
    H2O_MK="$STAGE_DIR/h2o.mk" CC="$CC" CFLAGS="$CFLAGS" \
    MBEDTLS_INC="$DEPS/mbedtls/include" OUT="$PREFIX" >make.log 2>&1 \
    || { grep -E 'error|Error' make.log | head -30; exit 1; }
