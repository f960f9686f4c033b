/*
 * Proxy routes: h2o's reverse proxy (lib/core/proxy.c) to the route's HTTP
 * or HTTPS upstream, after the whole middleware chain.  HTTPS upstreams are
 * verified: the chain must lead to the route's CA file (secrets volume) and
 * the certificate must name the upstream's host; a failed verification is a
 * 502 (sanitised), never a connection to an unverified peer.
 *
 * The route's literal prefix (its segments before the first {param} or *)
 * is replaced by the upstream's path: /api/orders/{id} to
 * http://orders.internal/v1/orders sends /api/orders/42 to /v1/orders/42.
 * The rest of the path is the normalised one (dot segments resolved), so
 * `..` cannot climb out of the prefix on the upstream.
 *
 * Identity: the client's X-Auth-* headers are removed (only the appliance
 * speaks for the client), and X-Auth-Subject / X-Auth-Scopes carry a
 * verified token's subject and scopes.  Upstream 5xx bodies are replaced by
 * the error sanitiser.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include "h2o/socketpool.h"
#include "../reqctx.h"
#include "../tls.h"
#include "routes.h"

#define X_AUTH_PREFIX "x-auth-"
/* idle upstream connections are kept this long for the next request */
#define KEEPALIVE_TIMEOUT_MS 2000
/* the scopes joined by spaces: more than a token's scope claim may hold */
#define SCOPES_VALUE_MAX 2048

struct st_bulwark_proxy_t {
    h2o_handler_t super;
    const bulwark_route_t *route;
    h2o_url_t upstream;
    h2o_iovec_t prefix; /* the route's literal prefix, "" for "/" */
    h2o_socketpool_t sockpool;
    atomic_flag sockpool_timer_taken; /* the first loop to start takes the pool's timer */
    bulwark_tls_client_t *tls;        /* https upstreams only */
};

static void delete_x_auth(h2o_headers_t *headers)
{
    for (size_t i = 0; i != headers->size;) {
        const h2o_iovec_t *name = headers->entries[i].name;
        if (name->len >= sizeof(X_AUTH_PREFIX) - 1 && strncasecmp(name->base, X_AUTH_PREFIX, sizeof(X_AUTH_PREFIX) - 1) == 0)
            h2o_delete_header(headers, (ssize_t)i);
        else
            ++i;
    }
}

static h2o_iovec_t join_scopes(h2o_mem_pool_t *pool, const bulwark_reqctx_t *ctx)
{
    char *buf = h2o_mem_alloc_pool(pool, SCOPES_VALUE_MAX);
    size_t len = 0;

    for (size_t i = 0; i != ctx->auth.num_scopes; ++i) {
        h2o_iovec_t s = ctx->auth.scopes[i];
        if (len + s.len + 1 > SCOPES_VALUE_MAX)
            break;
        if (len != 0)
            buf[len++] = ' ';
        memcpy(buf + len, s.base, s.len);
        len += s.len;
    }
    return h2o_iovec_init(buf, len);
}

static void set_identity(h2o_req_t *req, const bulwark_reqctx_t *ctx)
{
    delete_x_auth(&req->headers);
    if (ctx->auth.state != BULWARK_AUTH_VALID)
        return;
    h2o_iovec_t scopes = join_scopes(&req->pool, ctx);
    h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-auth-subject"), 0, "X-Auth-Subject", ctx->auth.subject.base,
                          ctx->auth.subject.len);
    h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-auth-scopes"), 0, "X-Auth-Scopes", scopes.base, scopes.len);
}

/* upstream path + the request's path after the prefix + its query */
static h2o_iovec_t destination(struct st_bulwark_proxy_t *self, h2o_req_t *req)
{
    h2o_iovec_t base = self->upstream.path, rest, query = {NULL, 0};

    rest = h2o_iovec_init(req->path_normalized.base + self->prefix.len, req->path_normalized.len - self->prefix.len);
    rest = h2o_uri_escape(&req->pool, rest.base, rest.len, "/@:");
    if (base.len != 0 && base.base[base.len - 1] == '/' && rest.len != 0 && rest.base[0] == '/')
        --base.len;
    if (req->query_at != SIZE_MAX)
        query = h2o_iovec_init(req->path.base + req->query_at, req->path.len - req->query_at);
    return h2o_concat(&req->pool, base, rest, query);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_bulwark_proxy_t *self = (void *)_self;
    bulwark_reqctx_t *ctx = bulwark_reqctx(req);
    h2o_req_overrides_t *overrides;

    if (ctx->route != self->route || req->path_normalized.len < self->prefix.len)
        return -1;
    set_identity(req, ctx);
    overrides = h2o_mem_alloc_pool(&req->pool, sizeof(*overrides));
    *overrides = (h2o_req_overrides_t){NULL};
    overrides->socketpool = &self->sockpool;
    overrides->location_rewrite.match = &self->upstream;
    overrides->location_rewrite.path_prefix = self->prefix.len != 0 ? self->prefix : h2o_iovec_init(H2O_STRLIT("/"));
    overrides->client_ctx = h2o_context_get_handler_context(req->conn->ctx, &self->super);
    h2o_reprocess_request(req, req->method, self->upstream.scheme, self->upstream.authority, destination(self, req), overrides,
                          0);
    return 0;
}

/* each loop gets a client context with the route's own timeout */
static void on_context_init(h2o_handler_t *_self, h2o_context_t *ctx)
{
    struct st_bulwark_proxy_t *self = (void *)_self;
    h2o_http1client_ctx_t *client = h2o_mem_alloc(sizeof(*client));

    /* the socket pool's idle timer runs on the first loop, as in h2o's own proxy */
    /* (loops start on their own threads at the same time) */
    if (!atomic_flag_test_and_set(&self->sockpool_timer_taken))
        h2o_socketpool_set_timeout(&self->sockpool, ctx->loop, KEEPALIVE_TIMEOUT_MS);
    *client = (h2o_http1client_ctx_t){ctx->loop, &ctx->receivers.hostinfo_getaddr, h2o_mem_alloc(sizeof(h2o_timeout_t)), NULL,
                                      NULL};
    h2o_timeout_init(ctx->loop, client->io_timeout, self->route->proxy.timeout_ms);
    client->ssl_ctx = self->tls != NULL ? bulwark_tls_client_config(self->tls) : NULL;
    h2o_context_set_handler_context(ctx, &self->super, client);
}

/* The pool's idle-socket timer lives on the first loop: it must leave that
 * loop before the loop is destroyed (h2o_evloop_destroy insists), not at
 * h2o_config_dispose, which comes later. */
static void detach_sockpool_timer(h2o_socketpool_t *pool, h2o_loop_t *loop)
{
    if (pool->_interval_cb.loop != loop)
        return;
    if (h2o_timeout_is_linked(&pool->_interval_cb.entry))
        h2o_timeout_unlink(&pool->_interval_cb.entry);
    h2o_timeout_dispose(loop, &pool->_interval_cb.timeout);
    pool->_interval_cb.loop = NULL;
}

static void on_context_dispose(h2o_handler_t *_self, h2o_context_t *ctx)
{
    struct st_bulwark_proxy_t *self = (void *)_self;
    h2o_http1client_ctx_t *client = h2o_context_get_handler_context(ctx, _self);

    detach_sockpool_timer(&self->sockpool, ctx->loop);
    if (client == NULL)
        return;
    h2o_timeout_dispose(client->loop, client->io_timeout);
    free(client->io_timeout);
    free(client);
}

static void on_dispose(h2o_handler_t *_self)
{
    struct st_bulwark_proxy_t *self = (void *)_self;

    h2o_socketpool_dispose(&self->sockpool);
    bulwark_tls_client_destroy(self->tls);
    /* h2o_url_copy() duplicated these three */
    free(self->upstream.authority.base);
    free(self->upstream.host.base);
    free(self->upstream.path.base);
    free(self->prefix.base);
}

int bulwark_proxy_register(h2o_pathconf_t *pathconf, const bulwark_route_t *route, const bulwark_policy_tls_t *tls, char *err,
                           size_t errlen)
{
    h2o_url_t parsed;
    struct st_bulwark_proxy_t *self;
    bulwark_tls_client_t *client_tls = NULL;
    char why[512];

    if (route->proxy.https) {
        if ((client_tls = bulwark_tls_client_create(route->proxy.ca_file.base, tls, why, sizeof(why))) == NULL) {
            snprintf(err, errlen, "route %s: upstream CA: %s", route->path.base, why);
            return -1;
        }
    }
    if (h2o_url_parse(route->proxy.upstream.base, route->proxy.upstream.len, &parsed) != 0) {
        snprintf(err, errlen, "route %s: cannot parse the upstream URL", route->path.base);
        bulwark_tls_client_destroy(client_tls);
        return -1;
    }
    self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
    self->super.on_context_init = on_context_init;
    self->super.on_context_dispose = on_context_dispose;
    self->super.dispose = on_dispose;
    self->route = route;
    self->tls = client_tls;
    atomic_flag_clear(&self->sockpool_timer_taken);
    h2o_url_copy(NULL, &self->upstream, &parsed);
    self->prefix = bulwark_route_literal_prefix(route);
    h2o_socketpool_init_by_hostport(&self->sockpool, self->upstream.host, h2o_url_get_port(&self->upstream), client_tls != NULL,
                                    SIZE_MAX);
    return 0;
}
