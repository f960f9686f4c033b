/*
 * JSON responses from builtin routes; see reply.h.
 */
#include "../log.h"
#include "../reqctx.h"
#include "../reqid.h"
#include "reply.h"

#define DETAIL_PREFIX "{\"detail\":\""
#define REFERENCE_INFIX "\",\"reference\":\""
#define BODY_SUFFIX "\"}"

void bulwark_reply_json(h2o_req_t *req, int status, const char *reason, h2o_iovec_t body)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    /* h2o_send_inline copies the body and leaves it out for HEAD */
    h2o_send_inline(req, body.base, body.len);
}

h2o_iovec_t bulwark_error_body(h2o_req_t *req, const char *detail)
{
    h2o_iovec_t id = bulwark_reqid(req);
    size_t detail_len = strlen(detail);
    size_t cap = sizeof(DETAIL_PREFIX) + BULWARK_JSON_ESCAPED_MAX(detail_len) + sizeof(REFERENCE_INFIX) +
                 BULWARK_JSON_ESCAPED_MAX(id.len) + sizeof(BODY_SUFFIX);
    char *body = h2o_mem_alloc_pool(&req->pool, cap), *p = body;

    memcpy(p, DETAIL_PREFIX, sizeof(DETAIL_PREFIX) - 1);
    p += sizeof(DETAIL_PREFIX) - 1;
    p += bulwark_json_escape(p, BULWARK_JSON_ESCAPED_MAX(detail_len), detail, detail_len);
    memcpy(p, REFERENCE_INFIX, sizeof(REFERENCE_INFIX) - 1);
    p += sizeof(REFERENCE_INFIX) - 1;
    p += bulwark_json_escape(p, BULWARK_JSON_ESCAPED_MAX(id.len), id.base, id.len);
    memcpy(p, BODY_SUFFIX, sizeof(BODY_SUFFIX) - 1);
    p += sizeof(BODY_SUFFIX) - 1;
    return h2o_iovec_init(body, (size_t)(p - body));
}

void bulwark_reply_detail(h2o_req_t *req, int status, const char *reason, const char *detail)
{
    /* the error sanitiser passes this body on as it is; the log names it */
    bulwark_reqctx(req)->error_detail = detail;
    bulwark_reply_json(req, status, reason, bulwark_error_body(req, detail));
}
