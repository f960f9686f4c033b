/*
 * Static routes with an inline body (the landing page at `/` in the default
 * policy): the policy's text with its content type, 200.
 */
#include "../reqctx.h"
#include "routes.h"

struct st_bulwark_static_inline_t {
    h2o_handler_t super;
};

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    const bulwark_route_t *route = bulwark_reqctx(req)->route;

    if (route == NULL || route->kind != BULWARK_ROUTE_STATIC || route->static_.dir.len != 0)
        return -1;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = route->static_.inline_body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, route->static_.content_type.base,
                   route->static_.content_type.len);
    /* h2o_send_inline copies the body and leaves it out for HEAD */
    h2o_send_inline(req, route->static_.inline_body.base, route->static_.inline_body.len);
    return 0;
}

void bulwark_static_inline_register(h2o_pathconf_t *pathconf)
{
    struct st_bulwark_static_inline_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
}
