/*
 * The local store; see ratelimit_store_local.h for the design and the
 * behaviour at the memory bound.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "gcra.h"
#include "ratelimit_store_local.h"

/* More shards than event-loop threads keeps lock waits rare; 64 covers the
 * machines this runs on. */
#define SHARDS_MAX 64
/* Each shard holds max_keys / shards keys: below this many per shard the
 * split would leave little room per shard and few entries to evict. */
#define KEYS_PER_SHARD_MIN 256
/* the first slot array of a shard (grown by doubling) */
#define SLOTS_MIN 16
/* Linear probing stays short (about 8.5 probes for a miss) up to 3/4 full. */
#define LOAD_NUM 3
#define LOAD_DEN 4
/* a shard per cache line, so that two threads' locks do not share one */
#define CACHE_LINE 64
/* fingerprint 0 marks an empty slot */
#define EMPTY_FP 0
#define NOT_FOUND UINT32_MAX
/* Retry-After when a new key could not get memory: try again soon */
#define NO_MEMORY_RETRY_NS UINT64_C(1000000000)

typedef struct st_slot_t {
    uint64_t fp;
    uint64_t tat;
} slot_t;

typedef struct st_shard_t {
    _Alignas(CACHE_LINE) pthread_mutex_t lock;
    slot_t *slots;
    uint32_t num_slots; /* 0 (nothing allocated yet) or a power of two */
    uint32_t max_slots;
    uint32_t count;
    uint32_t max_count;
    uint64_t earliest_tat; /* no entry's TAT is earlier: none can be evicted before then */
} shard_t;

typedef struct st_table_t {
    bulwark_gcra_t gcra;
    shard_t *shards;
} table_t;

typedef struct st_local_store_t {
    bulwark_rl_store_t super;
    uint8_t seed[BULWARK_SIPHASH_KEY_SIZE];
    table_t *tables;
    size_t num_tables;
    unsigned shard_bits;
} local_store_t;

/* one check of a request, resolved to its shard */
typedef struct st_pending_t {
    size_t index; /* into checks[] and results[] */
    table_t *table;
    shard_t *shard;
    uint64_t fp;
    uint64_t new_tat;
} pending_t;

/* --- one shard's hash table (callers hold its lock) --------------------- */

static uint32_t find(const shard_t *sh, uint64_t fp)
{
    if (sh->num_slots == 0)
        return NOT_FOUND;
    uint32_t mask = sh->num_slots - 1;
    for (uint32_t i = (uint32_t)fp & mask;; i = (i + 1) & mask) {
        if (sh->slots[i].fp == fp)
            return i;
        if (sh->slots[i].fp == EMPTY_FP)
            return NOT_FOUND;
    }
}

static void put(slot_t *slots, uint32_t num_slots, uint64_t fp, uint64_t tat)
{
    uint32_t mask = num_slots - 1, i = (uint32_t)fp & mask;

    while (slots[i].fp != EMPTY_FP)
        i = (i + 1) & mask;
    slots[i].fp = fp;
    slots[i].tat = tat;
}

/* Moves the entries whose TAT is after `keep_after` into a fresh array of
 * num_slots slots; 0 on success, -1 (nothing changed) when out of memory. */
static int rebuild(shard_t *sh, uint32_t num_slots, uint64_t keep_after)
{
    slot_t *slots = calloc(num_slots, sizeof(*slots));
    uint64_t earliest = UINT64_MAX;
    uint32_t count = 0;

    if (slots == NULL)
        return -1;
    for (uint32_t i = 0; i != sh->num_slots; ++i) {
        const slot_t *s = sh->slots + i;
        if (s->fp == EMPTY_FP || s->tat <= keep_after)
            continue;
        put(slots, num_slots, s->fp, s->tat);
        ++count;
        if (s->tat < earliest)
            earliest = s->tat;
    }
    free(sh->slots);
    sh->slots = slots;
    sh->num_slots = num_slots;
    sh->count = count;
    sh->earliest_tat = earliest;
    return 0;
}

/* Evicts every entry that has fully recovered by `now`. */
static int sweep(shard_t *sh, uint64_t now)
{
    return rebuild(sh, sh->num_slots, now);
}

static int grow(shard_t *sh)
{
    uint32_t num_slots = sh->num_slots == 0 ? SLOTS_MIN : sh->num_slots * 2;

    /* keep_after 0: every entry is kept (a held TAT is never 0) */
    return rebuild(sh, num_slots, 0);
}

static int needs_slots(const shard_t *sh)
{
    return (uint64_t)(sh->count + 1) * LOAD_DEN > (uint64_t)sh->num_slots * LOAD_NUM;
}

/* 1 when one more key fits in the shard (evicting recovered entries if it is
 * full), 0 when the shard is at its bound or out of memory. */
static int make_room(shard_t *sh, uint64_t now)
{
    if (sh->count >= sh->max_count) {
        if (now < sh->earliest_tat)
            return 0;
        if (sweep(sh, now) != 0 || sh->count >= sh->max_count)
            return 0;
    }
    while (needs_slots(sh) && sh->num_slots < sh->max_slots)
        if (grow(sh) != 0)
            return 0;
    /* slots_for() sized max_slots so that max_count keys stay under the load bound */
    return !needs_slots(sh);
}

static void store_tat(shard_t *sh, uint64_t fp, uint64_t tat)
{
    uint32_t at = find(sh, fp);

    if (at != NOT_FOUND) {
        sh->slots[at].tat = tat;
        return;
    }
    put(sh->slots, sh->num_slots, fp, tat);
    ++sh->count;
    if (tat < sh->earliest_tat)
        sh->earliest_tat = tat;
}

/* --- a request's checks ------------------------------------------------- */

static uint64_t fingerprint(const local_store_t *s, const bulwark_rl_key_t *key)
{
    uint64_t h = bulwark_siphash24(s->seed, key->bytes, key->len);

    return h == EMPTY_FP ? 1 : h;
}

static shard_t *shard_of(const local_store_t *s, table_t *t, uint64_t fp)
{
    /* the top bits pick the shard, the bottom ones the slot: independent */
    return t->shards + (s->shard_bits == 0 ? 0 : fp >> (64 - s->shard_bits));
}

/* Sorts by limit (the one lock order) with an insertion sort: n <= 16.
 * Returns -1 when two checks name the same limit. */
static int sort_by_limit(pending_t *p, size_t n, const bulwark_rl_check_t *checks)
{
    for (size_t i = 1; i < n; ++i) {
        pending_t cur = p[i];
        size_t j = i;
        for (; j != 0 && checks[p[j - 1].index].limit > checks[cur.index].limit; --j)
            p[j] = p[j - 1];
        p[j] = cur;
    }
    for (size_t i = 1; i < n; ++i)
        if (checks[p[i - 1].index].limit == checks[p[i].index].limit)
            return -1;
    return 0;
}

static int resolve(local_store_t *s, const bulwark_rl_check_t *checks, size_t n, pending_t *p)
{
    if (n > BULWARK_RL_CHECKS_MAX)
        return -1;
    for (size_t i = 0; i != n; ++i) {
        if (checks[i].limit >= s->num_tables || checks[i].key == NULL)
            return -1;
        p[i].index = i;
        p[i].table = s->tables + checks[i].limit;
        p[i].fp = fingerprint(s, checks[i].key);
        p[i].shard = shard_of(s, p[i].table, p[i].fp);
    }
    return sort_by_limit(p, n, checks);
}

static void refuse_at_bound(const shard_t *sh, uint64_t now, bulwark_rl_result_t *r)
{
    uint64_t wait = now < sh->earliest_tat && sh->earliest_tat != UINT64_MAX ? sh->earliest_tat - now : NO_MEMORY_RETRY_NS;

    r->allowed = 0;
    r->at_bound = 1;
    r->remaining = 0;
    r->reset_ns = wait;
    r->next_ns = wait;
    r->retry_ns = wait;
}

static void decide_one(pending_t *p, uint64_t now, bulwark_rl_result_t *r)
{
    uint32_t at = find(p->shard, p->fp);
    uint64_t tat = at == NOT_FOUND ? BULWARK_GCRA_NO_STATE : p->shard->slots[at].tat;
    bulwark_gcra_result_t g;

    bulwark_gcra_decide(&p->table->gcra, tat, now, &g);
    r->allowed = (uint8_t)g.allowed;
    r->remaining = g.remaining;
    r->reset_ns = g.reset_ns;
    r->next_ns = g.next_ns;
    r->retry_ns = g.retry_ns;
    p->new_tat = g.tat;
    if (g.allowed && at == NOT_FOUND && !make_room(p->shard, now))
        refuse_at_bound(p->shard, now, r);
}

static bulwark_rl_verdict_t run(bulwark_rl_store_t *store, const bulwark_rl_check_t *checks, size_t n, uint64_t now,
                                bulwark_rl_result_t *results, int commit)
{
    local_store_t *s = (local_store_t *)store;
    pending_t p[BULWARK_RL_CHECKS_MAX];
    bulwark_rl_verdict_t verdict = BULWARK_RL_ADMIT;

    memset(results, 0, n * sizeof(*results));
    if (resolve(s, checks, n, p) != 0)
        return BULWARK_RL_STORE_ERROR;
    for (size_t i = 0; i != n; ++i)
        pthread_mutex_lock(&p[i].shard->lock);
    for (size_t i = 0; i != n; ++i) {
        decide_one(p + i, now, results + p[i].index);
        if (!results[p[i].index].allowed)
            verdict = BULWARK_RL_REFUSE;
    }
    if (verdict == BULWARK_RL_ADMIT && commit)
        for (size_t i = 0; i != n; ++i)
            store_tat(p[i].shard, p[i].fp, p[i].new_tat);
    for (size_t i = n; i != 0; --i)
        pthread_mutex_unlock(&p[i - 1].shard->lock);
    return verdict;
}

static bulwark_rl_verdict_t local_check_and_commit(bulwark_rl_store_t *store, const bulwark_rl_check_t *checks, size_t n,
                                                   uint64_t now, bulwark_rl_result_t *results)
{
    return run(store, checks, n, now, results, 1);
}

static bulwark_rl_verdict_t local_peek(bulwark_rl_store_t *store, const bulwark_rl_check_t *checks, size_t n,
                                       uint64_t now, bulwark_rl_result_t *results)
{
    return run(store, checks, n, now, results, 0);
}

/* --- life cycle ---------------------------------------------------------- */

static void free_table(table_t *t, size_t num_shards)
{
    if (t->shards == NULL)
        return;
    for (size_t i = 0; i != num_shards; ++i) {
        pthread_mutex_destroy(&t->shards[i].lock);
        free(t->shards[i].slots);
    }
    free(t->shards);
}

static void local_destroy(bulwark_rl_store_t *store)
{
    local_store_t *s = (local_store_t *)store;

    for (size_t i = 0; i != s->num_tables; ++i)
        free_table(s->tables + i, (size_t)1 << s->shard_bits);
    free(s->tables);
    free(s);
}

static unsigned choose_shard_bits(uint32_t max_keys)
{
    unsigned bits = 0;

    while (((size_t)1 << (bits + 1)) <= SHARDS_MAX && max_keys >> (bits + 1) >= KEYS_PER_SHARD_MIN)
        ++bits;
    return bits;
}

/* the smallest power of two with max_count <= 3/4 of it */
static uint32_t slots_for(uint32_t max_count)
{
    uint32_t slots = SLOTS_MIN;

    while ((uint64_t)max_count * LOAD_DEN > (uint64_t)slots * LOAD_NUM)
        slots *= 2;
    return slots;
}

static int init_table(table_t *t, const bulwark_ratelimit_t *limit, size_t num_shards, uint32_t per_shard)
{
    bulwark_gcra_init(&t->gcra, limit->requests, limit->window_ms);
    t->shards = aligned_alloc(CACHE_LINE, num_shards * sizeof(shard_t));
    if (t->shards == NULL)
        return -1;
    memset(t->shards, 0, num_shards * sizeof(shard_t));
    for (size_t i = 0; i != num_shards; ++i) {
        shard_t *sh = t->shards + i;
        pthread_mutex_init(&sh->lock, NULL);
        sh->max_count = per_shard;
        sh->max_slots = slots_for(per_shard);
        sh->earliest_tat = UINT64_MAX;
    }
    return 0;
}

static const bulwark_rl_store_ops_t local_ops = {
    .name = "local",
    .check_and_commit = local_check_and_commit,
    .peek = local_peek,
    .destroy = local_destroy,
};

bulwark_rl_store_t *bulwark_rl_store_local_new(const bulwark_ratelimit_t *limits, size_t num_limits, uint32_t max_keys,
                                               const uint8_t seed[BULWARK_SIPHASH_KEY_SIZE])
{
    local_store_t *s;

    if (num_limits > BULWARK_RL_CHECKS_MAX || max_keys == 0)
        return NULL;
    for (size_t i = 0; i != num_limits; ++i)
        if (limits[i].requests == 0 || limits[i].window_ms == 0)
            return NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    s->super.ops = &local_ops;
    memcpy(s->seed, seed, sizeof(s->seed));
    s->shard_bits = choose_shard_bits(max_keys);
    if (num_limits != 0 && (s->tables = calloc(num_limits, sizeof(*s->tables))) == NULL) {
        free(s);
        return NULL;
    }
    s->num_tables = num_limits;
    size_t num_shards = (size_t)1 << s->shard_bits;
    for (size_t i = 0; i != num_limits; ++i) {
        if (init_table(s->tables + i, limits + i, num_shards, (uint32_t)(max_keys >> s->shard_bits)) != 0) {
            local_destroy(&s->super);
            return NULL;
        }
    }
    return &s->super;
}

void bulwark_rl_store_local_stats(bulwark_rl_store_t *store, uint32_t limit, bulwark_rl_local_stats_t *stats)
{
    local_store_t *s = (local_store_t *)store;
    size_t num_shards = (size_t)1 << s->shard_bits;

    memset(stats, 0, sizeof(*stats));
    if (limit >= s->num_tables)
        return;
    stats->shards = num_shards;
    for (size_t i = 0; i != num_shards; ++i) {
        shard_t *sh = s->tables[limit].shards + i;
        pthread_mutex_lock(&sh->lock);
        stats->keys += sh->count;
        stats->max_keys += sh->max_count;
        stats->bytes += (size_t)sh->num_slots * sizeof(slot_t);
        stats->max_bytes += (size_t)sh->max_slots * sizeof(slot_t);
        pthread_mutex_unlock(&sh->lock);
    }
}
