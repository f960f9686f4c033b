/*
 * JSON responses from builtin routes.  Every body the appliance makes up for
 * an error (or a redirect) has the shape {"detail": "...", "reference": "<id>"}
 * where the reference is the request id (DESIGN.md, "Errors").
 */
#ifndef BULWARK_ROUTES_REPLY_H
#define BULWARK_ROUTES_REPLY_H

#include "h2o.h"

/* sends body (copied) as application/json with the given status */
void bulwark_reply_json(h2o_req_t *req, int status, const char *reason, h2o_iovec_t body);

/* sends {"detail": detail, "reference": <request id>} */
void bulwark_reply_detail(h2o_req_t *req, int status, const char *reason, const char *detail);

/* {"detail": detail, "reference": the request id}, JSON-escaped, in req's pool */
h2o_iovec_t bulwark_error_body(h2o_req_t *req, const char *detail);

#endif
