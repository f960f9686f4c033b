/*
 * Trusted hosts: a request whose Host (HTTP/1.1) or :authority (HTTP/2) is
 * not one of the policy's patterns, whatever its port, is answered
 * 400 {"detail":"Invalid host header"}.  So is a request without one, one
 * whose absolute-form target names a host of its own, one with two Host
 * fields (RFC 9112 section 3.2), and an HTTP/2 request whose host field
 * names another authority than :authority (RFC 9113 section 8.3.1).  h2o
 * keeps the first Host as the authority and such fields with the other
 * headers (deps/patches/h2o/0015).
 *
 * Why strict: the host ends up in redirects, links and caches (poisoned
 * reset links, cache poisoning) and decides what DNS rebinding can reach.
 * The matching is exact: no trailing dot, no userinfo, no legacy IPv4 forms
 * ("127.1", "0x7f.0.0.1"), IPv6 compared as addresses.
 */
#include <arpa/inet.h>
#include <strings.h>
#include "../reqctx.h"
#include "../routes/reply.h"
#include "mw.h"

/* RFC 1035: a name is at most 253 characters, a label at most 63 */
#define HOST_NAME_MAX_LEN 253
#define LABEL_MAX_LEN 63
#define PORT_DIGITS_MAX 5
#define PORT_MAX 65535

struct st_bulwark_hosts_t {
    h2o_handler_t super;
    const bulwark_policy_t *policy;
};

static int is_port(const char *s, size_t len)
{
    unsigned long n = 0;

    if (len == 0 || len > PORT_DIGITS_MAX)
        return 0;
    for (size_t i = 0; i != len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        n = n * 10 + (unsigned long)(s[i] - '0');
    }
    return n <= PORT_MAX;
}

/* letters, digits and hyphens in non-empty labels of at most 63 */
static int is_dns_name(const char *s, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > HOST_NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i != len; ++i) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
            if (++label > LABEL_MAX_LEN)
                return 0;
        } else {
            return 0;
        }
    }
    return label != 0; /* a trailing dot is not the same host to us */
}

static int ipv6_allowed(const bulwark_policy_t *policy, const char *s, size_t len)
{
    char text[INET6_ADDRSTRLEN];
    uint8_t addr[16];

    if (len == 0 || len >= sizeof(text))
        return 0;
    memcpy(text, s, len);
    text[len] = '\0';
    if (inet_pton(AF_INET6, text, addr) != 1)
        return 0;
    for (size_t i = 0; i != policy->num_hosts; ++i) {
        const bulwark_host_pattern_t *p = policy->hosts + i;
        if (p->kind == BULWARK_HOST_ANY || (p->kind == BULWARK_HOST_IPV6 && memcmp(p->addr, addr, sizeof(addr)) == 0))
            return 1;
    }
    return 0;
}

/* inet_pton takes only the four-decimal dotted form, as we want */
static int parse_ipv4(const char *s, size_t len, uint8_t addr[4])
{
    char text[INET_ADDRSTRLEN];

    if (len == 0 || len >= sizeof(text))
        return 0;
    memcpy(text, s, len);
    text[len] = '\0';
    return inet_pton(AF_INET, text, addr) == 1;
}

static int name_matches(const bulwark_host_pattern_t *p, const char *s, size_t len)
{
    switch (p->kind) {
    case BULWARK_HOST_NAME:
        return len == p->text.len && strncasecmp(s, p->text.base, len) == 0;
    case BULWARK_HOST_WILDCARD: /* text is ".domain": at least one label before it */
        return len > p->text.len && strncasecmp(s + len - p->text.len, p->text.base, p->text.len) == 0;
    default:
        return 0;
    }
}

static int name_allowed(const bulwark_policy_t *policy, const char *s, size_t len)
{
    uint8_t v4[4];
    int is_v4 = parse_ipv4(s, len, v4);

    if (!is_v4 && !is_dns_name(s, len))
        return 0;
    for (size_t i = 0; i != policy->num_hosts; ++i) {
        const bulwark_host_pattern_t *p = policy->hosts + i;
        if (p->kind == BULWARK_HOST_ANY)
            return 1;
        if (is_v4 ? p->kind == BULWARK_HOST_IPV4 && memcmp(p->addr, v4, sizeof(v4)) == 0 : name_matches(p, s, len))
            return 1;
    }
    return 0;
}

int bulwark_host_allowed(const bulwark_policy_t *policy, const char *authority, size_t len)
{
    const char *end = authority + len, *host_end;

    if (len != 0 && authority[0] == '[') {
        if ((host_end = memchr(authority, ']', len)) == NULL)
            return 0;
        if (host_end + 1 != end && (host_end[1] != ':' || !is_port(host_end + 2, (size_t)(end - host_end - 2))))
            return 0;
        return ipv6_allowed(policy, authority + 1, (size_t)(host_end - authority - 1));
    }
    if ((host_end = memchr(authority, ':', len)) == NULL)
        host_end = end;
    else if (!is_port(host_end + 1, (size_t)(end - host_end - 1)))
        return 0;
    return name_allowed(policy, authority, (size_t)(host_end - authority));
}

/* "scheme://authority/..." (RFC 9112 section 3.2.2): its authority, else {NULL, 0} */
static h2o_iovec_t absolute_form_authority(h2o_iovec_t target)
{
    const char *sep, *end = target.base + target.len, *slash;

    if (target.len == 0 || target.base[0] == '/')
        return h2o_iovec_init(NULL, 0);
    if ((sep = memchr(target.base, ':', target.len)) == NULL || end - sep < 3 || sep[1] != '/' || sep[2] != '/')
        return h2o_iovec_init(NULL, 0);
    sep += 3;
    if ((slash = memchr(sep, '/', (size_t)(end - sep))) == NULL)
        slash = end;
    return h2o_iovec_init(sep, (size_t)(slash - sep));
}

/* an absolute-form target names the same host as Host (h2o routes on Host) */
static int target_agrees(h2o_iovec_t target, h2o_iovec_t authority)
{
    h2o_iovec_t named;

    if (target.len == 0 || target.base[0] == '/' || h2o_memis(target.base, target.len, H2O_STRLIT("*")))
        return 1;
    named = absolute_form_authority(target);
    return named.base != NULL && h2o_lcstris(named.base, named.len, authority.base, authority.len);
}

/* The host fields h2o kept beside the authority: over HTTP/1.1 any is a
 * second Host; over HTTP/2 one may stand beside :authority if it names the
 * same authority */
static int host_fields_agree(h2o_req_t *req, h2o_iovec_t authority)
{
    ssize_t cursor = h2o_find_header(&req->headers, H2O_TOKEN_HOST, -1);
    h2o_iovec_t value;

    if (cursor == -1)
        return 1;
    if (req->version < 0x200 || h2o_find_header(&req->headers, H2O_TOKEN_HOST, cursor) != -1)
        return 0;
    value = req->headers.entries[cursor].value;
    return h2o_lcstris(value.base, value.len, authority.base, authority.len);
}

/* a proxied request gets one Host, the one the proxy writes */
static void drop_host_fields(h2o_req_t *req)
{
    ssize_t cursor;

    while ((cursor = h2o_find_header(&req->headers, H2O_TOKEN_HOST, -1)) != -1)
        h2o_delete_header(&req->headers, cursor);
}

static int request_host_allowed(const bulwark_policy_t *policy, h2o_req_t *req)
{
    h2o_iovec_t authority = req->input.authority;

    /* h2o stands the host's own name in for a missing Host */
    if (authority.base == NULL || authority.base == req->hostconf->authority.hostport.base)
        return 0;
    return bulwark_host_allowed(policy, authority.base, authority.len) && target_agrees(req->input.path, authority) &&
           host_fields_agree(req, authority);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_bulwark_hosts_t *self = (void *)_self;

    bulwark_reqctx(req)->policy = self->policy;
    if (request_host_allowed(self->policy, req)) {
        drop_host_fields(req);
        return -1;
    }
    bulwark_reply_detail(req, 400, "Bad Request", "Invalid host header");
    return 0;
}

void bulwark_hosts_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy)
{
    struct st_bulwark_hosts_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_req;
    self->policy = policy;
}
