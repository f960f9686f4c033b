#!/bin/bash
# Stage: mbedTLS libraries with deps/config/mbedtls/bulwark_mbedtls_config.h.
# Only library/ is built: the test suite and example programs are not ours to
# ship (the demo identity has its own tool, image/demo/mkdemo.c).
set -euo pipefail
cd "$SRC"
cp "$CONFIG_DIR/bulwark_mbedtls_config.h" include/mbedtls/
# MBEDTLS_ALIGNMENT_DISABLE_EFFICENT_UNALIGNED_ACCESS (upstream's spelling):
# unaligned loads and stores go through memcpy instead of casts to wider
# types, as Debian builds 3.6.7-3 (debian/rules). Upstream added the switch
# for a miscompilation of the software GCM tables through those casts (GCC 10
# to 14.2 at -O3). We build at -O2, but software GCM is the path a guest CPU
# without PCLMULQDQ takes, and on x86-64 GCC turns a fixed-size memcpy into
# the same single move, so the switch costs nothing.
make -C library -j"$JOBS" CC="$CC" AR=ar \
    CFLAGS="$CFLAGS -DMBEDTLS_CONFIG_FILE='\"mbedtls/bulwark_mbedtls_config.h\"' -DMBEDTLS_ALIGNMENT_DISABLE_EFFICENT_UNALIGNED_ACCESS" \
    libmbedcrypto.a libmbedx509.a libmbedtls.a >make.log 2>&1 || { tail -30 make.log; exit 1; }
mkdir -p "$PREFIX/lib" "$PREFIX/include"
cp library/libmbedcrypto.a library/libmbedx509.a library/libmbedtls.a "$PREFIX/lib/"
cp -r include/mbedtls include/psa "$PREFIX/include/"
