/*
 * Plain-HTTP listeners: every request gets a 308 to the same host and path on
 * HTTPS.  308 (RFC 9110 section 15.4.9) keeps the method and body, unlike 301.
 *
 * The Location is built from the client's Host, so the host is checked here
 * first: only a DNS name or an IP literal may go into the header, anything
 * else (or no Host at all) is a 400.
 */
#include <stdio.h>
#include "reply.h"
#include "routes.h"

#define HTTPS_DEFAULT_PORT 443
/* RFC 1035: a DNS name is at most 253 characters; an IPv6 literal is shorter */
#define HOST_MAX 253
#define PORT_DIGITS_MAX 5

struct st_bulwark_https_redirect_t {
    h2o_handler_t super;
    uint16_t https_port;
};

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static int is_ipv6_literal_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

static int is_port(const char *s, size_t len)
{
    if (len == 0 || len > PORT_DIGITS_MAX)
        return 0;
    for (size_t i = 0; i != len; ++i)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* The host part of an authority ("name", "1.2.3.4", "[::1]", with an optional
 * ":port"), brackets kept; {NULL, 0} when the authority is malformed. */
static h2o_iovec_t host_of(h2o_iovec_t authority)
{
    const char *s = authority.base, *end = authority.base + authority.len;
    const char *host_end;
    int (*is_host_char)(char);

    if (authority.len == 0)
        return h2o_iovec_init(NULL, 0);
    if (s[0] == '[') {
        host_end = memchr(s, ']', authority.len);
        if (host_end == NULL)
            return h2o_iovec_init(NULL, 0);
        ++host_end;
        is_host_char = is_ipv6_literal_char;
    } else {
        host_end = memchr(s, ':', authority.len);
        if (host_end == NULL)
            host_end = end;
        is_host_char = is_name_char;
    }
    if (host_end != end && (*host_end != ':' || !is_port(host_end + 1, (size_t)(end - host_end - 1))))
        return h2o_iovec_init(NULL, 0);

    size_t host_len = (size_t)(host_end - s);
    const char *inner = s[0] == '[' ? s + 1 : s;
    size_t inner_len = s[0] == '[' ? host_len - 2 : host_len;
    if (inner_len == 0 || host_len > HOST_MAX)
        return h2o_iovec_init(NULL, 0);
    for (size_t i = 0; i != inner_len; ++i)
        if (!is_host_char(inner[i]))
            return h2o_iovec_init(NULL, 0);
    return h2o_iovec_init(s, host_len);
}

/* a request target that can be copied into a header as is */
static int is_safe_target(h2o_iovec_t path)
{
    if (path.len == 0 || path.base[0] != '/')
        return 0;
    for (size_t i = 0; i != path.len; ++i) {
        unsigned char c = (unsigned char)path.base[i];
        if (c <= 0x20 || c >= 0x7f)
            return 0;
    }
    return 1;
}

static h2o_iovec_t build_location(h2o_req_t *req, h2o_iovec_t host, uint16_t https_port)
{
    char port[sizeof(":65535")] = "";

    if (https_port != HTTPS_DEFAULT_PORT)
        snprintf(port, sizeof(port), ":%u", (unsigned)https_port);
    return h2o_concat(&req->pool, h2o_iovec_init(H2O_STRLIT("https://")), host, h2o_iovec_init(port, strlen(port)),
                      req->input.path);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_bulwark_https_redirect_t *self = (void *)_self;
    /* h2o stands the host's own name in for a missing Host header */
    int host_missing = req->input.authority.base == req->hostconf->authority.hostport.base;
    h2o_iovec_t host = host_missing ? h2o_iovec_init(NULL, 0) : host_of(req->input.authority);

    if (host.base == NULL) {
        bulwark_reply_detail(req, 400, "Bad Request", "Invalid host header");
        return 0;
    }
    if (!is_safe_target(req->input.path)) {
        bulwark_reply_detail(req, 400, "Bad Request", "Invalid request target");
        return 0;
    }
    h2o_iovec_t location = build_location(req, host, self->https_port);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, location.base, location.len);
    bulwark_reply_detail(req, 308, "Permanent Redirect", "Redirecting to HTTPS");
    return 0;
}

void bulwark_https_redirect_register(h2o_pathconf_t *pathconf, uint16_t https_port)
{
    struct st_bulwark_https_redirect_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
    self->https_port = https_port;
}
