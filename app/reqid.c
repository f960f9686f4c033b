/*
 * Request ids; see reqid.h.
 */
#include <psa/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include "reqid.h"

/* where the id is kept on the request (h2o's per-request variables) */
#define ENV_NAME "bulwark.request_id"

#define UUID_LEN 36
#define UUID_RANDOM_BYTES 16

/* Random bytes are drawn from PSA's DRBG in batches: its global mutex is
 * taken once per 16 ids instead of once per request. */
#define RANDOM_BATCH (16 * UUID_RANDOM_BYTES)

static _Thread_local struct {
    uint8_t bytes[RANDOM_BATCH];
    size_t used;
} random_batch = {.used = RANDOM_BATCH};

int bulwark_reqid_is_acceptable(const char *value, size_t len)
{
    if (len == 0 || len > BULWARK_REQID_CLIENT_MAX)
        return 0;
    for (size_t i = 0; i != len; ++i) {
        char c = value[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

static const uint8_t *take_random(void)
{
    if (random_batch.used == RANDOM_BATCH) {
        /* PSA's RNG fails only when the entropy source does; TLS could not
         * work either, so this is not a state to serve in. */
        if (psa_generate_random(random_batch.bytes, sizeof(random_batch.bytes)) != PSA_SUCCESS) {
            fprintf(stderr, "bulwark: error: the random generator failed\n");
            abort();
        }
        random_batch.used = 0;
    }
    const uint8_t *r = random_batch.bytes + random_batch.used;
    random_batch.used += UUID_RANDOM_BYTES;
    return r;
}

/* RFC 9562 section 5.4: version 4, variant 10xx, lower-case hex */
static h2o_iovec_t make_uuid4(h2o_mem_pool_t *pool)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[UUID_RANDOM_BYTES];
    char *out = h2o_mem_alloc_pool(pool, UUID_LEN + 1), *p = out;

    memcpy(b, take_random(), sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    for (size_t i = 0; i != sizeof(b); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 0xf];
    }
    *p = '\0';
    return h2o_iovec_init(out, UUID_LEN);
}

static h2o_iovec_t from_client(h2o_req_t *req)
{
    ssize_t cursor = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);

    if (cursor == -1)
        return h2o_iovec_init(NULL, 0);
    h2o_iovec_t value = req->headers.entries[cursor].value;
    if (!bulwark_reqid_is_acceptable(value.base, value.len))
        return h2o_iovec_init(NULL, 0);
    /* a copy: the log line is written after the protocol layer has moved on
     * from the buffer the header was parsed from */
    return h2o_strdup(&req->pool, value.base, value.len);
}

h2o_iovec_t bulwark_reqid(h2o_req_t *req)
{
    h2o_iovec_t *slot = h2o_req_getenv(req, H2O_STRLIT(ENV_NAME), 1);

    if (slot->base == NULL) {
        *slot = from_client(req);
        if (slot->base == NULL)
            *slot = make_uuid4(&req->pool);
    }
    return *slot;
}
