/*
 * CORS (Fetch standard, "CORS protocol"): an exact allow-list.
 *
 * An Origin is allowed only when it is byte for byte one of the policy's
 * origins (the RFC 6454 serialisation browsers send: lowercase scheme and
 * host, no default port, no path).  No prefix or suffix matching, no
 * patterns, no reflection: `https://app.bulwark.test.evil.example`,
 * `null`, `http://app.bulwark.test` or a differently cased origin are simply
 * other origins.
 *
 * The handler answers preflights (OPTIONS with Access-Control-Request-Method):
 * 204 when the origin, the method and every requested header are allowed,
 * else 403.  The filter owns every Access-Control-* response header: it
 * removes any a route or upstream set, and adds ours only for an allowed
 * origin.  Vary: Origin goes on every response while CORS is on, so that a
 * cache never hands one origin's answer to another.
 */
#include <strings.h>
#include "../reqctx.h"
#include "../routes/reply.h"
#include "mw.h"

#define AC_PREFIX "access-control-"

struct st_bulwark_cors_handler_t {
    h2o_handler_t super;
    const bulwark_policy_cors_t *cors;
};

struct st_bulwark_cors_filter_t {
    h2o_filter_t super;
    const bulwark_policy_cors_t *cors;
};

/* the request's only value of a header; {NULL, 0} when absent or repeated */
static h2o_iovec_t single_header(h2o_req_t *req, const char *lname, size_t len)
{
    ssize_t cursor = h2o_find_header_by_str(&req->headers, lname, len, -1);

    if (cursor == -1 || h2o_find_header_by_str(&req->headers, lname, len, cursor) != -1)
        return h2o_iovec_init(NULL, 0);
    return req->headers.entries[cursor].value;
}

static h2o_iovec_t allowed_origin(const bulwark_policy_cors_t *cors, h2o_req_t *req)
{
    h2o_iovec_t origin = single_header(req, H2O_STRLIT("origin"));

    if (!cors->enabled || origin.base == NULL)
        return h2o_iovec_init(NULL, 0);
    for (size_t i = 0; i != cors->num_origins; ++i)
        if (h2o_memis(origin.base, origin.len, cors->origins[i].base, cors->origins[i].len))
            return origin;
    return h2o_iovec_init(NULL, 0);
}

static int is_preflight(h2o_req_t *req)
{
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")) &&
           h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1) != -1 &&
           h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-method"), -1) != -1;
}

static int method_allowed(const bulwark_policy_cors_t *cors, h2o_iovec_t method)
{
    static const struct {
        const char *name;
        size_t len;
        unsigned bit;
    } names[] = {
        {H2O_STRLIT("GET"), BULWARK_METHOD_GET},     {H2O_STRLIT("HEAD"), BULWARK_METHOD_HEAD},
        {H2O_STRLIT("POST"), BULWARK_METHOD_POST},   {H2O_STRLIT("PUT"), BULWARK_METHOD_PUT},
        {H2O_STRLIT("PATCH"), BULWARK_METHOD_PATCH}, {H2O_STRLIT("DELETE"), BULWARK_METHOD_DELETE},
    };

    /* methods are case-sensitive (RFC 9110 section 9.1) */
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i)
        if (h2o_memis(method.base, method.len, names[i].name, names[i].len))
            return (cors->methods & names[i].bit) != 0;
    return 0;
}

static int header_allowed(const bulwark_policy_cors_t *cors, const char *name, size_t len)
{
    for (size_t i = 0; i != cors->num_allow_headers; ++i)
        if (len == cors->allow_headers[i].len && strncasecmp(name, cors->allow_headers[i].base, len) == 0)
            return 1;
    return 0;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* every name in one comma-separated list is allowed (empty elements are
 * allowed by RFC 9110 section 5.6.1 and skipped) */
static int list_allowed(const bulwark_policy_cors_t *cors, h2o_iovec_t v)
{
    const char *p = v.base, *end = v.base + v.len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *s = p, *e;
        e = comma != NULL ? comma : end;
        p = e + 1;
        while (s < e && is_ows(*s))
            ++s;
        while (e > s && is_ows(e[-1]))
            --e;
        if (s != e && !header_allowed(cors, s, (size_t)(e - s)))
            return 0;
    }
    return 1;
}

/* every name of every Access-Control-Request-Headers field is allowed */
static int request_headers_allowed(const bulwark_policy_cors_t *cors, h2o_req_t *req)
{
    ssize_t cursor = -1;

    while ((cursor = h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-headers"), cursor)) != -1)
        if (!list_allowed(cors, req->headers.entries[cursor].value))
            return 0;
    return 1;
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_bulwark_cors_handler_t *self = (void *)_self;
    h2o_iovec_t method;

    if (!is_preflight(req))
        return -1;
    method = single_header(req, H2O_STRLIT("access-control-request-method"));
    if (allowed_origin(self->cors, req).base == NULL || method.base == NULL || !method_allowed(self->cors, method) ||
        !request_headers_allowed(self->cors, req)) {
        bulwark_reply_detail(req, 403, "Forbidden", "CORS request not allowed");
        return 0;
    }
    req->res.status = 204;
    req->res.reason = "No Content";
    h2o_send_inline(req, NULL, 0);
    return 0;
}

static void delete_access_control(h2o_headers_t *headers)
{
    for (size_t i = 0; i != headers->size;) {
        const h2o_iovec_t *name = headers->entries[i].name;
        if (name->len > sizeof(AC_PREFIX) - 1 && strncasecmp(name->base, AC_PREFIX, sizeof(AC_PREFIX) - 1) == 0)
            h2o_delete_header(headers, (ssize_t)i);
        else
            ++i;
    }
}

static void add(h2o_req_t *req, const char *lname, size_t len, const char *name, bulwark_str_t value)
{
    if (value.len != 0)
        h2o_add_header_by_str(&req->pool, &req->res.headers, lname, len, 1, name, value.base, value.len);
}

#define ADD(req, lname, name, value) add((req), H2O_STRLIT(lname), (name), (value))

static void add_allow_headers(const bulwark_policy_cors_t *cors, h2o_req_t *req, h2o_iovec_t origin)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, "Access-Control-Allow-Origin",
                   origin.base, origin.len);
    if (cors->allow_credentials)
        ADD(req, "access-control-allow-credentials", "Access-Control-Allow-Credentials", ((bulwark_str_t){H2O_STRLIT("true")}));
    if (is_preflight(req) && req->res.status == 204) {
        ADD(req, "access-control-allow-methods", "Access-Control-Allow-Methods", cors->methods_value);
        ADD(req, "access-control-allow-headers", "Access-Control-Allow-Headers", cors->allow_headers_value);
        ADD(req, "access-control-max-age", "Access-Control-Max-Age", cors->max_age_value);
    } else {
        ADD(req, "access-control-expose-headers", "Access-Control-Expose-Headers", cors->expose_headers_value);
    }
}

static void on_setup_ostream(h2o_filter_t *_self, h2o_req_t *req, h2o_ostream_t **slot)
{
    struct st_bulwark_cors_filter_t *self = (void *)_self;
    h2o_iovec_t origin;

    delete_access_control(&req->res.headers);
    if (self->cors->enabled) {
        h2o_set_header_token(&req->pool, &req->res.headers, H2O_TOKEN_VARY, H2O_STRLIT("Origin"));
        /* a refused preflight says nothing about what would be allowed */
        int refused_preflight = is_preflight(req) && req->res.status != 204;
        if (!refused_preflight && (origin = allowed_origin(self->cors, req)).base != NULL)
            add_allow_headers(self->cors, req, origin);
    }
    h2o_setup_next_ostream(req, slot);
}

void bulwark_cors_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy)
{
    struct st_bulwark_cors_handler_t *handler = (void *)h2o_create_handler(pathconf, sizeof(*handler));
    struct st_bulwark_cors_filter_t *filter = (void *)h2o_create_filter(pathconf, sizeof(*filter));

    handler->super.on_req = on_req;
    handler->cors = &policy->cors;
    filter->super.on_setup_ostream = on_setup_ostream;
    filter->cors = &policy->cors;
}
