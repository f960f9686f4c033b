/*
 * The request id: the client's X-Request-ID when it is safe to echo back,
 * else a fresh UUIDv4.  Decided once per request and kept on it, so the
 * response header, an error body's "reference" and the access-log line all
 * carry the same value.
 */
#ifndef BULWARK_REQID_H
#define BULWARK_REQID_H

#include "h2o.h"

/* the longest id taken from a client (DEFAULT-POLICY.md: [A-Za-z0-9._-]{1,64}) */
#define BULWARK_REQID_CLIENT_MAX 64

h2o_iovec_t bulwark_reqid(h2o_req_t *req);

/* 1 when value may be reused as a request id */
int bulwark_reqid_is_acceptable(const char *value, size_t len);

#endif
