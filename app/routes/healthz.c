/*
 * GET /healthz: the liveness probe of load balancers and of `make run`.
 */
#include "reply.h"
#include "routes.h"

#define HEALTHZ_PATH "/healthz"
#define HEALTHZ_BODY "{\"status\":\"ok\"}"

struct st_bulwark_healthz_t {
    h2o_handler_t super;
};

static int is_get_or_head(h2o_req_t *req)
{
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
           h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    if (!h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT(HEALTHZ_PATH)) || !is_get_or_head(req))
        return -1;
    bulwark_reply_json(req, 200, "OK", h2o_iovec_init(H2O_STRLIT(HEALTHZ_BODY)));
    return 0;
}

void bulwark_healthz_register(h2o_pathconf_t *pathconf)
{
    struct st_bulwark_healthz_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
}
