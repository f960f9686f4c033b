/*
 * SipHash-2-4; see siphash.h.  Words are read little-endian byte by byte, so
 * the result does not depend on the host's byte order or alignment rules.
 */
#include "siphash.h"

/* the initialisation constants of the paper, §2: "somepseudorandomlygeneratedbytes" */
#define SIP_INIT0 UINT64_C(0x736f6d6570736575)
#define SIP_INIT1 UINT64_C(0x646f72616e646f6d)
#define SIP_INIT2 UINT64_C(0x6c7967656e657261)
#define SIP_INIT3 UINT64_C(0x7465646279746573)

/* SipHash-c-d with c = 2 compression and d = 4 finalisation rounds */
#define SIP_C_ROUNDS 2
#define SIP_D_ROUNDS 4
#define SIP_FINAL_XOR 0xff

typedef struct st_sip_state_t {
    uint64_t v0, v1, v2, v3;
} sip_state_t;

static uint64_t rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const uint8_t *p, size_t n)
{
    uint64_t w = 0;

    for (size_t i = 0; i != n; ++i)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

static void sip_round(sip_state_t *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

static void sip_absorb(sip_state_t *s, uint64_t m)
{
    s->v3 ^= m;
    for (int i = 0; i != SIP_C_ROUNDS; ++i)
        sip_round(s);
    s->v0 ^= m;
}

uint64_t bulwark_siphash24(const uint8_t key[BULWARK_SIPHASH_KEY_SIZE], const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t k0 = load_le64(key, 8), k1 = load_le64(key + 8, 8);
    sip_state_t s = {k0 ^ SIP_INIT0, k1 ^ SIP_INIT1, k0 ^ SIP_INIT2, k1 ^ SIP_INIT3};
    size_t whole = len & ~(size_t)7;

    for (size_t i = 0; i != whole; i += 8)
        sip_absorb(&s, load_le64(p + i, 8));
    /* the last word: the remaining bytes, and the length (mod 256) on top */
    sip_absorb(&s, load_le64(p + whole, len - whole) | ((uint64_t)len << 56));

    s.v2 ^= SIP_FINAL_XOR;
    for (int i = 0; i != SIP_D_ROUNDS; ++i)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
