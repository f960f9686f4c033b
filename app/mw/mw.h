/*
 * Middleware: h2o handlers (which return -1 to pass a request on), filters
 * and loggers that every pathconf carries, registered by serve.c in the
 * order of DESIGN.md's data path.  Each reads the policy it is given and
 * keeps no state besides it.
 */
#ifndef BULWARK_MW_H
#define BULWARK_MW_H

#include <sys/socket.h>
#include "h2o.h"
#include "policy/policy.h"

/* X-Request-ID on every response that goes through the pathconf */
void bulwark_request_id_register(h2o_pathconf_t *pathconf);

/* one JSON line per request on stdout */
void bulwark_access_log_register(h2o_pathconf_t *pathconf);

/* 400 {"detail":"Invalid host header"} unless Host / :authority matches
 * policy->hosts (any port); also makes ctx->policy known */
void bulwark_hosts_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy);
/* 1 when an authority ("name", "1.2.3.4", "[::1]", each with an optional
 * ":port") is one of the policy's hosts */
int bulwark_host_allowed(const bulwark_policy_t *policy, const char *authority, size_t len);

/* ctx->client: the peer, or the rightmost X-Forwarded-For hop that is not a
 * trusted proxy when the peer is one */
void bulwark_client_addr_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy);
int bulwark_addr_is_trusted_proxy(const bulwark_policy_t *policy, const struct sockaddr_storage *addr);
/* The same without a request: the client behind peer, given the values of
 * the request's X-Forwarded-For fields in the order they arrived.  An
 * IPv4-mapped IPv6 peer or hop comes out as plain IPv4. */
void bulwark_client_addr_resolve(const bulwark_policy_t *policy, const struct sockaddr_storage *peer,
                                 const h2o_iovec_t *forwarded, size_t num_forwarded, struct sockaddr_storage *client);

/* the policy's headers on every response; Strict-Transport-Security only
 * when https; Server and X-Powered-By removed */
void bulwark_security_headers_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy, int https);

/* CORS: preflight handler (204/403) and the Access-Control-* filter */
void bulwark_cors_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy);

/* 414, 431, 413, 415, 422 (policy limits and the matched route's body rules) */
void bulwark_input_limits_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy);

/* every error response as {"detail","reference"} JSON; upstream 5xx replaced */
void bulwark_error_sanitizer_register(h2o_pathconf_t *pathconf);
/* the generic detail the sanitiser sends for a status */
const char *bulwark_error_detail(int status);

#endif
