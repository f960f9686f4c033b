/*
 * The policy's rate limiter; see ratelimiter.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gcra.h"
#include "ratelimit_store_local.h"
#include "ratelimiter.h"

#define MS_PER_S 1000

struct st_bulwark_ratelimiter_t {
    const bulwark_policy_ratelimits_t *config;
    bulwark_rl_store_t *store;
};

/* --- life cycle ---------------------------------------------------------- */

static bulwark_rl_store_t *new_local_store(const bulwark_policy_ratelimits_t *config, char *err, size_t errlen)
{
    uint8_t seed[BULWARK_SIPHASH_KEY_SIZE];
    bulwark_rl_store_t *store;

    /* getentropy: POSIX.1-2024, musl and every BSD; the lwIP build supplies its own */
    if (getentropy(seed, sizeof(seed)) != 0) {
        snprintf(err, errlen, "rate limiter: no random seed for key hashing: %s", strerror(errno));
        return NULL;
    }
    store = bulwark_rl_store_local_new(config->limits, config->num_limits, config->max_keys, seed);
    memset(seed, 0, sizeof(seed));
    if (store == NULL)
        snprintf(err, errlen, "rate limiter: cannot create the local store for %zu limits of %" PRIu32 " keys",
                 config->num_limits, config->max_keys);
    return store;
}

bulwark_ratelimiter_t *bulwark_ratelimiter_new(const bulwark_policy_t *policy, char *err, size_t errlen)
{
    const bulwark_policy_ratelimits_t *config = &policy->ratelimits;
    bulwark_ratelimiter_t *rl;

    if (config->store != BULWARK_RL_STORE_LOCAL) {
        snprintf(err, errlen, "%s: rate_limits.store: this build has only the local store; use `store: local`",
                 policy->file.base != NULL ? policy->file.base : "policy");
        return NULL;
    }
    if ((rl = calloc(1, sizeof(*rl))) == NULL) {
        snprintf(err, errlen, "rate limiter: out of memory");
        return NULL;
    }
    rl->config = config;
    if ((rl->store = new_local_store(config, err, errlen)) == NULL) {
        free(rl);
        return NULL;
    }
    return rl;
}

void bulwark_ratelimiter_free(bulwark_ratelimiter_t *rl)
{
    if (rl == NULL)
        return;
    bulwark_rl_store_destroy(rl->store);
    free(rl);
}

const bulwark_policy_ratelimits_t *bulwark_ratelimiter_config(const bulwark_ratelimiter_t *rl)
{
    return rl->config;
}

bulwark_rl_store_t *bulwark_ratelimiter_store(bulwark_ratelimiter_t *rl)
{
    return rl->store;
}

/* --- which limits --------------------------------------------------------- */

static int has_prefix(const char *path, size_t path_len, bulwark_str_t prefix)
{
    return prefix.len <= path_len && memcmp(path, prefix.base, prefix.len) == 0;
}

static size_t add_once(uint32_t *limits, size_t n, uint32_t limit)
{
    for (size_t i = 0; i != n; ++i)
        if (limits[i] == limit)
            return n;
    if (n == BULWARK_RL_CHECKS_MAX)
        return n;
    limits[n] = limit;
    return n + 1;
}

size_t bulwark_ratelimiter_applicable(const bulwark_policy_ratelimits_t *config, const bulwark_route_t *route,
                                      const char *path, size_t path_len, uint32_t *limits)
{
    size_t n = 0;

    if (route != NULL && route->rate_limit_exempt)
        return 0;
    for (size_t i = 0; i != config->num_limits; ++i)
        if (config->limits[i].global && has_prefix(path, path_len, config->limits[i].path_prefix))
            n = add_once(limits, n, (uint32_t)i);
    if (route != NULL)
        for (size_t i = 0; i != route->num_limits; ++i)
            if (route->limits[i] < config->num_limits)
                n = add_once(limits, n, (uint32_t)route->limits[i]);
    return n;
}

/* --- the check ------------------------------------------------------------ */

/* Refused: the refusing limit that takes longest to admit again (so the
 * request passes after Retry-After if nobody else spends).  Admitted: the
 * fewest left, then the longest wait for more. */
static size_t most_constrained(const bulwark_rl_decision_t *d)
{
    size_t best = 0;

    for (size_t i = 1; i < d->num; ++i) {
        const bulwark_rl_result_t *a = d->results + i, *b = d->results + best;
        int better;
        if (d->verdict == BULWARK_RL_REFUSE)
            better = !a->allowed && (b->allowed || a->retry_ns > b->retry_ns);
        else
            better = a->remaining < b->remaining || (a->remaining == b->remaining && a->next_ns > b->next_ns);
        if (better)
            best = i;
    }
    return best;
}

void bulwark_ratelimiter_check(bulwark_ratelimiter_t *rl, const bulwark_rl_check_t *checks, size_t n, uint64_t now,
                               int commit, bulwark_rl_decision_t *d)
{
    memset(d, 0, sizeof(*d));
    if (n > BULWARK_RL_CHECKS_MAX) {
        d->verdict = BULWARK_RL_STORE_ERROR;
        return;
    }
    d->num = n;
    for (size_t i = 0; i != n; ++i)
        d->limits[i] = checks[i].limit;
    if (n == 0) {
        d->verdict = BULWARK_RL_ADMIT;
        return;
    }
    d->verdict = commit ? bulwark_rl_store_check_and_commit(rl->store, checks, n, now, d->results)
                        : bulwark_rl_store_peek(rl->store, checks, n, now, d->results);
    d->binding = most_constrained(d);
    if (d->verdict == BULWARK_RL_REFUSE) {
        uint64_t s = bulwark_gcra_ceil_seconds(d->results[d->binding].retry_ns);
        d->retry_after_s = s != 0 ? s : 1;
    }
}

/* --- response fields ------------------------------------------------------ */

/* Appends like snprintf, *len staying the would-be length (truncation shows
 * as *len >= cap).  By hand, not vsnprintf: these run for every counted
 * request, and musl's printf clears kilobytes of locals per call under
 * -ftrivial-auto-var-init=zero. */
static void append(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len < cap)
        memcpy(buf + *len, s, n < cap - *len ? n : cap - *len);
    *len += n;
}

static void append_str(char *buf, size_t cap, size_t *len, const char *s)
{
    append(buf, cap, len, s, strlen(s));
}

static void append_u64(char *buf, size_t cap, size_t *len, uint64_t v)
{
    char digits[20], *p = digits + sizeof(digits);

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    append(buf, cap, len, p, (size_t)(digits + sizeof(digits) - p));
}

static uint64_t window_seconds(const bulwark_ratelimit_t *limit)
{
    return (limit->window_ms + MS_PER_S - 1) / MS_PER_S;
}

static size_t finish(char *buf, size_t cap, size_t len)
{
    if (len >= cap) {
        /* never a cut item: a field the client cannot parse is worse than none */
        if (cap != 0)
            buf[0] = '\0';
        return 0;
    }
    buf[len] = '\0';
    return len;
}

size_t bulwark_rl_format_policy(char *buf, size_t cap, const bulwark_policy_ratelimits_t *config,
                                const bulwark_rl_decision_t *d)
{
    size_t len = 0;

    if (cap != 0)
        buf[0] = '\0';
    for (size_t i = 0; i != d->num; ++i) {
        const bulwark_ratelimit_t *limit = config->limits + d->limits[i];
        append_str(buf, cap, &len, i == 0 ? "\"" : ", \"");
        append_str(buf, cap, &len, limit->name.base);
        append_str(buf, cap, &len, "\";q=");
        append_u64(buf, cap, &len, limit->requests);
        append_str(buf, cap, &len, ";w=");
        append_u64(buf, cap, &len, window_seconds(limit));
    }
    return finish(buf, cap, len);
}

size_t bulwark_rl_format_state(char *buf, size_t cap, const bulwark_policy_ratelimits_t *config,
                               const bulwark_rl_decision_t *d)
{
    size_t len = 0;

    if (cap != 0)
        buf[0] = '\0';
    if (d->num == 0)
        return 0;
    const bulwark_rl_result_t *r = d->results + d->binding;
    uint64_t t = r->allowed ? bulwark_gcra_ceil_seconds(r->next_ns) : d->retry_after_s;
    append_str(buf, cap, &len, "\"");
    append_str(buf, cap, &len, config->limits[d->limits[d->binding]].name.base);
    append_str(buf, cap, &len, "\";r=");
    append_u64(buf, cap, &len, r->remaining);
    append_str(buf, cap, &len, ";t=");
    append_u64(buf, cap, &len, t);
    return finish(buf, cap, len);
}
