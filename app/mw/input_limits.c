/*
 * Input limits (policy `limits` and routes[].body), checked before anyone
 * spends work on a request:
 *   request line over limits.max_request_line        414
 *   header fields over max_header_count or
 *   max_header_bytes (HTTP/2: decoded)                431
 *   body over the route's body.max_size               413
 *   a body route's content type not listed            415
 *   a body that fails the route's JSON schema         422
 *
 * h2o itself refuses bodies over limits.max_body (globalconf
 * max_request_entity_size, the largest limit of any route) before they are
 * buffered; this layer applies the matched route's own, smaller limit.
 */
#include <strings.h>
#include "../reqctx.h"
#include "../routes/reply.h"
#include "json_schema.h"
#include "mw.h"

/* " HTTP/1.1" after the target: the request line as HTTP/1.1 sends it */
#define VERSION_SUFFIX_LEN (sizeof(" HTTP/1.1") - 1)
/* ": " and CRLF around each field, as an HTTP/1.1 head counts them */
#define FIELD_OVERHEAD (sizeof(": \r\n") - 1)
/* the Host field h2o keeps apart from the others */
#define HOST_FIELD_OVERHEAD (sizeof("host: \r\n") - 1)

struct st_bulwark_input_limits_t {
    h2o_handler_t super;
    const bulwark_policy_limits_t *limits;
};

static int request_line_too_long(const bulwark_policy_limits_t *limits, h2o_req_t *req)
{
    return req->input.method.len + 1 + req->input.path.len + VERSION_SUFFIX_LEN > limits->max_request_line;
}

static int headers_too_large(const bulwark_policy_limits_t *limits, h2o_req_t *req)
{
    size_t bytes = req->input.authority.len + HOST_FIELD_OVERHEAD;

    if (req->headers.size + 1 > limits->max_header_count)
        return 1;
    for (size_t i = 0; i != req->headers.size; ++i)
        bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len + FIELD_OVERHEAD;
    return bytes > limits->max_header_bytes;
}

static int carries_body(h2o_req_t *req)
{
    return req->entity.base != NULL || h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) ||
           h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PUT")) ||
           h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PATCH"));
}

/* the media type of the one Content-Type field: "type/subtype", no parameters */
static h2o_iovec_t media_type(h2o_req_t *req)
{
    ssize_t cursor = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    h2o_iovec_t v;
    const char *semi;

    if (cursor == -1 || h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, cursor) != -1)
        return h2o_iovec_init(NULL, 0);
    v = req->headers.entries[cursor].value;
    if ((semi = memchr(v.base, ';', v.len)) != NULL)
        v.len = (size_t)(semi - v.base);
    while (v.len != 0 && (v.base[v.len - 1] == ' ' || v.base[v.len - 1] == '\t'))
        --v.len;
    return v;
}

static int content_type_allowed(const bulwark_route_body_t *body, h2o_req_t *req)
{
    h2o_iovec_t type;

    if (body->num_content_types == 0)
        return 1;
    if ((type = media_type(req)).base == NULL)
        return 0;
    for (size_t i = 0; i != body->num_content_types; ++i)
        if (type.len == body->content_types[i].len && strncasecmp(type.base, body->content_types[i].base, type.len) == 0)
            return 1;
    return 0;
}

/* the route's body rules; 0 when they pass, else the reply has been sent */
static int check_body(const bulwark_policy_limits_t *limits, const bulwark_route_t *route, h2o_req_t *req)
{
    uint64_t max = route != NULL ? route->body.max_size : limits->max_body;

    if (req->entity.len > max) {
        bulwark_reply_detail(req, 413, "Payload Too Large", "Request body too large");
        return -1;
    }
    if (route == NULL || !carries_body(req))
        return 0;
    if (!content_type_allowed(&route->body, req)) {
        bulwark_reply_detail(req, 415, "Unsupported Media Type", "Unsupported media type");
        return -1;
    }
    if (!bulwark_json_schema_valid(route->body.schema, req->entity.base, req->entity.len)) {
        bulwark_reply_detail(req, 422, "Unprocessable Entity", "Invalid request body");
        return -1;
    }
    return 0;
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_bulwark_input_limits_t *self = (void *)_self;

    /* a client that sends heads this size is not worth keeping (HTTP/1.1) */
    if (request_line_too_long(self->limits, req)) {
        req->http1_is_persistent = 0;
        bulwark_reply_detail(req, 414, "URI Too Long", "Request line too long");
        return 0;
    }
    if (headers_too_large(self->limits, req)) {
        req->http1_is_persistent = 0;
        bulwark_reply_detail(req, 431, "Request Header Fields Too Large", "Request headers too large");
        return 0;
    }
    return check_body(self->limits, bulwark_reqctx(req)->route, req) == 0 ? -1 : 0;
}

void bulwark_input_limits_register(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy)
{
    struct st_bulwark_input_limits_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_req;
    self->limits = &policy->limits;
}
