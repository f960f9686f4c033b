/*
 * Per-request state the middleware layers share: one struct per request,
 * allocated from the request's pool on first use and found again through
 * h2o's request env (no h2o patch, no global table).
 *
 * Who writes what, in chain order:
 *   request id filter  request_id
 *   router             route, params (the matched policy route)
 *   client address     client (peer, or the rightmost untrusted
 *                      X-Forwarded-For hop when the peer is a trusted proxy)
 *   rate limiter       ratelimit (the RateLimit fields for the response)
 *   auth               auth (resolved once, lazily: see mw/auth.h)
 *   anyone             error_detail (the detail of the JSON error to send)
 */
#ifndef BULWARK_REQCTX_H
#define BULWARK_REQCTX_H

#include <netinet/in.h>
#include <sys/socket.h>
#include "h2o.h"
#include "policy/policy.h"

/* a route has at most this many {param} segments (the policy loader's limit) */
#define BULWARK_REQCTX_PARAMS_MAX 8
/* the scopes of one token we keep (more are ignored for authorization) */
#define BULWARK_REQCTX_SCOPES_MAX 16

typedef enum en_bulwark_auth_state_t {
    BULWARK_AUTH_UNRESOLVED = 0, /* nobody has looked at Authorization yet */
    BULWARK_AUTH_NONE,           /* no credentials sent */
    BULWARK_AUTH_INVALID,        /* credentials sent and rejected: see reason */
    BULWARK_AUTH_VALID           /* verified token: subject, scopes */
} bulwark_auth_state_t;

typedef struct st_bulwark_reqctx_t {
    h2o_iovec_t request_id;
    const bulwark_policy_t *policy;
    const bulwark_route_t *route; /* NULL: no policy route matched */
    h2o_iovec_t params[BULWARK_REQCTX_PARAMS_MAX];
    size_t num_params;
    struct sockaddr_storage client; /* the address limits and logs key on */
    struct {
        bulwark_auth_state_t state;
        const char *reason; /* internal, for the log line; never sent to a client */
        h2o_iovec_t subject;
        h2o_iovec_t scopes[BULWARK_REQCTX_SCOPES_MAX];
        size_t num_scopes;
    } auth;
    /* rate limiter (mw/ratelimit.c): the RateLimit-Policy and RateLimit
     * values for the response, in req->pool; empty when no limit counted the
     * request.  Its filter adds them to whatever response goes out. */
    struct {
        h2o_iovec_t policy;
        h2o_iovec_t state;
    } ratelimit;
    /* the detail of the JSON error this request is answered with (set by
     * bulwark_reply_detail and by the error sanitiser), NULL otherwise; the
     * access log writes it beside the request id that is its reference */
    const char *error_detail;
    /* router: the methods of the routes whose path matched when none of
     * them allowed the request's method (BULWARK_METHOD_*; 0 otherwise) */
    unsigned path_methods;
} bulwark_reqctx_t;

/* the request's context, created (zeroed, in req->pool) on first call */
bulwark_reqctx_t *bulwark_reqctx(h2o_req_t *req);

#endif
