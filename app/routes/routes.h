/*
 * Routes.  Each is an h2o handler that answers the requests it owns and
 * returns -1 for the rest, so handlers registered on one pathconf form a
 * chain that ends with bulwark_router_fallback_register (or, on pathconfs
 * without policy routes, bulwark_notfound_register).
 *
 * The policy routes' handlers serve the route the router matched
 * (bulwark_reqctx(req)->route) and nothing else.
 */
#ifndef BULWARK_ROUTES_H
#define BULWARK_ROUTES_H

#include <stdint.h>
#include "h2o.h"
#include "policy/policy.h"

/* the router (router.c): records the matched policy route in the request's
 * context and passes on; register it early */
void bulwark_router_match_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy);
/* the end of the chain: 405 with Allow for a known path, else 404 */
void bulwark_router_fallback_register(h2o_pathconf_t *pathconf);
/* BULWARK_METHOD_* of a request method, 0 for any other */
unsigned bulwark_method_bit(h2o_iovec_t method);

/* the builtin healthz route -> 200 {"status":"ok"} */
void bulwark_healthz_register(h2o_pathconf_t *pathconf);

/* static routes with an inline body -> 200 with the policy's content type */
void bulwark_static_inline_register(h2o_pathconf_t *pathconf);

/* "/" and the route's literal segments before the first {param} or *, as
 * "/a/b" ("" for "/"); malloc'd */
h2o_iovec_t bulwark_route_literal_prefix(const bulwark_route_t *route);

/* A static route with a dir -> h2o's file handler on that directory, below
 * the route's literal prefix.  -1 with one line in err when the directory
 * cannot be read. */
int bulwark_static_dir_register(h2o_pathconf_t *pathconf, const bulwark_route_t *route, char *err, size_t errlen);

/* A proxy route -> h2o's reverse proxy to its upstream (HTTP, or HTTPS
 * verified against the route's CA file), without the client's X-Auth-*
 * headers and with X-Auth-Subject / X-Auth-Scopes of a verified token.
 * One handler per proxy route; -1 with one line in err when the upstream
 * cannot be served. */
int bulwark_proxy_register(h2o_pathconf_t *pathconf, const bulwark_route_t *route, const bulwark_policy_tls_t *tls, char *err,
                           size_t errlen);

/* anything -> 404 {"detail":"Not Found","reference":...}; register last */
void bulwark_notfound_register(h2o_pathconf_t *pathconf);

/* anything -> 308 to https://HOST[:https_port]/path?query (plain-HTTP listeners) */
void bulwark_https_redirect_register(h2o_pathconf_t *pathconf, uint16_t https_port);

#endif
