/*
 * The local store: GCRA state of every limit in this process, shared by all
 * event-loop threads.
 *
 * Layout.  One table per limit, split into shards (a power of two, at most
 * 64), each an open-addressing hash table behind its own mutex.  An entry is
 * 16 bytes: a 64-bit fingerprint of the key (SipHash-2-4 under a secret
 * per-process seed, so clients cannot aim keys at one shard, one chain or
 * another client's entry) and the key's TAT.  Two different keys share an
 * entry only if their fingerprints collide: about n^2 / 2^65 for n keys,
 * below 1e-9 at a million keys, and then they share one budget (stricter,
 * never looser).
 *
 * Atomicity.  A request's checks name distinct limits, hence distinct
 * shards; the store takes their locks in ascending limit order (one global
 * order, so no deadlock), decides every limit, charges all of them only if
 * all admit, then unlocks.  No other thread sees a half-charged request, and
 * no two threads can both take the last unit of a budget.
 *
 * The memory bound.  rate_limits.max_keys is per limit: each shard may hold
 * max_keys / shards keys, so a limit never holds more than max_keys, and its
 * slot arrays never exceed 2 x 4/3 x 16 bytes a key (grown by doubling, at
 * most 3/4 full).  When a new key arrives at a full shard:
 *   1. entries whose TAT is at or before now are evicted (all of them, in one
 *      sweep).  They carry no information: a fully recovered GCRA state is
 *      the same as no state, so evicting them never changes a decision.
 *   2. if none has recovered yet, the new key is refused: the request gets
 *      429 with Retry-After until the shard's earliest entry recovers (the
 *      store keeps that time, so refusing costs no scan).  Keys already held
 *      are served as before.
 * So a flood of made-up keys (spoofed header values, addresses from a large
 * IPv6 range) can never grow memory past the bound nor reset anyone's
 * counter by pushing it out; at worst, new clients are refused until the
 * flood's entries recover: for 100/min one request's entry recovers after
 * 0.6 s.  The store fails closed, never open.  Raise max_keys (up to
 * 1,000,000) if legitimate clients ever reach it.
 */
#ifndef BULWARK_RATELIMIT_STORE_LOCAL_H
#define BULWARK_RATELIMIT_STORE_LOCAL_H

#include <stddef.h>
#include <stdint.h>
#include "policy/policy.h"
#include "ratelimit_store.h"
#include "siphash.h"

/* Creates the store for limits[0..num_limits) (num_limits <= BULWARK_RL_CHECKS_MAX),
 * each holding at most max_keys keys (>= 1).  seed: secret random bytes.
 * NULL when out of memory or when an argument is outside those bounds. */
bulwark_rl_store_t *bulwark_rl_store_local_new(const bulwark_ratelimit_t *limits, size_t num_limits, uint32_t max_keys,
                                               const uint8_t seed[BULWARK_SIPHASH_KEY_SIZE]);

typedef struct st_bulwark_rl_local_stats_t {
    size_t keys;      /* entries held now */
    size_t max_keys;  /* entries it will ever hold: <= the max_keys asked for */
    size_t shards;
    size_t bytes;     /* slot arrays now allocated */
    size_t max_bytes; /* slot arrays at most (the bound on bytes) */
} bulwark_rl_local_stats_t;

/* what the table of limit `limit` of a local store holds right now */
void bulwark_rl_store_local_stats(bulwark_rl_store_t *store, uint32_t limit, bulwark_rl_local_stats_t *stats);

#endif
