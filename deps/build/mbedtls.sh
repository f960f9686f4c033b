#!/bin/bash
# Stage: mbedTLS libraries with deps/config/mbedtls/bulwark_mbedtls_config.h.
# Only library/ is built: the test suite and example programs are not ours to
# ship (the demo identity has its own tool, image/demo/mkdemo.c).
set -euo pipefail
cd "$SRC"
cp "$CONFIG_DIR/bulwark_mbedtls_config.h" include/mbedtls/
make -C library -j"$JOBS" CC="$CC" AR=ar \
    CFLAGS="$CFLAGS -DMBEDTLS_CONFIG_FILE='\"mbedtls/bulwark_mbedtls_config.h\"'" \
    libmbedcrypto.a libmbedx509.a libmbedtls.a >make.log 2>&1 || { tail -30 make.log; exit 1; }
mkdir -p "$PREFIX/lib" "$PREFIX/include"
cp library/libmbedcrypto.a library/libmbedx509.a library/libmbedtls.a "$PREFIX/lib/"
cp -r include/mbedtls include/psa "$PREFIX/include/"
