/*
 * The HTTP targets' server: the service's own h2o configuration -- every
 * middleware layer and route of the policy tests/fuzz/http-policy.yaml, in
 * the order app/serve.c registers them -- on one event loop, fed through a
 * real loopback TCP connection per input (so the peer is an address, one of
 * 127.101.0.0/16, and the client-address, host and rate-limit layers see
 * what they see in service).
 *
 * Not covered here: TLS (the connection is cleartext; ALPN's choice is made
 * by calling the protocol's accept directly) and PBKDF2 (see
 * http_harness.c).
 */
#ifndef BULWARK_FUZZ_HTTP_HARNESS_H
#define BULWARK_FUZZ_HTTP_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include "h2o.h"

typedef void (*http_harness_accept_cb)(h2o_accept_ctx_t *ctx, h2o_socket_t *sock, struct timeval connected_at);

/* sets the server up once (aborts with a message when it cannot) */
void http_harness_init(void);

/* One connection: accepted with protocol_accept (h2o_http1_accept,
 * h2o_http2_accept), prefix then data written by the client, its write
 * side shut, responses read and dropped until the server closes. A server
 * that keeps the connection open after the client's end of input is a
 * finding (abort). */
void http_harness_run(http_harness_accept_cb protocol_accept, const void *prefix, size_t prefix_len, const uint8_t *data,
                      size_t size);

#endif
