/*
 * The rate limiter of a policy: which named limits apply to a request, one
 * atomic check of all of them in the configured store, and the values of the
 * response fields.
 *
 * Response fields: draft-ietf-httpapi-ratelimit-headers-11 (May 2026; the
 * structured-field syntax is unchanged since -08):
 *   RateLimit-Policy: "general";q=100;w=60, "login";q=5;w=60
 *       every limit that counted the request: quota q per window w seconds
 *   RateLimit: "login";r=4;t=12
 *       the most constrained of them (fewest requests left r; on a tie the
 *       longest t).  r: requests left after this one.  t: seconds (rounded
 *       up) until r grows again, i.e. the time within which no more than r
 *       are admitted (the draft's "effective window"); on a refused request,
 *       the limit that refused it, with r=0 and t equal to Retry-After (the
 *       draft: Retry-After not earlier than the end of the effective window).
 * No partition key (pk) is sent: it would name the client's address or
 * subject back to it for no use.
 */
#ifndef BULWARK_RATELIMIT_RATELIMITER_H
#define BULWARK_RATELIMIT_RATELIMITER_H

#include <stddef.h>
#include <stdint.h>
#include "policy/policy.h"
#include "ratelimit_key.h"
#include "ratelimit_store.h"

/* a header value for BULWARK_RL_CHECKS_MAX limits, with room to spare:
 * an item is at most `"` 32 `";q=` 7 `;w=` 5 `, ` = 55 bytes */
#define BULWARK_RL_FIELD_MAX 1024

typedef struct st_bulwark_ratelimiter_t bulwark_ratelimiter_t;

typedef struct st_bulwark_rl_decision_t {
    bulwark_rl_verdict_t verdict;
    size_t num;                                    /* limits checked */
    uint32_t limits[BULWARK_RL_CHECKS_MAX];        /* their indexes in the policy */
    bulwark_rl_result_t results[BULWARK_RL_CHECKS_MAX];
    size_t binding;         /* the most constrained result (the RateLimit field), when num != 0 */
    uint64_t retry_after_s; /* REFUSE: the Retry-After value, >= 1 */
} bulwark_rl_decision_t;

/* The limiter of policy->ratelimits with its store (local; Redis is a later
 * issue and refused here with a message), keyed with a fresh random seed.
 * NULL with one line in err. */
bulwark_ratelimiter_t *bulwark_ratelimiter_new(const bulwark_policy_t *policy, char *err, size_t errlen);
void bulwark_ratelimiter_free(bulwark_ratelimiter_t *rl);

const bulwark_policy_ratelimits_t *bulwark_ratelimiter_config(const bulwark_ratelimiter_t *rl);
/* the store behind it (for tests and stats) */
bulwark_rl_store_t *bulwark_ratelimiter_store(bulwark_ratelimiter_t *rl);

/* The limits that apply to a request for `path` (without query) on `route`
 * (NULL when none matched): every global limit whose path_prefix starts the
 * path, then the route's own, each once.  None for an exempt route.  Writes
 * at most BULWARK_RL_CHECKS_MAX indexes to limits[]; returns how many. */
size_t bulwark_ratelimiter_applicable(const bulwark_policy_ratelimits_t *config, const bulwark_route_t *route,
                                      const char *path, size_t path_len, uint32_t *limits);

/* Checks the request against checks[0..n) at `now` (monotonic ns): charges
 * every limit when all admit (commit), or only looks (commit == 0). */
void bulwark_ratelimiter_check(bulwark_ratelimiter_t *rl, const bulwark_rl_check_t *checks, size_t n, uint64_t now,
                               int commit, bulwark_rl_decision_t *d);

/* The RateLimit-Policy and RateLimit values for a decision with num != 0,
 * NUL-terminated; return their length (0 when num == 0). */
size_t bulwark_rl_format_policy(char *buf, size_t cap, const bulwark_policy_ratelimits_t *config,
                                const bulwark_rl_decision_t *d);
size_t bulwark_rl_format_state(char *buf, size_t cap, const bulwark_policy_ratelimits_t *config,
                               const bulwark_rl_decision_t *d);

#endif
