/*
 * libFuzzer target: what the rate limiter keys on. The client address
 * behind trusted proxies (X-Forwarded-For, app/mw/client_addr.c), the keys
 * made of it and of header values (app/ratelimit/ratelimit_key.c), a check
 * of those keys in the local store and the RateLimit fields of the result.
 *
 * Input: byte 0 picks the peer's kind (IPv4, IPv6, IPv4-mapped IPv6, none)
 * and the route; bytes 1..16 are the peer's address; byte 17 the IPv6
 * prefix a key keeps; the rest, split at '\n', are X-Forwarded-For field
 * values in arrival order (the first is also the value header- and
 * subject-keyed limits count).
 *
 * Beyond the sanitizers: an untrusted peer is its own client; no address
 * comes out IPv4-mapped; a key holds its kind byte and at most
 * BULWARK_RL_KEY_MAX bytes, an IPv6 key no bits past its prefix; a refusal
 * has a Retry-After; the fields are printable and bounded.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mw/mw.h"
#include "policy/policy.h"
#include "ratelimit/ratelimiter.h"

/* the clock moves 1 ms per input: windows fill and drain as inputs come */
#define TICK_NS 1000000u
#define HEADER_OFFSET 18

static const char policy_yaml[] = "version: 1\n"
                                  "hosts: [localhost]\n"
                                  "trusted_proxies: [127.0.0.0/8, 10.0.0.0/8, 192.168.1.0/24, fd00::/8, 2001:db8::1]\n"
                                  "auth:\n"
                                  "  issuer: bulwark\n"
                                  "  audience: bulwark-api\n"
                                  "  keys: [{kid: k1, alg: ES256, file: jwt.pem}]\n"
                                  "rate_limits:\n"
                                  "  max_keys: 100\n"
                                  "  ipv6_prefix: 56\n"
                                  "  limits:\n"
                                  "    general: {requests: 50, window: 1s, global: true}\n"
                                  "    api_key: {requests: 5, window: 1m, global: true, key: \"header:X-Api-Key\"}\n"
                                  "    subject: {requests: 20, window: 1m, global: true, key: token_subject, "
                                  "path_prefix: /api/}\n"
                                  "    login: {requests: 3, window: 1m}\n"
                                  "routes:\n"
                                  "  - {path: /api/login, methods: [POST], static: {content_type: text/plain, inline: x}, "
                                  "rate_limits: [login]}\n"
                                  "  - {path: /healthz, methods: [GET], builtin: healthz, rate_limit_exempt: true}\n";

static bulwark_policy_t *policy;
static bulwark_ratelimiter_t *rl;
static uint64_t now_ns = 1;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_client_addr: %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];

    if (bulwark_policy_load_buffer("fuzz_client_addr.yaml", policy_yaml, sizeof(policy_yaml) - 1, NULL, &policy, err,
                                   sizeof(err)) != 0)
        fail(err);
    if ((rl = bulwark_ratelimiter_new(policy, err, sizeof(err))) == NULL)
        fail(err);
    return 0;
}

static int is_v4mapped(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static void make_peer(uint8_t kind, const uint8_t *addr, struct sockaddr_storage *peer)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)peer;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)peer;

    memset(peer, 0, sizeof(*peer));
    switch (kind % 4) {
    case 0:
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, addr, 4);
        break;
    case 1:
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, addr, 16);
        break;
    case 2:
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
        memcpy(sin6->sin6_addr.s6_addr + 12, addr, 4);
        break;
    default:
        peer->ss_family = AF_UNIX; /* a peer without an IP address */
        break;
    }
}

static void check_key(const bulwark_rl_key_t *key, unsigned prefix)
{
    if (key->len == 0 || key->len > BULWARK_RL_KEY_MAX)
        fail("a key of impossible length");
    if (key->bytes[0] == 'a' && key->len == 18) {
        for (unsigned bit = prefix; bit < 128; ++bit)
            if (key->bytes[2 + bit / 8] & (0x80 >> (bit % 8)))
                fail("an IPv6 key keeps bits past its prefix");
    }
}

static void check_field(const char *buf, size_t len)
{
    if (len >= BULWARK_RL_FIELD_MAX || strlen(buf) != len)
        fail("a RateLimit field too long or with a NUL");
    for (size_t i = 0; i != len; ++i)
        if (buf[i] < 0x20 || buf[i] > 0x7e)
            fail("a RateLimit field with a character a header cannot carry");
}

static void check_limits(const struct sockaddr_storage *client, uint8_t selector, unsigned prefix, h2o_iovec_t first)
{
    const bulwark_policy_ratelimits_t *config = bulwark_ratelimiter_config(rl);
    size_t route_index = (selector >> 2) % (policy->num_routes + 1);
    const bulwark_route_t *route = route_index < policy->num_routes ? policy->routes + route_index : NULL;
    static const char *const paths[] = {"/", "/api/items", "/api/login", "/healthz"};
    const char *path = route != NULL ? route->path.base : paths[(selector >> 4) % 4];
    uint32_t limits[BULWARK_RL_CHECKS_MAX];
    bulwark_rl_key_t keys[BULWARK_RL_CHECKS_MAX];
    bulwark_rl_check_t checks[BULWARK_RL_CHECKS_MAX];
    bulwark_rl_decision_t d;
    size_t n = bulwark_ratelimiter_applicable(config, route, path, strlen(path), limits), num = 0;
    char buf[BULWARK_RL_FIELD_MAX];

    for (size_t i = 0; i != n; ++i) {
        const bulwark_ratelimit_t *def = config->limits + limits[i];
        bulwark_rl_key_t *key = keys + num;
        switch (def->key) {
        case BULWARK_RL_KEY_CLIENT_ADDRESS:
            bulwark_rl_key_address(key, (const struct sockaddr *)client, prefix);
            break;
        case BULWARK_RL_KEY_HEADER:
            bulwark_rl_key_header(key, first.base, first.len);
            break;
        case BULWARK_RL_KEY_TOKEN_SUBJECT:
            bulwark_rl_key_subject(key, first.base, first.len);
            break;
        }
        check_key(key, prefix);
        checks[num].limit = limits[i];
        checks[num].key = key;
        ++num;
    }
    now_ns += TICK_NS;
    bulwark_ratelimiter_check(rl, checks, num, now_ns, selector & 1, &d);
    if (d.verdict == BULWARK_RL_REFUSE && d.retry_after_s < 1)
        fail("a refusal without a Retry-After");
    if (d.num == 0)
        return;
    check_field(buf, bulwark_rl_format_policy(buf, sizeof(buf), config, &d));
    check_field(buf, bulwark_rl_format_state(buf, sizeof(buf), config, &d));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h2o_iovec_t fields[H2O_MAX_HEADERS];
    size_t num_fields = 0;
    struct sockaddr_storage peer, client, unmapped;
    unsigned prefix;

    if (size < HEADER_OFFSET)
        return 0;
    make_peer(data[0], data + 1, &peer);
    prefix = data[17] % 129;
    for (size_t pos = HEADER_OFFSET; pos <= size && num_fields != H2O_MAX_HEADERS;) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) : size;
        fields[num_fields++] = h2o_iovec_init(data + pos, end - pos);
        pos = end + 1;
    }

    bulwark_client_addr_resolve(policy, &peer, fields, num_fields, &client);
    if (is_v4mapped(&client))
        fail("a client address came out IPv4-mapped");
    /* the peer as the resolver sees it: unmapped, and with no proxies trusted */
    bulwark_client_addr_resolve(policy, &peer, NULL, 0, &unmapped);
    if (!bulwark_addr_is_trusted_proxy(policy, &unmapped) && memcmp(&client, &unmapped, sizeof(client)) != 0)
        fail("an untrusted peer's X-Forwarded-For was believed");
    check_limits(&client, data[0], prefix, fields[0]);
    return 0;
}
