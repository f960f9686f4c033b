/*
 * The per-request context; see reqctx.h.
 */
#include "reqctx.h"
#include "reqid.h"

/* h2o's per-request variables hold the context's address; the name is ours
 * alone (h2o passes env to FastCGI and mruby only, neither built in) */
#define ENV_NAME "bulwark.reqctx"

bulwark_reqctx_t *bulwark_reqctx(h2o_req_t *req)
{
    h2o_iovec_t *slot = h2o_req_getenv(req, H2O_STRLIT(ENV_NAME), 1);

    if (slot->base == NULL) {
        bulwark_reqctx_t *ctx = h2o_mem_alloc_pool(&req->pool, sizeof(*ctx));
        memset(ctx, 0, sizeof(*ctx));
        ctx->request_id = bulwark_reqid(req);
        *slot = h2o_iovec_init(ctx, sizeof(*ctx));
    }
    return (bulwark_reqctx_t *)slot->base;
}
