/*
 * X-Request-ID on every response, h2o's own error responses included: a
 * filter runs for whatever generator produced the response.
 */
#include "../reqid.h"
#include "mw.h"

struct st_bulwark_request_id_t {
    h2o_filter_t super;
};

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    h2o_iovec_t id = bulwark_reqid(req);
    ssize_t cursor;

    /* one value only, whoever set one before */
    while ((cursor = h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-request-id"), -1)) != -1)
        h2o_delete_header(&req->res.headers, cursor);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, "X-Request-ID", id.base, id.len);
    h2o_setup_next_ostream(req, slot);
}

void bulwark_request_id_register(h2o_pathconf_t *pathconf)
{
    struct st_bulwark_request_id_t *self = (void *)h2o_create_filter(pathconf, sizeof(*self));
    self->super.on_setup_ostream = on_setup_ostream;
}
