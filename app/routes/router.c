/*
 * The router: which policy route a request is for.
 *
 * bulwark_router_match_register runs early in the chain (right after the
 * host check) and only records the match in the request's context (route,
 * {param} values), so that the rate limiter, the input limits and auth can
 * act on it; it never answers.  bulwark_router_fallback_register ends the
 * chain: a request no handler answered gets 405 with Allow when its path
 * belongs to routes of other methods, else 404.
 *
 * Routes are tried in policy order on the normalised path (dot segments
 * resolved, no query), segment by segment and case-sensitively.
 */
#include "../reqctx.h"
#include "reply.h"
#include "routes.h"

/* "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" */
#define ALLOW_VALUE_MAX 64

static const struct {
    const char *name;
    size_t len;
    unsigned bit;
} methods[] = {
    {H2O_STRLIT("GET"), BULWARK_METHOD_GET},         {H2O_STRLIT("HEAD"), BULWARK_METHOD_HEAD},
    {H2O_STRLIT("POST"), BULWARK_METHOD_POST},       {H2O_STRLIT("PUT"), BULWARK_METHOD_PUT},
    {H2O_STRLIT("PATCH"), BULWARK_METHOD_PATCH},     {H2O_STRLIT("DELETE"), BULWARK_METHOD_DELETE},
    {H2O_STRLIT("OPTIONS"), BULWARK_METHOD_OPTIONS},
};

struct st_bulwark_router_t {
    h2o_handler_t super;
    const bulwark_policy_t *policy;
};

unsigned bulwark_method_bit(h2o_iovec_t method)
{
    for (size_t i = 0; i != sizeof(methods) / sizeof(methods[0]); ++i)
        if (h2o_memis(method.base, method.len, methods[i].name, methods[i].len))
            return methods[i].bit;
    return 0;
}

/* SCHEMA.md: GET also answers HEAD */
static unsigned route_methods(const bulwark_route_t *route)
{
    return route->methods & BULWARK_METHOD_GET ? route->methods | BULWARK_METHOD_HEAD : route->methods;
}

/* the next segment of path after *pos (which points at a '/'), or NULL at the end */
static const char *next_segment(h2o_iovec_t path, size_t *pos, size_t *len)
{
    const char *start, *end = path.base + path.len, *slash;

    if (*pos >= path.len)
        return NULL;
    start = path.base + *pos + 1;
    if ((slash = memchr(start, '/', (size_t)(end - start))) == NULL)
        slash = end;
    *len = (size_t)(slash - start);
    *pos = (size_t)(slash - path.base);
    return start;
}

/* 1 when path matches the route's segments; params filled from {param}s */
static int path_matches(const bulwark_route_t *route, h2o_iovec_t path, h2o_iovec_t *params, size_t *num_params)
{
    size_t pos = 0, len;
    const char *seg;

    *num_params = 0;
    if (route->num_segments == 0) /* "/" is the root only */
        return path.len == 1;
    for (size_t i = 0; i != route->num_segments; ++i) {
        const bulwark_segment_t *s = route->segments + i;
        if (s->kind == BULWARK_SEGMENT_REST)
            return 1;
        if ((seg = next_segment(path, &pos, &len)) == NULL)
            return 0;
        if (s->kind == BULWARK_SEGMENT_LITERAL && !h2o_memis(seg, len, s->text.base, s->text.len))
            return 0;
        if (s->kind == BULWARK_SEGMENT_PARAM) {
            if (len == 0 || *num_params == BULWARK_REQCTX_PARAMS_MAX)
                return 0;
            params[(*num_params)++] = h2o_iovec_init(seg, len);
        }
    }
    return pos == path.len;
}

static void match(const bulwark_policy_t *policy, h2o_req_t *req, bulwark_reqctx_t *ctx)
{
    unsigned method = bulwark_method_bit(req->method);
    h2o_iovec_t params[BULWARK_REQCTX_PARAMS_MAX];
    size_t num_params;

    for (size_t i = 0; i != policy->num_routes; ++i) {
        const bulwark_route_t *route = policy->routes + i;
        if (!path_matches(route, req->path_normalized, params, &num_params))
            continue;
        if ((route_methods(route) & method) == 0) {
            ctx->path_methods |= route_methods(route);
            continue;
        }
        ctx->route = route;
        ctx->num_params = num_params;
        memcpy(ctx->params, params, num_params * sizeof(params[0]));
        ctx->path_methods = 0;
        return;
    }
}

static int on_match(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_bulwark_router_t *self = (void *)_self;
    bulwark_reqctx_t *ctx = bulwark_reqctx(req);

    ctx->policy = self->policy;
    if (req->path_normalized.len != 0 && req->path_normalized.base[0] == '/')
        match(self->policy, req, ctx);
    return -1;
}

void bulwark_router_match_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy)
{
    struct st_bulwark_router_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_match;
    self->policy = policy;
}

static h2o_iovec_t allow_value(h2o_mem_pool_t *pool, unsigned bits)
{
    char *buf = h2o_mem_alloc_pool(pool, ALLOW_VALUE_MAX);
    size_t len = 0;

    for (size_t i = 0; i != sizeof(methods) / sizeof(methods[0]); ++i) {
        if ((bits & methods[i].bit) == 0)
            continue;
        if (len != 0) {
            memcpy(buf + len, ", ", 2); /* NOLINT(bugprone-not-null-terminated-result): a length-counted value */
            len += 2;
        }
        memcpy(buf + len, methods[i].name, methods[i].len);
        len += methods[i].len;
    }
    return h2o_iovec_init(buf, len);
}

/* A matched route no handler served (its handler is not built in) is
 * answered as if it did not exist: nothing behind it runs. */
static int on_fallback(h2o_handler_t *self, h2o_req_t *req)
{
    bulwark_reqctx_t *ctx = bulwark_reqctx(req);

    if (ctx->route == NULL && ctx->path_methods != 0) {
        h2o_iovec_t allow = allow_value(&req->pool, ctx->path_methods);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow.base, allow.len);
        bulwark_reply_detail(req, 405, "Method Not Allowed", "Method Not Allowed");
        return 0;
    }
    bulwark_reply_detail(req, 404, "Not Found", "Not Found");
    return 0;
}

void bulwark_router_fallback_register(h2o_pathconf_t *pathconf)
{
    struct st_bulwark_router_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_fallback;
}

h2o_iovec_t bulwark_route_literal_prefix(const bulwark_route_t *route)
{
    h2o_iovec_t prefix = {h2o_mem_alloc(route->path.len + 1), 0};

    for (size_t i = 0; i != route->num_segments && route->segments[i].kind == BULWARK_SEGMENT_LITERAL; ++i) {
        prefix.base[prefix.len++] = '/';
        memcpy(prefix.base + prefix.len, route->segments[i].text.base, route->segments[i].text.len);
        prefix.len += route->segments[i].text.len;
    }
    prefix.base[prefix.len] = '\0';
    return prefix;
}
