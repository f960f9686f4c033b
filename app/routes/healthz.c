/*
 * The builtin healthz route (GET /healthz in the default policy): the
 * liveness probe of load balancers and of `make run`.
 */
#include "../reqctx.h"
#include "reply.h"
#include "routes.h"

#define HEALTHZ_BODY "{\"status\":\"ok\"}"

struct st_bulwark_healthz_t {
    h2o_handler_t super;
};

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    const bulwark_route_t *route = bulwark_reqctx(req)->route;

    if (route == NULL || route->kind != BULWARK_ROUTE_BUILTIN || route->builtin != BULWARK_BUILTIN_HEALTHZ)
        return -1;
    bulwark_reply_json(req, 200, "OK", h2o_iovec_init(H2O_STRLIT(HEALTHZ_BODY)));
    return 0;
}

void bulwark_healthz_register(h2o_pathconf_t *pathconf)
{
    struct st_bulwark_healthz_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
}
