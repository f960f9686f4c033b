/*
 * GCRA, the generic cell rate algorithm (ITU-T I.371, the "virtual
 * scheduling" form): one number per key, the theoretical arrival time (TAT)
 * of the next request if the client went exactly at the allowed rate.
 *
 * A limit of N requests per window T has the emission interval I = T/N and
 * lets the TAT run at most N*I = T ahead of now.  A request at `now` moves the
 * TAT to max(TAT, now) + I and is admitted when that is at most now + N*I.
 * So a client that has been quiet for T gets exactly N requests at once, then
 * one every I: 100 per minute is a burst of 100, then one per 0.6 s.  A TAT
 * at or before now is the same as no state at all: that key has fully
 * recovered (the local store evicts on exactly this).
 *
 * Times are nanoseconds of a monotonic clock, passed in by the caller.
 */
#ifndef BULWARK_RATELIMIT_GCRA_H
#define BULWARK_RATELIMIT_GCRA_H

#include <stdint.h>

/* a key that has no state: any TAT at or before now behaves the same */
#define BULWARK_GCRA_NO_STATE 0

typedef struct st_bulwark_gcra_t {
    uint64_t interval_ns; /* I = T/N, rounded up: never more than N per T */
    uint64_t capacity_ns; /* N * I: how far the TAT may run ahead of now */
    uint32_t requests;    /* N */
} bulwark_gcra_t;

typedef struct st_bulwark_gcra_result_t {
    int allowed;
    uint64_t tat;       /* allowed: the TAT to store; refused: unchanged */
    uint32_t remaining; /* requests that would be admitted right after this one */
    uint64_t reset_ns;  /* until the key has fully recovered (its whole quota back) */
    uint64_t next_ns;   /* until `remaining` grows by one: within it, no more than
                           `remaining` requests are admitted */
    uint64_t retry_ns;  /* refused: until this request would be admitted; else 0 */
} bulwark_gcra_result_t;

/* requests >= 1, window_ms >= 1 (the policy loader guarantees both) */
void bulwark_gcra_init(bulwark_gcra_t *g, uint32_t requests, uint64_t window_ms);

/* The decision for one request at `now` on a key whose TAT is `tat`
 * (BULWARK_GCRA_NO_STATE for a key never seen); stores nothing. */
void bulwark_gcra_decide(const bulwark_gcra_t *g, uint64_t tat, uint64_t now, bulwark_gcra_result_t *r);

/* nanoseconds as whole seconds, rounded up (header values, Retry-After) */
uint64_t bulwark_gcra_ceil_seconds(uint64_t ns);

#endif
