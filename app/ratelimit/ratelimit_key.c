/*
 * Keys of the rate limiter; see ratelimit_key.h.
 */
#include <string.h>
#include <netinet/in.h>
#include "ratelimit_key.h"

#define KIND_ADDRESS 'a'
#define KIND_SUBJECT 's'
#define KIND_HEADER 'h'
#define FAMILY_NONE 0
#define FAMILY_V4 4
#define FAMILY_V6 6
#define IPV6_BITS 128
#define IPV4_SIZE 4
#define IPV6_SIZE 16

/* RFC 4291 §2.5.5.2: ::ffff:0:0/96 */
static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void put_v4(bulwark_rl_key_t *key, const uint8_t *addr)
{
    key->bytes[0] = KIND_ADDRESS;
    key->bytes[1] = FAMILY_V4;
    memcpy(key->bytes + 2, addr, IPV4_SIZE);
    key->len = 2 + IPV4_SIZE;
}

static void put_v6(bulwark_rl_key_t *key, const uint8_t *addr, unsigned prefix)
{
    uint8_t *dst = key->bytes + 2;

    if (prefix > IPV6_BITS)
        prefix = IPV6_BITS;
    key->bytes[0] = KIND_ADDRESS;
    key->bytes[1] = FAMILY_V6;
    memset(dst, 0, IPV6_SIZE);
    memcpy(dst, addr, prefix / 8);
    if (prefix % 8 != 0)
        dst[prefix / 8] = addr[prefix / 8] & (uint8_t)(0xff << (8 - prefix % 8));
    key->len = 2 + IPV6_SIZE;
}

void bulwark_rl_key_address(bulwark_rl_key_t *key, const struct sockaddr *sa, unsigned ipv6_prefix)
{
    if (sa->sa_family == AF_INET) {
        put_v4(key, (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    } else if (sa->sa_family == AF_INET6) {
        const uint8_t *addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0)
            put_v4(key, addr + sizeof(v4mapped_prefix));
        else
            put_v6(key, addr, ipv6_prefix);
    } else {
        key->bytes[0] = KIND_ADDRESS;
        key->bytes[1] = FAMILY_NONE;
        key->len = 2;
    }
}

static void put_value(bulwark_rl_key_t *key, uint8_t kind, const char *value, size_t len)
{
    if (len > BULWARK_RL_KEY_VALUE_MAX)
        len = BULWARK_RL_KEY_VALUE_MAX;
    key->bytes[0] = kind;
    if (len != 0)
        memcpy(key->bytes + 1, value, len);
    key->len = 1 + len;
}

void bulwark_rl_key_subject(bulwark_rl_key_t *key, const char *subject, size_t len)
{
    put_value(key, KIND_SUBJECT, subject, len);
}

void bulwark_rl_key_header(bulwark_rl_key_t *key, const char *value, size_t len)
{
    put_value(key, KIND_HEADER, value, len);
}
