/*
 * GCRA; see gcra.h.
 */
#include "gcra.h"

#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S UINT64_C(1000000000)

void bulwark_gcra_init(bulwark_gcra_t *g, uint32_t requests, uint64_t window_ms)
{
    uint64_t window_ns = window_ms * NS_PER_MS;

    /* Rounded up, so that a window that N does not divide (60 s / 7) errs on
     * the strict side by under a nanosecond a request.  Policy bounds (1 s..1 d,
     * 1..1e6 requests) keep N * I far below 2^64. */
    g->requests = requests;
    g->interval_ns = (window_ns + requests - 1) / requests;
    g->capacity_ns = g->interval_ns * requests;
}

void bulwark_gcra_decide(const bulwark_gcra_t *g, uint64_t tat, uint64_t now, bulwark_gcra_result_t *r)
{
    uint64_t base = tat > now ? tat : now;
    uint64_t next = base + g->interval_ns;
    uint64_t ahead = next - now;

    if (ahead <= g->capacity_ns) {
        r->allowed = 1;
        r->tat = next;
        r->remaining = (uint32_t)((g->capacity_ns - ahead) / g->interval_ns);
        r->reset_ns = ahead;
        /* the unit after `remaining` comes back once now + capacity - TAT
         * reaches (remaining + 1) intervals */
        r->next_ns = (uint64_t)(r->remaining + 1) * g->interval_ns - (g->capacity_ns - ahead);
        r->retry_ns = 0;
    } else {
        r->allowed = 0;
        r->tat = tat;
        r->remaining = 0;
        r->reset_ns = base - now;
        r->retry_ns = ahead - g->capacity_ns;
        r->next_ns = r->retry_ns;
    }
}

uint64_t bulwark_gcra_ceil_seconds(uint64_t ns)
{
    return ns / NS_PER_S + (ns % NS_PER_S != 0);
}
