/*
 * Test driver for app/ratelimit/ (no h2o, no server): the GCRA arithmetic,
 * the local store's atomicity, exactness under threads and memory bound,
 * keys, and the RateLimit field values.  Run by tests/unit/test_ratelimit.py;
 * prints one line per failed check and "N passed, N failed", and exits 1 when
 * a check failed.  Time is passed in, so nothing here sleeps.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "ratelimit/gcra.h"
#include "ratelimit/ratelimit_key.h"
#include "ratelimit/ratelimit_store_local.h"
#include "ratelimit/ratelimiter.h"
#include "ratelimit/siphash.h"

#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S UINT64_C(1000000000)
/* an arbitrary monotonic start, far from 0 like a machine that has been up */
#define T0 (UINT64_C(86400) * NS_PER_S)
#define THREADS 8
#define FIELD_MAX BULWARK_RL_FIELD_MAX

static unsigned passed, failed;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    va_list ap;

    if (ok) {
        ++passed;
        return;
    }
    ++failed;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

/* --- a policy made by hand ------------------------------------------------- */

enum { L_GENERAL, L_API_SUBJECT, L_LOGIN, L_RESET, L_APIKEY, NUM_LIMITS };

#define STR(s) {s, sizeof(s) - 1}

static const bulwark_ratelimit_t limits[NUM_LIMITS] = {
    [L_GENERAL] = {STR("general"), 100, 60000, BULWARK_RL_KEY_CLIENT_ADDRESS, {NULL, 0}, 1, STR("/")},
    [L_API_SUBJECT] = {STR("api_subject"), 1000, 3600000, BULWARK_RL_KEY_TOKEN_SUBJECT, {NULL, 0}, 1, STR("/api/")},
    [L_LOGIN] = {STR("login"), 5, 60000, BULWARK_RL_KEY_CLIENT_ADDRESS, {NULL, 0}, 0, STR("/")},
    [L_RESET] = {STR("password_reset"), 3, 3600000, BULWARK_RL_KEY_CLIENT_ADDRESS, {NULL, 0}, 0, STR("/")},
    [L_APIKEY] = {STR("apikey"), 10, 1500, BULWARK_RL_KEY_HEADER, STR("x-api-key"), 0, STR("/")},
};

static bulwark_policy_t make_policy(uint32_t max_keys)
{
    bulwark_policy_t p;

    memset(&p, 0, sizeof(p));
    p.file = (bulwark_str_t)STR("test.yaml");
    p.ratelimits.limits = limits;
    p.ratelimits.num_limits = NUM_LIMITS;
    p.ratelimits.store = BULWARK_RL_STORE_LOCAL;
    p.ratelimits.max_keys = max_keys;
    p.ratelimits.ipv6_prefix = 64;
    return p;
}

static bulwark_ratelimiter_t *new_limiter(const bulwark_policy_t *p)
{
    char err[256] = "";
    bulwark_ratelimiter_t *rl = bulwark_ratelimiter_new(p, err, sizeof(err));

    if (rl == NULL) {
        printf("cannot make a limiter: %s\n", err);
        exit(2);
    }
    return rl;
}

static void key_v4(bulwark_rl_key_t *k, const char *text)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, text, &sin.sin_addr);
    bulwark_rl_key_address(k, (struct sockaddr *)&sin, 64);
}

static void key_v6(bulwark_rl_key_t *k, const char *text, unsigned prefix)
{
    struct sockaddr_in6 sin6;

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &sin6.sin6_addr);
    bulwark_rl_key_address(k, (struct sockaddr *)&sin6, prefix);
}

static void key_n(bulwark_rl_key_t *k, uint64_t n)
{
    char text[32];
    int len = snprintf(text, sizeof(text), "spoofed-%" PRIu64, n);

    bulwark_rl_key_header(k, text, (size_t)len);
}

/* one request against one limit */
static bulwark_rl_verdict_t hit(bulwark_ratelimiter_t *rl, uint32_t limit, const bulwark_rl_key_t *k, uint64_t now,
                                bulwark_rl_decision_t *d)
{
    bulwark_rl_check_t c = {limit, k};
    bulwark_rl_decision_t tmp;

    if (d == NULL)
        d = &tmp;
    bulwark_ratelimiter_check(rl, &c, 1, now, 1, d);
    return d->verdict;
}

static bulwark_rl_result_t look(bulwark_ratelimiter_t *rl, uint32_t limit, const bulwark_rl_key_t *k, uint64_t now)
{
    bulwark_rl_check_t c = {limit, k};
    bulwark_rl_decision_t d;

    bulwark_ratelimiter_check(rl, &c, 1, now, 0, &d);
    return d.results[0];
}

/* --- SipHash ----------------------------------------------------------------- */

static void test_siphash(void)
{
    /* the reference vectors of the SipHash paper (key 00..0f, message 00..len-1) */
    static const struct {
        size_t len;
        uint64_t hash;
    } vectors[] = {
        {0, UINT64_C(0x726fdb47dd0e0e31)},
        {1, UINT64_C(0x74f839c593dc67fd)},
        {15, UINT64_C(0xa129ca6149be45e5)},
        {63, UINT64_C(0x958a324ceb064572)},
    };
    uint8_t key[16], msg[64];

    for (int i = 0; i != 16; ++i)
        key[i] = (uint8_t)i;
    for (int i = 0; i != 64; ++i)
        msg[i] = (uint8_t)i;
    for (size_t i = 0; i != sizeof(vectors) / sizeof(vectors[0]); ++i) {
        uint64_t h = bulwark_siphash24(key, msg, vectors[i].len);
        check(h == vectors[i].hash, "siphash24 of %zu bytes: %016" PRIx64 ", expected %016" PRIx64, vectors[i].len, h,
              vectors[i].hash);
    }
}

/* --- GCRA arithmetic ------------------------------------------------------------ */

static void test_gcra(void)
{
    bulwark_gcra_t g;
    bulwark_gcra_result_t r;
    uint64_t tat = BULWARK_GCRA_NO_STATE;
    unsigned admitted = 0;

    bulwark_gcra_init(&g, 100, 60000);
    check(g.interval_ns == 600 * NS_PER_MS, "100/min: emission interval %" PRIu64 " ns, expected 0.6 s", g.interval_ns);
    for (int i = 0; i != 101; ++i) {
        bulwark_gcra_decide(&g, tat, T0, &r);
        if (r.allowed) {
            ++admitted;
            tat = r.tat;
            check(r.remaining == (uint32_t)(99 - i), "gcra: remaining %u after %d requests", r.remaining, i + 1);
        }
    }
    check(admitted == 100, "gcra: a burst admits %u, expected exactly 100", admitted);
    check(!r.allowed && r.retry_ns == 600 * NS_PER_MS, "gcra: the 101st waits %" PRIu64 " ns, expected 0.6 s",
          r.retry_ns);
    bulwark_gcra_decide(&g, tat, T0 + 600 * NS_PER_MS - 1, &r);
    check(!r.allowed, "gcra: 1 ns before T/N still refused");
    bulwark_gcra_decide(&g, tat, T0 + 600 * NS_PER_MS, &r);
    check(r.allowed && r.remaining == 0, "gcra: admitted again after exactly T/N (remaining %u)", r.remaining);
    bulwark_gcra_decide(&g, tat, T0 + 60 * NS_PER_S, &r);
    check(r.allowed && r.remaining == 99, "gcra: whole quota back after T (remaining %u)", r.remaining);

    /* a window N does not divide: never more than N per T */
    bulwark_gcra_init(&g, 7, 60000);
    check(g.interval_ns * 7 >= 60 * NS_PER_S, "gcra 7/min: 7 intervals cover the window");
    check(bulwark_gcra_ceil_seconds(1) == 1 && bulwark_gcra_ceil_seconds(NS_PER_S) == 1 &&
              bulwark_gcra_ceil_seconds(NS_PER_S + 1) == 2 && bulwark_gcra_ceil_seconds(0) == 0,
          "ceil seconds");
}

/* --- exactness and recovery through the limiter --------------------------------- */

static void test_exact(void)
{
    bulwark_policy_t p = make_policy(1000);
    bulwark_ratelimiter_t *rl = new_limiter(&p);
    bulwark_rl_key_t k;
    bulwark_rl_decision_t d;
    unsigned admitted = 0;

    key_v4(&k, "192.0.2.1");
    for (int i = 0; i != 150; ++i)
        admitted += hit(rl, L_GENERAL, &k, T0, NULL) == BULWARK_RL_ADMIT;
    check(admitted == 100, "general 100/min: %u admitted in a burst of 150, expected 100", admitted);
    check(hit(rl, L_GENERAL, &k, T0 + 599 * NS_PER_MS, &d) == BULWARK_RL_REFUSE, "general: refused at 0.599 s");
    check(d.retry_after_s == 1, "general: Retry-After %" PRIu64 " at 0.599 s, expected 1", d.retry_after_s);
    check(hit(rl, L_GENERAL, &k, T0 + 600 * NS_PER_MS, NULL) == BULWARK_RL_ADMIT, "general: one more at 0.6 s");
    check(hit(rl, L_GENERAL, &k, T0 + 600 * NS_PER_MS, NULL) == BULWARK_RL_REFUSE, "general: only one at 0.6 s");
    /* sustained: one per 0.6 s for a minute, no more */
    admitted = 0;
    for (uint64_t t = T0 + 700 * NS_PER_MS; t < T0 + 60700 * NS_PER_MS; t += 100 * NS_PER_MS)
        admitted += hit(rl, L_GENERAL, &k, t, NULL) == BULWARK_RL_ADMIT;
    check(admitted == 100, "general: %u admitted over the next 60 s at 10 req/s, expected 100", admitted);

    /* another client is untouched */
    key_v4(&k, "192.0.2.2");
    check(hit(rl, L_GENERAL, &k, T0, &d) == BULWARK_RL_ADMIT && d.results[0].remaining == 99, "another address");

    /* login 5/min, password reset 3/hour */
    key_v4(&k, "198.51.100.7");
    admitted = 0;
    for (int i = 0; i != 10; ++i)
        admitted += hit(rl, L_LOGIN, &k, T0, &d) == BULWARK_RL_ADMIT;
    check(admitted == 5 && d.retry_after_s == 12, "login 5/min: %u admitted, Retry-After %" PRIu64 " (5, 12)", admitted,
          d.retry_after_s);
    admitted = 0;
    for (int i = 0; i != 10; ++i)
        admitted += hit(rl, L_RESET, &k, T0, &d) == BULWARK_RL_ADMIT;
    check(admitted == 3 && d.retry_after_s == 1200, "reset 3/hour: %u admitted, Retry-After %" PRIu64 " (3, 1200)",
          admitted, d.retry_after_s);
    check(hit(rl, L_RESET, &k, T0 + 1199 * NS_PER_S, NULL) == BULWARK_RL_REFUSE &&
              hit(rl, L_RESET, &k, T0 + 1200 * NS_PER_S, NULL) == BULWARK_RL_ADMIT,
          "reset: the next one exactly 20 minutes later");
    bulwark_ratelimiter_free(rl);
}

/* --- several limits, atomically ------------------------------------------------- */

static void test_atomic(void)
{
    bulwark_policy_t p = make_policy(1000);
    bulwark_ratelimiter_t *rl = new_limiter(&p);
    bulwark_rl_key_t addr, other;
    bulwark_rl_check_t login[2] = {{L_GENERAL, &addr}, {L_LOGIN, &addr}};
    bulwark_rl_decision_t d;
    unsigned admitted = 0;

    key_v4(&addr, "203.0.113.9");
    for (int i = 0; i != 20; ++i) {
        bulwark_ratelimiter_check(rl, login, 2, T0, 1, &d);
        admitted += d.verdict == BULWARK_RL_ADMIT;
    }
    check(admitted == 5, "general+login: %u admitted, expected 5", admitted);
    check(d.verdict == BULWARK_RL_REFUSE && d.results[0].allowed && !d.results[1].allowed,
          "general+login: login refuses, general would admit");
    check(look(rl, L_GENERAL, &addr, T0).remaining == 94,
          "15 refused logins charged general nothing: remaining %u, expected 94 (100 - 5 - this look)",
          look(rl, L_GENERAL, &addr, T0).remaining);

    /* the other way round: general exhausted by other requests, then a login */
    key_v4(&other, "203.0.113.10");
    for (int i = 0; i != 100; ++i)
        hit(rl, L_GENERAL, &other, T0, NULL);
    login[0].key = login[1].key = &other;
    bulwark_ratelimiter_check(rl, login, 2, T0, 1, &d);
    check(d.verdict == BULWARK_RL_REFUSE && !d.results[0].allowed && d.results[1].allowed,
          "general refuses a login, login would admit");
    check(look(rl, L_LOGIN, &other, T0).remaining == 4, "the refused login charged login nothing: remaining %u",
          look(rl, L_LOGIN, &other, T0).remaining);

    /* a look charges nothing */
    for (int i = 0; i != 10; ++i)
        bulwark_ratelimiter_check(rl, login, 2, T0 + 60 * NS_PER_S, 0, &d);
    check(look(rl, L_LOGIN, &other, T0 + 60 * NS_PER_S).remaining == 4, "looks are free");

    /* the same limit twice in one check is a caller error, refused */
    bulwark_rl_check_t twice[2] = {{L_GENERAL, &addr}, {L_GENERAL, &other}};
    bulwark_ratelimiter_check(rl, twice, 2, T0, 1, &d);
    check(d.verdict == BULWARK_RL_STORE_ERROR, "a limit twice in one check: STORE_ERROR");
    bulwark_ratelimiter_free(rl);
}

/* --- threads ----------------------------------------------------------------------- */

typedef struct st_worker_t {
    bulwark_ratelimiter_t *rl;
    pthread_barrier_t *start;
    bulwark_rl_key_t shared, own;
    int attempts;
    int two_limits;
    unsigned admitted;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    /* the two limits of concurrency_limits[]: shared, then per thread */
    bulwark_rl_check_t checks[2] = {{0, &w->shared}, {1, &w->own}};
    bulwark_rl_decision_t d;

    pthread_barrier_wait(w->start);
    for (int i = 0; i != w->attempts; ++i) {
        bulwark_ratelimiter_check(w->rl, checks, w->two_limits ? 2 : 1, T0, 1, &d);
        w->admitted += d.verdict == BULWARK_RL_ADMIT;
    }
    return NULL;
}

static unsigned run_threads(bulwark_ratelimiter_t *rl, worker_t *w, int attempts, int two_limits)
{
    pthread_t tid[THREADS];
    pthread_barrier_t start;
    unsigned total = 0;

    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i != THREADS; ++i) {
        w[i].rl = rl;
        w[i].start = &start;
        w[i].attempts = attempts;
        w[i].two_limits = two_limits;
        w[i].admitted = 0;
        key_v6(&w[i].shared, "2001:db8:1:2::1", 64);
        char own[64];
        snprintf(own, sizeof(own), "2001:db8:%x::1", i + 100);
        key_v6(&w[i].own, own, 64);
        pthread_create(tid + i, NULL, worker_main, w + i);
    }
    for (int i = 0; i != THREADS; ++i) {
        pthread_join(tid[i], NULL);
        total += w[i].admitted;
    }
    pthread_barrier_destroy(&start);
    return total;
}

static const bulwark_ratelimit_t concurrency_limits[2] = {
    {STR("general"), 1000, 60000, BULWARK_RL_KEY_CLIENT_ADDRESS, {NULL, 0}, 1, STR("/")},
    {STR("login"), 100, 60000, BULWARK_RL_KEY_CLIENT_ADDRESS, {NULL, 0}, 0, STR("/")},
};

/* how much of its quota of `requests` a key has spent, by a look */
static unsigned spent(bulwark_ratelimiter_t *rl, uint32_t limit, const bulwark_rl_key_t *k, unsigned requests)
{
    bulwark_rl_result_t r = look(rl, limit, k, T0);

    return r.allowed ? requests - r.remaining - 1 : requests;
}

static void test_threads(void)
{
    bulwark_policy_t p = make_policy(1000);
    worker_t w[THREADS];

    p.ratelimits.limits = concurrency_limits;
    p.ratelimits.num_limits = 2;

    /* one key, 8 threads x 25000 requests at the same instant: exactly N.
     * N is large so that the threads contend for the whole run, not only
     * for its first moments. */
    static const bulwark_ratelimit_t big[1] = {
        {STR("general"), 100000, 60000, BULWARK_RL_KEY_CLIENT_ADDRESS, {NULL, 0}, 1, STR("/")},
    };
    p.ratelimits.limits = big;
    p.ratelimits.num_limits = 1;
    bulwark_ratelimiter_t *rl = new_limiter(&p);
    unsigned total = run_threads(rl, w, 25000, 0);
    check(total == 100000, "8 threads on one key: %u admitted, expected exactly 100000", total);
    bulwark_ratelimiter_free(rl);
    p.ratelimits.limits = concurrency_limits;
    p.ratelimits.num_limits = 2;

    /* a shared limit (1000) and a per-thread one (100 each): exactly 800
     * admitted (all per-thread budgets), and refused requests charged none */
    rl = new_limiter(&p);
    total = run_threads(rl, w, 5000, 1);
    check(total == 800, "shared+own limits: %u admitted, expected 800", total);
    unsigned own_spent = 0;
    for (int i = 0; i != THREADS; ++i) {
        check(w[i].admitted == 100, "thread %d: %u admitted, expected its 100", i, w[i].admitted);
        own_spent += spent(rl, 1, &w[i].own, 100);
    }
    unsigned shared_spent = spent(rl, 0, &w[0].shared, 1000);
    check(shared_spent == 800, "shared limit charged %u, expected exactly 800", shared_spent);
    check(own_spent == 800, "per-thread limits charged %u, expected 800", own_spent);
    bulwark_ratelimiter_free(rl);

    /* the shared limit is the scarce one: 300 of 800 per-thread units */
    static const bulwark_ratelimit_t scarce[2] = {
        {STR("general"), 300, 60000, BULWARK_RL_KEY_CLIENT_ADDRESS, {NULL, 0}, 1, STR("/")},
        {STR("login"), 100, 60000, BULWARK_RL_KEY_CLIENT_ADDRESS, {NULL, 0}, 0, STR("/")},
    };
    p.ratelimits.limits = scarce;
    rl = new_limiter(&p);
    total = run_threads(rl, w, 5000, 1);
    check(total == 300, "shared limit 300: %u admitted, expected 300", total);
    unsigned charged = 0;
    for (int i = 0; i != THREADS; ++i)
        charged += spent(rl, 1, &w[i].own, 100);
    check(charged == 300, "per-thread limits charged %u in total, expected 300 (refused requests charge nothing)",
          charged);
    bulwark_ratelimiter_free(rl);
}

/* --- the memory bound ------------------------------------------------------------------ */

static void test_bound_small(void)
{
    bulwark_policy_t p = make_policy(100);
    bulwark_ratelimiter_t *rl = new_limiter(&p);
    bulwark_rl_store_t *store = bulwark_ratelimiter_store(rl);
    bulwark_rl_local_stats_t st;
    bulwark_rl_key_t k, held;
    bulwark_rl_decision_t d;
    unsigned admitted = 0, at_bound = 0;
    size_t most_keys = 0, most_bytes = 0;

    /* a client that spent half its budget before the flood */
    key_v4(&held, "192.0.2.50");
    for (int i = 0; i != 50; ++i)
        hit(rl, L_GENERAL, &held, T0, NULL);

    for (uint64_t i = 0; i != 10000; ++i) {
        key_n(&k, i);
        bulwark_rl_check_t c = {L_GENERAL, &k};
        bulwark_ratelimiter_check(rl, &c, 1, T0, 1, &d);
        admitted += d.verdict == BULWARK_RL_ADMIT;
        at_bound += d.results[0].at_bound;
        bulwark_rl_store_local_stats(store, L_GENERAL, &st);
        most_keys = st.keys > most_keys ? st.keys : most_keys;
        most_bytes = st.bytes > most_bytes ? st.bytes : most_bytes;
    }
    check(st.max_keys <= 100 && most_keys <= 100, "10000 spoofed keys: at most %zu held (max_keys 100)", most_keys);
    check(most_bytes <= st.max_bytes && st.max_bytes <= 64 * 100 * 2,
          "slot memory %zu stays under its bound %zu", most_bytes, st.max_bytes);
    check(admitted == 99 && at_bound == 10000 - 99, "at the bound: %u new keys admitted, %u refused (99, 9901)",
          admitted, at_bound);
    check(d.verdict == BULWARK_RL_REFUSE && d.retry_after_s == 1,
          "a refused new key: 429 with Retry-After %" PRIu64 " (until the earliest entry recovers: 0.6 s -> 1)",
          d.retry_after_s);
    check(hit(rl, L_GENERAL, &held, T0, &d) == BULWARK_RL_ADMIT && d.results[0].remaining == 49,
          "a held key is served as before at the bound (remaining %u)", d.results[0].remaining);

    /* 0.6 s later the flood's entries have recovered: evicted, new keys admitted */
    key_n(&k, 999999);
    check(hit(rl, L_GENERAL, &k, T0 + 600 * NS_PER_MS, NULL) == BULWARK_RL_ADMIT,
          "a new key is admitted once entries have recovered");
    bulwark_rl_store_local_stats(store, L_GENERAL, &st);
    check(st.keys == 2, "recovered entries were evicted: %zu held, expected 2", st.keys);
    /* the held key was not evicted: its state carried over */
    check(look(rl, L_GENERAL, &held, T0 + 600 * NS_PER_MS).remaining == 49,
          "a key that had not recovered keeps its state (remaining %u, expected 49)",
          look(rl, L_GENERAL, &held, T0 + 600 * NS_PER_MS).remaining);
    bulwark_ratelimiter_free(rl);
}

static void test_bound_large(void)
{
    bulwark_policy_t p = make_policy(100000);
    bulwark_ratelimiter_t *rl = new_limiter(&p);
    bulwark_rl_store_t *store = bulwark_ratelimiter_store(rl);
    bulwark_rl_local_stats_t st;
    bulwark_rl_key_t k;
    unsigned admitted = 0;

    for (uint64_t i = 0; i != 1000000; ++i) {
        key_n(&k, i);
        admitted += hit(rl, L_GENERAL, &k, T0, NULL) == BULWARK_RL_ADMIT;
    }
    bulwark_rl_store_local_stats(store, L_GENERAL, &st);
    check(st.shards == 64, "max_keys 100000: %zu shards, expected 64", st.shards);
    check(st.keys <= 100000 && st.keys == admitted, "1e6 spoofed keys: %zu held, %u admitted (<= 100000)", st.keys,
          admitted);
    check(st.keys >= 95000, "the bound is nearly all usable: %zu of 100000 held", st.keys);
    check(st.bytes <= st.max_bytes && st.max_bytes <= (size_t)64 * 100000,
          "slot memory %zu <= bound %zu <= 64 bytes a key", st.bytes, st.max_bytes);
    /* the whole flood recovers after 0.6 s: the shards make room again */
    admitted = 0;
    for (uint64_t i = 0; i != 1000; ++i) {
        key_n(&k, 2000000 + i);
        admitted += hit(rl, L_GENERAL, &k, T0 + 600 * NS_PER_MS, NULL) == BULWARK_RL_ADMIT;
    }
    bulwark_rl_store_local_stats(store, L_GENERAL, &st);
    check(admitted == 1000 && st.keys == 1000, "after recovery: %u admitted, %zu held", admitted, st.keys);
    bulwark_ratelimiter_free(rl);
}

/* --- keys -------------------------------------------------------------------------------- */

static int same_key(const bulwark_rl_key_t *a, const bulwark_rl_key_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static void test_keys(void)
{
    bulwark_rl_key_t a, b;
    char long1[400], long2[400];

    key_v6(&a, "2001:db8:aa:bb:1::1", 64);
    key_v6(&b, "2001:db8:aa:bb:ffff:ffff:ffff:ffff", 64);
    check(same_key(&a, &b), "IPv6: one /64 is one key");
    key_v6(&b, "2001:db8:aa:bc::1", 64);
    check(!same_key(&a, &b), "IPv6: another /64 is another key");
    key_v6(&a, "2001:db8:aa:bb:1::1", 128);
    key_v6(&b, "2001:db8:aa:bb:1::2", 128);
    check(!same_key(&a, &b), "IPv6 prefix 128: every address its own key");
    key_v6(&a, "2001:db8:aa:b0::1", 60);
    key_v6(&b, "2001:db8:aa:bf::1", 60);
    check(same_key(&a, &b), "IPv6 prefix 60: cut inside a byte");
    key_v6(&b, "2001:db8:aa:c0::1", 60);
    check(!same_key(&a, &b), "IPv6 prefix 60: the next /60");
    key_v6(&a, "::ffff:192.0.2.1", 64);
    key_v4(&b, "192.0.2.1");
    check(same_key(&a, &b), "IPv4-mapped IPv6 is keyed as the IPv4 address");
    key_v6(&a, "::ffff:192.0.2.2", 64);
    check(!same_key(&a, &b), "IPv4-mapped: each IPv4 address its own key (not one /64 for all)");
    key_v4(&a, "192.0.2.2");
    check(!same_key(&a, &b), "IPv4: /32");

    bulwark_rl_key_subject(&a, "alice", 5);
    bulwark_rl_key_header(&b, "alice", 5);
    check(!same_key(&a, &b), "subject and header keys never meet");
    memset(long1, 'x', sizeof(long1));
    memcpy(long2, long1, sizeof(long2));
    long2[399] = 'y';
    bulwark_rl_key_header(&a, long1, sizeof(long1));
    bulwark_rl_key_header(&b, long2, sizeof(long2));
    check(a.len == BULWARK_RL_KEY_MAX && same_key(&a, &b), "header values are keyed by their first 256 bytes");
}

/* --- which limits, and the fields ---------------------------------------------------------- */

static void test_applicable(void)
{
    bulwark_policy_t p = make_policy(1000);
    size_t login_limits[] = {L_LOGIN};
    bulwark_route_t healthz, login, items;
    uint32_t out[BULWARK_RL_CHECKS_MAX];
    size_t n;

    memset(&healthz, 0, sizeof(healthz));
    memset(&login, 0, sizeof(login));
    memset(&items, 0, sizeof(items));
    healthz.rate_limit_exempt = 1;
    login.limits = login_limits;
    login.num_limits = 1;

    n = bulwark_ratelimiter_applicable(&p.ratelimits, &healthz, "/healthz", 8, out);
    check(n == 0, "/healthz (exempt): %zu limits", n);
    n = bulwark_ratelimiter_applicable(&p.ratelimits, &items, "/", 1, out);
    check(n == 1 && out[0] == L_GENERAL, "/: general only (%zu)", n);
    n = bulwark_ratelimiter_applicable(&p.ratelimits, &items, "/api/items", 10, out);
    check(n == 2 && out[0] == L_GENERAL && out[1] == L_API_SUBJECT, "/api/items: general, api_subject (%zu)", n);
    n = bulwark_ratelimiter_applicable(&p.ratelimits, &login, "/api/auth/login", 15, out);
    check(n == 3 && out[2] == L_LOGIN, "/api/auth/login: general, api_subject, login (%zu)", n);
    n = bulwark_ratelimiter_applicable(&p.ratelimits, NULL, "/apix", 5, out);
    check(n == 1 && out[0] == L_GENERAL, "no route: the global limits whose prefix matches (%zu)", n);
}

static void test_fields(void)
{
    bulwark_policy_t p = make_policy(1000);
    bulwark_ratelimiter_t *rl = new_limiter(&p);
    bulwark_rl_key_t addr, apikey;
    bulwark_rl_check_t c[3] = {{L_GENERAL, &addr}, {L_LOGIN, &addr}, {L_APIKEY, &apikey}};
    bulwark_rl_decision_t d;
    char pol[FIELD_MAX], st[FIELD_MAX];

    key_v4(&addr, "192.0.2.77");
    bulwark_rl_key_header(&apikey, "k1", 2);
    bulwark_ratelimiter_check(rl, c, 2, T0, 1, &d);
    bulwark_rl_format_policy(pol, sizeof(pol), &p.ratelimits, &d);
    bulwark_rl_format_state(st, sizeof(st), &p.ratelimits, &d);
    check(strcmp(pol, "\"general\";q=100;w=60, \"login\";q=5;w=60") == 0, "RateLimit-Policy: %s", pol);
    check(strcmp(st, "\"login\";r=4;t=12") == 0, "RateLimit after one login: %s", st);

    for (int i = 0; i != 4; ++i)
        bulwark_ratelimiter_check(rl, c, 2, T0 + 1 * NS_PER_S, 1, &d);
    bulwark_rl_format_state(st, sizeof(st), &p.ratelimits, &d);
    check(d.verdict == BULWARK_RL_ADMIT && strcmp(st, "\"login\";r=0;t=11") == 0, "RateLimit at the last login: %s",
          st);
    bulwark_ratelimiter_check(rl, c, 2, T0 + 2 * NS_PER_S, 1, &d);
    bulwark_rl_format_state(st, sizeof(st), &p.ratelimits, &d);
    check(d.verdict == BULWARK_RL_REFUSE && d.retry_after_s == 10 && strcmp(st, "\"login\";r=0;t=10") == 0,
          "refused: Retry-After %" PRIu64 ", RateLimit %s (10, \"login\";r=0;t=10)", d.retry_after_s, st);

    /* general alone: t is the wait for the next unit, not the whole window */
    key_v4(&addr, "192.0.2.78");
    for (int i = 0; i != 40; ++i)
        bulwark_ratelimiter_check(rl, c, 1, T0, 1, &d);
    bulwark_rl_format_state(st, sizeof(st), &p.ratelimits, &d);
    check(strcmp(st, "\"general\";r=60;t=1") == 0, "general after 40: %s", st);

    /* a window of 1.5 s is announced as 2 s; the most constrained is the header key */
    c[1] = c[2];
    bulwark_ratelimiter_check(rl, c, 2, T0, 1, &d);
    bulwark_rl_format_policy(pol, sizeof(pol), &p.ratelimits, &d);
    bulwark_rl_format_state(st, sizeof(st), &p.ratelimits, &d);
    check(strcmp(pol, "\"general\";q=100;w=60, \"apikey\";q=10;w=2") == 0, "RateLimit-Policy: %s", pol);
    check(strcmp(st, "\"apikey\";r=9;t=1") == 0, "RateLimit: %s", st);

    /* too small a buffer: nothing rather than a cut item */
    check(bulwark_rl_format_policy(pol, 10, &p.ratelimits, &d) == 0 && pol[0] == '\0', "short buffer: empty field");
    bulwark_ratelimiter_free(rl);
}

static void test_redis_refused(void)
{
    bulwark_policy_t p = make_policy(1000);
    char err[256] = "";

    p.ratelimits.store = BULWARK_RL_STORE_REDIS;
    check(bulwark_ratelimiter_new(&p, err, sizeof(err)) == NULL && strstr(err, "rate_limits.store") != NULL,
          "store: redis is refused with a message until the Redis store exists (%s)", err);
}

int main(void)
{
    test_siphash();
    test_gcra();
    test_exact();
    test_atomic();
    test_threads();
    test_bound_small();
    test_bound_large();
    test_keys();
    test_applicable();
    test_fields();
    test_redis_refused();
    printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
