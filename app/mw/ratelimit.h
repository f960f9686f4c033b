/*
 * The rate-limit middleware (mw/ratelimit.c) over the limiter of
 * ratelimit/ratelimiter.h.
 */
#ifndef BULWARK_MW_RATELIMIT_H
#define BULWARK_MW_RATELIMIT_H

#include "h2o.h"
#include "../policy/policy.h"
#include "../ratelimit/ratelimiter.h"
#include "auth.h"

/* bulwark_ratelimiter_new(policy, err, errlen) / bulwark_ratelimiter_free(rl)
 * (ratelimiter.h) make the limiter: one per process, shared by every
 * event-loop thread, freed after the last of them has stopped. */

/* The handler (and its response filter) for the pathconf: counts every
 * request of a non-exempt route against the limits that apply to it
 * (ctx->route set by the router before), passes admitted ones on, and answers
 * the others 429 {"detail":"Rate limit exceeded","reference":"<id>"} with
 * Retry-After.  RateLimit-Policy and RateLimit go on every response of a
 * counted request, 429 or not.  Token-subject limits call
 * bulwark_auth_resolve(auth, ...) only after the address- and header-keyed
 * limits would admit the request, so a flood of made-up tokens is stopped by
 * the address limit before any signature is verified.  auth may be NULL when
 * the policy has no token_subject limit. */
void bulwark_ratelimit_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy, bulwark_ratelimiter_t *rl,
                                bulwark_auth_t *auth);

#endif
