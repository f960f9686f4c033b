/*
 * The client address (ctx->client) that rate limits and logs key on: the
 * TCP peer, unless the peer is one of the policy's trusted proxies; then the
 * rightmost X-Forwarded-For hop that is not a trusted proxy itself.  Hops to
 * the left of it were written by the client and prove nothing.
 */
#include <arpa/inet.h>
#include "../reqctx.h"
#include "mw.h"

/* the longest hop text we parse: an IPv6 address */
#define HOP_TEXT_MAX INET6_ADDRSTRLEN

struct st_bulwark_client_addr_t {
    h2o_handler_t super;
    const bulwark_policy_t *policy;
};

/* IPv4-mapped IPv6 (::ffff:a.b.c.d, a dual-stack listener's view of an
 * IPv4 peer) becomes plain IPv4, so that one client has one key */
static void unmap_ipv4(struct sockaddr_storage *ss)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    struct sockaddr_in sin;

    if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
        return;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = sin6->sin6_port;
    memcpy(&sin.sin_addr, sin6->sin6_addr.s6_addr + 12, 4);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &sin, sizeof(sin));
}

static int prefix_matches(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
    unsigned whole = prefix / 8, rest = prefix % 8;

    if (memcmp(a, net, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (net[whole] & mask);
}

int bulwark_addr_is_trusted_proxy(const bulwark_policy_t *policy, const struct sockaddr_storage *ss)
{
    const uint8_t *bytes;
    int family;

    if (ss->ss_family == AF_INET) {
        family = 4;
        bytes = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
    } else if (ss->ss_family == AF_INET6) {
        family = 6;
        bytes = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
    } else {
        return 0;
    }
    for (size_t i = 0; i != policy->num_trusted_proxies; ++i) {
        const bulwark_cidr_t *c = policy->trusted_proxies + i;
        if (c->family == family && prefix_matches(bytes, c->addr, c->prefix))
            return 1;
    }
    return 0;
}

static int parse_hop(const char *s, size_t len, struct sockaddr_storage *out)
{
    char text[HOP_TEXT_MAX];

    while (len != 0 && (*s == ' ' || *s == '\t'))
        ++s, --len;
    while (len != 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        --len;
    if (len == 0 || len >= sizeof(text))
        return -1;
    memcpy(text, s, len);
    text[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, text, &((struct sockaddr_in *)out)->sin_addr) == 1) {
        out->ss_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)out)->sin6_addr) == 1) {
        out->ss_family = AF_INET6;
        unmap_ipv4(out);
        return 0;
    }
    return -1;
}

/* Walks one header value right to left; returns 1 when the client was found
 * (in *client), 0 when every hop was a trusted proxy, -1 on a bad hop. */
static int walk_hops(const bulwark_policy_t *policy, h2o_iovec_t value, struct sockaddr_storage *client)
{
    const char *end = value.base + value.len;

    while (end > value.base) {
        const char *start = end;
        while (start > value.base && start[-1] != ',')
            --start;
        struct sockaddr_storage hop;
        if (parse_hop(start, (size_t)(end - start), &hop) != 0)
            return -1;
        *client = hop;
        if (!bulwark_addr_is_trusted_proxy(policy, &hop))
            return 1;
        end = start > value.base ? start - 1 : start;
    }
    return 0;
}

void bulwark_client_addr_resolve(const bulwark_policy_t *policy, const struct sockaddr_storage *peer,
                                 const h2o_iovec_t *forwarded, size_t num_forwarded, struct sockaddr_storage *client)
{
    *client = *peer;
    unmap_ipv4(client);
    if (policy->num_trusted_proxies == 0 || !bulwark_addr_is_trusted_proxy(policy, client))
        return;
    /* X-Forwarded-For fields, last first: later fields were added by nearer proxies */
    while (num_forwarded != 0) {
        struct sockaddr_storage hop = *client;
        int ret = walk_hops(policy, forwarded[--num_forwarded], &hop);
        /* a hop we cannot read ends the chain: the nearest proxy stays the client */
        if (ret < 0)
            return;
        *client = hop;
        if (ret > 0)
            return;
    }
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_bulwark_client_addr_t *self = (void *)_self;
    bulwark_reqctx_t *ctx = bulwark_reqctx(req);
    struct sockaddr_storage peer;

    memset(&peer, 0, sizeof(peer));
    if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&peer) == 0)
        return -1;
    if (self->policy->num_trusted_proxies == 0) {
        bulwark_client_addr_resolve(self->policy, &peer, NULL, 0, &ctx->client);
        return -1;
    }
    /* only a trusted proxy's fields are read; H2O_MAX_HEADERS bounds them.
     * The array lives in this block only: the build's zero-initialisation
     * of locals would clear its 1.6 KiB on every request otherwise. */
    {
        h2o_iovec_t forwarded[H2O_MAX_HEADERS];
        size_t n = 0;
        ssize_t c = -1;
        while (n != H2O_MAX_HEADERS &&
               (c = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-forwarded-for"), c)) != -1)
            forwarded[n++] = req->headers.entries[c].value;
        bulwark_client_addr_resolve(self->policy, &peer, forwarded, n, &ctx->client);
    }
    return -1;
}

void bulwark_client_addr_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy)
{
    struct st_bulwark_client_addr_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_req;
    self->policy = policy;
}
