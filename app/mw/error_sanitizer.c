/*
 * The error sanitiser (DESIGN.md, "Errors"): every error response leaves as
 * JSON {"detail": "<generic text>", "reference": "<request id>"}.
 *
 * Bodies the appliance wrote itself through bulwark_reply_detail are already
 * of that shape and pass.  Everything else with a status of 400 or more is
 * replaced: h2o's own errors (plain-text 413, 400, 417, 502, 503, ...) and,
 * on proxy routes, upstream 5xx bodies, which can carry stack traces,
 * versions, paths and internal addresses.  An upstream's 4xx is the API's
 * answer to its client and passes.  The status is kept.
 */
#include "../log.h"
#include "../reqctx.h"
#include "../reqid.h"
#include "../routes/reply.h"
#include "mw.h"


#define FIRST_ERROR_STATUS 400
#define FIRST_SERVER_ERROR_STATUS 500

struct st_bulwark_error_sanitizer_t {
    h2o_filter_t super;
};

struct st_replacement_ostream_t {
    h2o_ostream_t super;
    h2o_iovec_t body;
};

static const struct {
    int status;
    const char *detail;
} details[] = {
    {400, "Bad Request"},
    {401, "Not authenticated"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {411, "Length Required"},
    {413, "Request body too large"},
    {414, "Request line too long"},
    {415, "Unsupported media type"},
    {417, "Expectation Failed"},
    {422, "Invalid request body"},
    {429, "Rate limit exceeded"},
    {431, "Request headers too large"},
    {500, "Internal server error"},
    {502, "Bad gateway"},
    {503, "Service unavailable"},
    {504, "Gateway timeout"},
};

const char *bulwark_error_detail(int status)
{
    for (size_t i = 0; i != sizeof(details) / sizeof(details[0]); ++i)
        if (details[i].status == status)
            return details[i].detail;
    return status >= FIRST_SERVER_ERROR_STATUS ? "Server error" : "Client error";
}

static int needs_replacing(h2o_req_t *req, const bulwark_reqctx_t *ctx)
{
    if (req->res.status < FIRST_ERROR_STATUS || ctx->error_detail != NULL)
        return 0;
    if (ctx->route != NULL && ctx->route->kind == BULWARK_ROUTE_PROXY && req->res.status < FIRST_SERVER_ERROR_STATUS)
        return 0;
    return 1;
}

/* headers that describe the body being thrown away */
static void drop_body_headers(h2o_headers_t *headers)
{
    static const h2o_token_t *const tokens[] = {H2O_TOKEN_CONTENT_TYPE, H2O_TOKEN_CONTENT_ENCODING, H2O_TOKEN_CONTENT_LANGUAGE,
                                                H2O_TOKEN_CONTENT_LOCATION, H2O_TOKEN_CONTENT_RANGE, H2O_TOKEN_ETAG,
                                                H2O_TOKEN_LAST_MODIFIED, H2O_TOKEN_CONTENT_LENGTH, H2O_TOKEN_TRANSFER_ENCODING};
    ssize_t cursor;

    for (size_t i = 0; i != sizeof(tokens) / sizeof(tokens[0]); ++i)
        while ((cursor = h2o_find_header(headers, tokens[i], -1)) != -1)
            h2o_delete_header(headers, cursor);
}

/* The original body is swallowed as it comes; ours goes out with the last
 * part, so the generator is driven to its end as usual. */
static void replacement_do_send(h2o_ostream_t *_self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    struct st_replacement_ostream_t *self = (void *)_self;
    int is_head = h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"));

    if (h2o_send_state_is_in_progress(state) || is_head) {
        h2o_ostream_send_next(&self->super, req, NULL, 0, state);
        return;
    }
    /* an upstream that failed mid-body still gets its clean answer */
    h2o_ostream_send_next(&self->super, req, &self->body, 1, H2O_SEND_STATE_FINAL);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    bulwark_reqctx_t *ctx = bulwark_reqctx(req);
    struct st_replacement_ostream_t *ostream;

    if (!needs_replacing(req, ctx)) {
        h2o_setup_next_ostream(req, slot);
        return;
    }
    ctx->error_detail = bulwark_error_detail(req->res.status);
    drop_body_headers(&req->res.headers);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    ostream = (void *)h2o_add_ostream(req, sizeof(*ostream), slot);
    ostream->super.do_send = replacement_do_send;
    ostream->body = bulwark_error_body(req, ctx->error_detail);
    req->res.content_length = ostream->body.len;
    h2o_setup_next_ostream(req, &ostream->super.next);
}

void bulwark_error_sanitizer_register(h2o_pathconf_t *pathconf)
{
    struct st_bulwark_error_sanitizer_t *self = (void *)h2o_create_filter(pathconf, sizeof(*self));
    self->super.on_setup_ostream = on_setup_ostream;
}
