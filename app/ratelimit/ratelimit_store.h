/*
 * Where GCRA state lives: an interface, so that the same limiter counts in
 * this process (ratelimit_store_local.c) or in a store that many instances
 * share (Redis, a later issue).
 *
 * A store knows the policy's limits by their index in
 * bulwark_policy_ratelimits_t.limits.  One call checks one request against
 * several limits, each with its own key, as one atomic step: either every
 * limit admits the request and every one is charged, or the request is
 * refused and none is charged (a refused request consumes nothing).  Other
 * threads never see a state between the two.
 *
 * Contract for every store:
 * - checks[] name distinct limits, at most BULWARK_RL_CHECKS_MAX of them
 *   (the policy's maximum number of limits); anything else is STORE_ERROR.
 * - results[i] answers checks[i], for every i, whatever the verdict (on
 *   STORE_ERROR they are zero).
 * - `now` is monotonic nanoseconds; the same clock for every call.
 * - A store that cannot answer (unreachable, out of memory for a new key)
 *   never admits: it refuses or says STORE_ERROR.  It never hangs longer
 *   than its configured timeout.
 */
#ifndef BULWARK_RATELIMIT_STORE_H
#define BULWARK_RATELIMIT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "ratelimit_key.h"

/* SCHEMA.md: rate_limits.limits holds at most 16 limits */
#define BULWARK_RL_CHECKS_MAX 16

typedef struct st_bulwark_rl_check_t {
    uint32_t limit; /* index into the policy's rate_limits.limits */
    const bulwark_rl_key_t *key;
} bulwark_rl_check_t;

typedef struct st_bulwark_rl_result_t {
    uint8_t allowed;    /* this limit alone would admit the request */
    uint8_t at_bound;   /* refused because the store holds its maximum of keys (see the store) */
    uint32_t remaining; /* after this request (0 when refused) */
    uint64_t reset_ns;  /* until the key's whole quota is back */
    uint64_t next_ns;   /* until `remaining` grows by one (the RateLimit field's t) */
    uint64_t retry_ns;  /* refused: until this limit would admit it; else 0 */
} bulwark_rl_result_t;

typedef enum en_bulwark_rl_verdict_t {
    BULWARK_RL_ADMIT,      /* every limit admitted; charged when committing */
    BULWARK_RL_REFUSE,     /* some limit refused; nothing was charged */
    BULWARK_RL_STORE_ERROR /* no answer (contract violated, store unreachable) */
} bulwark_rl_verdict_t;

typedef struct st_bulwark_rl_store_t bulwark_rl_store_t;

typedef struct st_bulwark_rl_store_ops_t {
    const char *name; /* "local", for messages */
    /* the atomic check: charges every limit when all admit */
    bulwark_rl_verdict_t (*check_and_commit)(bulwark_rl_store_t *store, const bulwark_rl_check_t *checks, size_t n,
                                             uint64_t now, bulwark_rl_result_t *results);
    /* the same decision, charging nothing (a cheap pre-check before costly
     * work such as verifying a token; the later commit decides) */
    bulwark_rl_verdict_t (*peek)(bulwark_rl_store_t *store, const bulwark_rl_check_t *checks, size_t n, uint64_t now,
                                 bulwark_rl_result_t *results);
    void (*destroy)(bulwark_rl_store_t *store);
} bulwark_rl_store_ops_t;

/* The base of every store: a store's own struct starts with it. */
struct st_bulwark_rl_store_t {
    const bulwark_rl_store_ops_t *ops;
};

static inline bulwark_rl_verdict_t bulwark_rl_store_check_and_commit(bulwark_rl_store_t *store,
                                                                     const bulwark_rl_check_t *checks, size_t n,
                                                                     uint64_t now, bulwark_rl_result_t *results)
{
    return store->ops->check_and_commit(store, checks, n, now, results);
}

static inline bulwark_rl_verdict_t bulwark_rl_store_peek(bulwark_rl_store_t *store, const bulwark_rl_check_t *checks,
                                                         size_t n, uint64_t now, bulwark_rl_result_t *results)
{
    return store->ops->peek(store, checks, n, now, results);
}

static inline void bulwark_rl_store_destroy(bulwark_rl_store_t *store)
{
    if (store != NULL)
        store->ops->destroy(store);
}

#endif
