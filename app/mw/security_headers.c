/*
 * Security headers on every response: a filter, so it runs for whatever
 * produced the response (routes, the middleware's own answers, h2o's
 * errors, proxied responses).  The policy's set, overridden by the last
 * matching path override, overridden by the matched route's headers
 * (policy.h); Strict-Transport-Security over HTTPS only (RFC 6797 section
 * 7.2: a UA ignores it over plain HTTP, and the redirect must not pin).
 * Server and X-Powered-By are removed: they name software and versions.
 */
#include <strings.h>
#include "../reqctx.h"
#include "mw.h"

struct st_bulwark_security_headers_t {
    h2o_filter_t super;
    const bulwark_policy_t *policy;
    int https; /* the pathconf serves the TLS listeners (the client's :scheme proves nothing) */
};

static void delete_all(h2o_headers_t *headers, const char *lname, size_t len)
{
    ssize_t cursor;

    while ((cursor = h2o_find_header_by_str(headers, lname, len, -1)) != -1)
        h2o_delete_header(headers, cursor);
}

static int is_hsts(const bulwark_header_t *h)
{
    return h2o_memis(h->lname.base, h->lname.len, H2O_STRLIT("strict-transport-security"));
}

static void set_one(h2o_req_t *req, const bulwark_header_t *h, int https)
{
    if (is_hsts(h) && !https)
        return;
    delete_all(&req->res.headers, h->lname.base, h->lname.len);
    /* Appended without copies (h2o_add_header_by_str would copy the
     * spelling into the request's pool): the name, its spelling and the
     * value live in the policy, which outlives every connection.  A name
     * h2o knows goes in as its token. */
    h2o_vector_reserve(&req->pool, &req->res.headers, req->res.headers.size + 1);
    h2o_header_t *slot = req->res.headers.entries + req->res.headers.size++;
    const h2o_token_t *token = h2o_lookup_token(h->lname.base, h->lname.len);
    if (token != NULL) {
        slot->name = (h2o_iovec_t *)&token->buf;
    } else {
        slot->name = h2o_mem_alloc_pool(&req->pool, sizeof(*slot->name));
        *slot->name = h2o_iovec_init(h->lname.base, h->lname.len);
    }
    slot->orig_name = h->name.base;
    slot->value = h2o_iovec_init(h->value.base, h->value.len);
}

static void set_all(h2o_req_t *req, const bulwark_header_t *set, size_t num, int https)
{
    for (size_t i = 0; i != num; ++i)
        set_one(req, set + i, https);
}

static int override_matches(const bulwark_header_override_t *o, h2o_iovec_t path)
{
    if (o->match == BULWARK_PATH_EXACT)
        return h2o_memis(path.base, path.len, o->path.base, o->path.len);
    return path.len >= o->path.len && memcmp(path.base, o->path.base, o->path.len) == 0;
}

/* The path the client asked for, query excluded, dot segments resolved;
 * empty (no override applies) when it is not an origin-form path.  From
 * input.path: a proxy route has rewritten req->path for its upstream by now.
 * No allocation unless the path holds "." or "%". */
static h2o_iovec_t request_path(h2o_req_t *req)
{
    size_t query_at;
    size_t *norm_indexes = NULL;

    if (req->input.path.base == NULL || req->input.path.len == 0 || req->input.path.base[0] != '/')
        return h2o_iovec_init("", 0);
    return h2o_url_normalize_path(&req->pool, req->input.path.base, req->input.path.len, &query_at, &norm_indexes);
}

static void on_setup_ostream(h2o_filter_t *_self, h2o_req_t *req, h2o_ostream_t **slot)
{
    struct st_bulwark_security_headers_t *self = (void *)_self;
    const bulwark_policy_headers_t *headers = &self->policy->headers;
    const bulwark_route_t *route = bulwark_reqctx(req)->route;
    h2o_iovec_t path = request_path(req);

    delete_all(&req->res.headers, H2O_STRLIT("server"));
    delete_all(&req->res.headers, H2O_STRLIT("x-powered-by"));
    set_all(req, headers->set, headers->num_set, self->https);
    /* overrides apply in policy order, so the last matching one wins */
    for (size_t i = 0; i != headers->num_overrides; ++i)
        if (override_matches(headers->overrides + i, path))
            set_all(req, headers->overrides[i].set, headers->overrides[i].num_set, self->https);
    if (route != NULL)
        set_all(req, route->headers, route->num_headers, self->https);
    h2o_setup_next_ostream(req, slot);
}

void bulwark_security_headers_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy, int https)
{
    struct st_bulwark_security_headers_t *self = (void *)h2o_create_filter(pathconf, sizeof(*self));

    self->super.on_setup_ostream = on_setup_ostream;
    self->policy = policy;
    self->https = https;
}
