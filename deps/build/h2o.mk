# h2o 2.2.5 (libh2o-evloop subset) as Bulwark builds it: HTTP/1.1 and HTTP/2 over the
# evloop socket back-end, TLS and digests on mbedTLS 3.6 (deps/patches/h2o/), no OpenSSL,
# libuv, YAML, mruby, memcached, websocket, picotls, brotli or zlib.
# Variables only: the build system includes this file and owns the rules.
# All paths are relative to the h2o source root (what deps/fetch --unpack h2o DIR unpacks).

H2O_SRCS := \
	deps/cloexec/cloexec.c \
	deps/libgkc/gkc.c \
	deps/picohttpparser/picohttpparser.c \
	lib/common/cache.c \
	lib/common/file.c \
	lib/common/filecache.c \
	lib/common/hostinfo.c \
	lib/common/http1client.c \
	lib/common/memory.c \
	lib/common/multithread.c \
	lib/common/serverutil.c \
	lib/common/socket.c \
	lib/common/socketpool.c \
	lib/common/string.c \
	lib/common/time.c \
	lib/common/timeout.c \
	lib/common/url.c \
	lib/core/config.c \
	lib/core/context.c \
	lib/core/headers.c \
	lib/core/logconf.c \
	lib/core/proxy.c \
	lib/core/request.c \
	lib/core/token.c \
	lib/core/util.c \
	lib/handler/access_log.c \
	lib/handler/chunked.c \
	lib/handler/errordoc.c \
	lib/handler/expires.c \
	lib/handler/file.c \
	lib/handler/headers.c \
	lib/handler/headers_util.c \
	lib/handler/mimemap.c \
	lib/handler/proxy.c \
	lib/handler/redirect.c \
	lib/handler/status.c \
	lib/handler/status/durations.c \
	lib/handler/status/events.c \
	lib/handler/status/requests.c \
	lib/handler/throttle_resp.c \
	lib/http1.c \
	lib/http2/cache_digests.c \
	lib/http2/casper.c \
	lib/http2/connection.c \
	lib/http2/frame.c \
	lib/http2/hpack.c \
	lib/http2/http2_debug_state.c \
	lib/http2/scheduler.c \
	lib/http2/stream.c \
	lib/tunnel.c

# Left out on purpose:
#   lib/common/memcached.c, deps/libyrmcds/*  memcached session store (async resumption dropped)
#   lib/core/configurator.c, lib/handler/configurator/*  YAML configuration (we configure h2o in C)
#   lib/handler/compress.c, lib/handler/compress/*  needs zlib (gzip) and optionally brotli
#   lib/handler/fastcgi.c, lib/handler/reproxy.c, lib/handler/http2_debug_state.c, lib/handler/mruby*
#   lib/websocket.c (wslay), deps/picotls, deps/neverbleed, libuv binding
# lib/http2/http2_debug_state.c is the HTTP/2 core's debug hook, not the handler.

H2O_INCLUDES := \
	include \
	deps/cloexec \
	deps/golombset \
	deps/klib \
	deps/libgkc \
	deps/picohttpparser

# H2O_USE_LIBUV=0 selects the evloop back-end (epoll on Linux, chosen in evloop.c.h);
# _GNU_SOURCE for accept4, pipe2 and TCP_INFO (h2o's CMakeLists adds it on Linux);
# H2O_ROOT is where the status handler and spawned loggers would look for h2o's share/ files.
H2O_DEFINES := -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -DH2O_ROOT=/usr

# h2o is written in GNU C99 (statement expressions, __thread, __sync builtins) and uses pthreads.
# Also compile with mbedTLS's include dir and -DMBEDTLS_CONFIG_FILE='"mbedtls/bulwark_mbedtls_config.h"'.
H2O_CFLAGS := -std=gnu99 -pthread -Wno-unused-value -Wno-unused-function
