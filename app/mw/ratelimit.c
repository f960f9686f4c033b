/*
 * Rate limits: a handler that returns -1 for admitted requests (the next
 * handler serves them) and answers 429 for the others, and a filter that puts
 * the RateLimit fields on every response of a counted request.  A handler
 * that passes a request on cannot touch the response, so it leaves the field
 * values in the request's context (reqctx.h) for the filter.
 *
 * Order of work for one request:
 *   1. the limits that apply (ratelimiter.h): global ones by path prefix,
 *      then the route's; none for an exempt route (/healthz);
 *   2. keys for the address- and header-keyed ones, which cost nothing;
 *   3. if a token_subject limit applies: a read-only look at those limits
 *      first.  Refused: 429 now, without touching the token.  Else the token
 *      is verified (bulwark_auth_resolve) and, when valid, its subject joins
 *      the check; requests without a valid token are not counted by it;
 *   4. one atomic check and charge of all of them.  The look of step 3
 *      decides nothing: between it and step 4 another thread may spend the
 *      budget, and step 4 then refuses.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "../log.h"
#include "../reqctx.h"
#include "../routes/reply.h"
#include "ratelimit.h"

#define NS_PER_S UINT64_C(1000000000)
/* An at-bound refusal is logged at most once per this many seconds: a flood
 * of made-up keys must not become a flood of log lines. */
#define BOUND_LOG_INTERVAL_S 10
/* "18446744073709551615" and a NUL */
#define RETRY_AFTER_MAX 21

struct st_bulwark_ratelimit_handler_t {
    h2o_handler_t super;
    const bulwark_policy_t *policy;
    bulwark_ratelimiter_t *rl;
    bulwark_auth_t *auth;
    atomic_uint_fast64_t bound_logged_at_s;
};

struct st_bulwark_ratelimit_filter_t {
    h2o_filter_t super;
};

/* the checks of one request */
typedef struct st_plan_t {
    bulwark_rl_key_t keys[BULWARK_RL_CHECKS_MAX];
    bulwark_rl_check_t checks[BULWARK_RL_CHECKS_MAX];
    size_t num;
    uint32_t subject_limits[BULWARK_RL_CHECKS_MAX]; /* waiting for the token */
    size_t num_subject;
} plan_t;

static uint64_t monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* --- keys ------------------------------------------------------------------ */

static bulwark_rl_key_t *next_key(plan_t *plan, uint32_t limit)
{
    plan->checks[plan->num].limit = limit;
    plan->checks[plan->num].key = plan->keys + plan->num;
    return plan->keys + plan->num++;
}

/* The client address is the router's (peer, or the trusted proxies' client);
 * a request that reached us without it is keyed by its peer. */
static void add_address(plan_t *plan, uint32_t limit, h2o_req_t *req, bulwark_reqctx_t *ctx, unsigned ipv6_prefix)
{
    struct sockaddr_storage peer;
    const struct sockaddr *sa = (const struct sockaddr *)&ctx->client;

    if (ctx->client.ss_family != AF_INET && ctx->client.ss_family != AF_INET6) {
        memset(&peer, 0, sizeof(peer));
        req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&peer);
        sa = (const struct sockaddr *)&peer;
    }
    bulwark_rl_key_address(next_key(plan, limit), sa, ipv6_prefix);
}

/* A request without the header is not counted by a header-keyed limit (as
 * one without a token is not by a subject-keyed one); the address limits
 * still count it. */
static void add_header(plan_t *plan, uint32_t limit, h2o_req_t *req, const bulwark_ratelimit_t *def)
{
    ssize_t at = h2o_find_header_by_str(&req->headers, def->key_header.base, def->key_header.len, -1);

    if (at == -1)
        return;
    h2o_iovec_t v = req->headers.entries[at].value;
    bulwark_rl_key_header(next_key(plan, limit), v.base, v.len);
}

/* limits: the n limits that apply to the request (n != 0) */
static void plan_request(struct st_bulwark_ratelimit_handler_t *self, h2o_req_t *req, bulwark_reqctx_t *ctx,
                         const uint32_t *limits, size_t n, plan_t *plan)
{
    const bulwark_policy_ratelimits_t *config = &self->policy->ratelimits;

    plan->num = plan->num_subject = 0;
    for (size_t i = 0; i != n; ++i) {
        const bulwark_ratelimit_t *def = config->limits + limits[i];
        switch (def->key) {
        case BULWARK_RL_KEY_CLIENT_ADDRESS:
            add_address(plan, limits[i], req, ctx, config->ipv6_prefix);
            break;
        case BULWARK_RL_KEY_HEADER:
            add_header(plan, limits[i], req, def);
            break;
        case BULWARK_RL_KEY_TOKEN_SUBJECT:
            plan->subject_limits[plan->num_subject++] = limits[i];
            break;
        }
    }
}

static void add_subjects(struct st_bulwark_ratelimit_handler_t *self, h2o_req_t *req, bulwark_reqctx_t *ctx,
                         plan_t *plan)
{
    if (self->auth == NULL || bulwark_auth_resolve(self->auth, req, ctx) != BULWARK_AUTH_VALID)
        return;
    for (size_t i = 0; i != plan->num_subject; ++i)
        bulwark_rl_key_subject(next_key(plan, plan->subject_limits[i]), ctx->auth.subject.base, ctx->auth.subject.len);
}

/* --- answers ----------------------------------------------------------------- */

static h2o_iovec_t pool_field(h2o_req_t *req, size_t (*format)(char *, size_t, const bulwark_policy_ratelimits_t *,
                                                                  const bulwark_rl_decision_t *),
                              const bulwark_policy_ratelimits_t *config, const bulwark_rl_decision_t *d)
{
    char buf[BULWARK_RL_FIELD_MAX];
    size_t len = format(buf, sizeof(buf), config, d);

    return h2o_strdup(&req->pool, buf, len);
}

static void record_fields(struct st_bulwark_ratelimit_handler_t *self, h2o_req_t *req, bulwark_reqctx_t *ctx,
                          const bulwark_rl_decision_t *d)
{
    const bulwark_policy_ratelimits_t *config = &self->policy->ratelimits;

    if (d->num == 0)
        return;
    ctx->ratelimit.policy = pool_field(req, bulwark_rl_format_policy, config, d);
    ctx->ratelimit.state = pool_field(req, bulwark_rl_format_state, config, d);
}

/* Operators learn that max_keys was reached (new clients are being refused),
 * at most once per BOUND_LOG_INTERVAL_S. */
static void log_bound(struct st_bulwark_ratelimit_handler_t *self, const bulwark_rl_decision_t *d, uint64_t now)
{
    const bulwark_rl_result_t *r = d->results + d->binding;
    uint64_t now_s = now / NS_PER_S, last = atomic_load(&self->bound_logged_at_s);
    char line[BULWARK_LOG_LINE_MAX];
    bulwark_json_t j;

    if (!r->at_bound || (last != 0 && now_s - last < BOUND_LOG_INTERVAL_S))
        return;
    if (!atomic_compare_exchange_strong(&self->bound_logged_at_s, &last, now_s != 0 ? now_s : 1))
        return;
    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "ratelimit_max_keys");
    bulwark_json_cstr(&j, "limit", self->policy->ratelimits.limits[d->limits[d->binding]].name.base);
    bulwark_json_int(&j, "max_keys", self->policy->ratelimits.max_keys);
    bulwark_json_cstr(&j, "action", "new keys refused until held ones recover; raise rate_limits.max_keys if clients are real");
    bulwark_log_emit(&j);
}

static int refuse(struct st_bulwark_ratelimit_handler_t *self, h2o_req_t *req, bulwark_reqctx_t *ctx,
                  const bulwark_rl_decision_t *d, uint64_t now)
{
    char *retry = h2o_mem_alloc_pool(&req->pool, RETRY_AFTER_MAX);
    int len = snprintf(retry, RETRY_AFTER_MAX, "%llu", (unsigned long long)d->retry_after_s);

    log_bound(self, d, now);
    record_fields(self, req, ctx, d);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, retry, (size_t)len);
    bulwark_reply_detail(req, 429, "Too Many Requests", "Rate limit exceeded");
    return 0;
}

/* The store did not answer: never admit (DESIGN.md: limits are never
 * silently off); the client learns nothing about why. */
static int unavailable(h2o_req_t *req)
{
    bulwark_reply_detail(req, 503, "Service Unavailable", "Service unavailable");
    return 0;
}

static int conclude(struct st_bulwark_ratelimit_handler_t *self, h2o_req_t *req, bulwark_reqctx_t *ctx,
                    const bulwark_rl_decision_t *d, uint64_t now)
{
    switch (d->verdict) {
    case BULWARK_RL_ADMIT:
        record_fields(self, req, ctx, d);
        return -1;
    case BULWARK_RL_REFUSE:
        return refuse(self, req, ctx, d, now);
    case BULWARK_RL_STORE_ERROR:
        break;
    }
    return unavailable(req);
}

/* --- the handler and the filter ------------------------------------------------ */

/* The plan and the decision (several KiB, cleared on entry by the build's
 * zero-initialisation of locals) exist only for a request some limit
 * counts: an exempt one (/healthz) skips them. */
static int check_request(struct st_bulwark_ratelimit_handler_t *self, h2o_req_t *req, bulwark_reqctx_t *ctx,
                         const uint32_t *limits, size_t n)
{
    bulwark_rl_decision_t d;
    plan_t plan;
    uint64_t now;

    plan_request(self, req, ctx, limits, n, &plan);
    if (plan.num == 0 && plan.num_subject == 0)
        return -1;
    if (plan.num_subject != 0) {
        if (plan.num != 0) {
            now = monotonic_ns();
            bulwark_ratelimiter_check(self->rl, plan.checks, plan.num, now, 0, &d);
            if (d.verdict != BULWARK_RL_ADMIT)
                return conclude(self, req, ctx, &d, now);
        }
        add_subjects(self, req, ctx, &plan);
    }
    now = monotonic_ns();
    bulwark_ratelimiter_check(self->rl, plan.checks, plan.num, now, 1, &d);
    return conclude(self, req, ctx, &d, now);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_bulwark_ratelimit_handler_t *self = (void *)_self;
    bulwark_reqctx_t *ctx = bulwark_reqctx(req);
    uint32_t limits[BULWARK_RL_CHECKS_MAX];
    size_t n = bulwark_ratelimiter_applicable(&self->policy->ratelimits, ctx->route, req->path_normalized.base,
                                              req->path_normalized.len, limits);

    if (n == 0)
        return -1;
    return check_request(self, req, ctx, limits, n);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    bulwark_reqctx_t *ctx = bulwark_reqctx(req);

    (void)self;
    if (ctx->ratelimit.policy.len != 0 && ctx->ratelimit.state.len != 0) {
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("ratelimit-policy"), 0, "RateLimit-Policy",
                              ctx->ratelimit.policy.base, ctx->ratelimit.policy.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("ratelimit"), 0, "RateLimit",
                              ctx->ratelimit.state.base, ctx->ratelimit.state.len);
    }
    h2o_setup_next_ostream(req, slot);
}

void bulwark_ratelimit_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy, bulwark_ratelimiter_t *rl,
                                bulwark_auth_t *auth)
{
    struct st_bulwark_ratelimit_handler_t *handler = (void *)h2o_create_handler(pathconf, sizeof(*handler));
    struct st_bulwark_ratelimit_filter_t *filter = (void *)h2o_create_filter(pathconf, sizeof(*filter));

    handler->super.on_req = on_req;
    handler->policy = policy;
    handler->rl = rl;
    handler->auth = auth;
    atomic_init(&handler->bound_logged_at_s, 0);
    filter->super.on_setup_ostream = on_setup_ostream;
}
