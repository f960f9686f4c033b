/*
 * The end of every handler chain: a JSON 404 instead of h2o's HTML one.
 */
#include "reply.h"
#include "routes.h"

struct st_bulwark_notfound_t {
    h2o_handler_t super;
};

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    bulwark_reply_detail(req, 404, "Not Found", "Not Found");
    return 0;
}

void bulwark_notfound_register(h2o_pathconf_t *pathconf)
{
    struct st_bulwark_notfound_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
}
