/*
 * The access log: one JSON line per request on stdout, written by h2o's
 * logger hook once the response is done.  Fields, in order: ts, event,
 * request_id, peer, client, method, path, status, detail (the error detail
 * sent, whose reference is request_id; null for other answers), bytes,
 * duration_ms, protocol, tls.
 *
 * No header value is logged (Authorization, Cookie, tokens: DESIGN.md,
 * "Logs"), and no body.
 *
 * The path is logged without its query string: tokens and other secrets
 * travel in queries and must not reach the log (DESIGN.md, "Logs").
 */
#include "../log.h"
#include "../netaddr.h"
#include "../reqctx.h"
#include "../reqid.h"
#include "mw.h"

/* Bounds on client-chosen fields, so that a whole line, escaped in the worst
 * case (6 bytes per input byte), stays under BULWARK_LOG_LINE_MAX. */
#define LOG_METHOD_MAX 32
#define LOG_PATH_MAX 512

struct st_bulwark_access_log_t {
    h2o_logger_t super;
};

static h2o_iovec_t bounded(h2o_iovec_t s, size_t max)
{
    if (s.base == NULL)
        return h2o_iovec_init("", 0);
    if (s.len > max)
        s.len = max;
    return s;
}

static h2o_iovec_t path_without_query(h2o_iovec_t path)
{
    const char *q;

    if (path.base == NULL)
        return path;
    if ((q = memchr(path.base, '?', path.len)) != NULL)
        path.len = (size_t)(q - path.base);
    return path;
}

static void add_peer(bulwark_json_t *j, h2o_req_t *req)
{
    struct sockaddr_storage ss;
    char text[BULWARK_NETADDR_TEXT_MAX] = "-";

    if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) != 0)
        bulwark_netaddr_format(text, sizeof(text), (struct sockaddr *)&ss);
    bulwark_json_cstr(j, "peer", text);
}

/* the address limits counted (ctx->client): null when no layer set it */
static void add_client(bulwark_json_t *j, const bulwark_reqctx_t *ctx)
{
    char text[BULWARK_NETADDR_TEXT_MAX];

    if (ctx->client.ss_family != AF_INET && ctx->client.ss_family != AF_INET6) {
        bulwark_json_cstr(j, "client", NULL);
        return;
    }
    bulwark_netaddr_format_ip(text, sizeof(text), (const struct sockaddr *)&ctx->client);
    bulwark_json_cstr(j, "client", text);
}

/* From when h2o started reading the request (its loop-iteration clock) to
 * now, the response being done: h2o's own response_end_at is the cached
 * loop clock too, which would round most requests down to 0 ms. */
static int64_t duration_usec(h2o_req_t *req)
{
    struct timeval now;

    if (h2o_timeval_is_null(&req->timestamps.request_begin_at))
        return 0;
    gettimeofday(&now, NULL);
    return h2o_timeval_subtract(&req->timestamps.request_begin_at, &now);
}

static const char *tls_version(h2o_req_t *req)
{
    h2o_socket_t *sock;

    if (req->conn->callbacks->get_socket == NULL || (sock = req->conn->callbacks->get_socket(req->conn)) == NULL)
        return NULL;
    if (sock->ssl == NULL)
        return NULL;
    return h2o_socket_get_ssl_protocol_version(sock);
}

static void log_access(h2o_logger_t *self, h2o_req_t *req)
{
    char line[BULWARK_LOG_LINE_MAX], protocol[sizeof("HTTP/1.1")];
    bulwark_json_t j;
    h2o_iovec_t id = bulwark_reqid(req);
    h2o_iovec_t method = bounded(req->input.method, LOG_METHOD_MAX);
    h2o_iovec_t path = bounded(path_without_query(req->input.path), LOG_PATH_MAX);
    const bulwark_reqctx_t *ctx = bulwark_reqctx(req);

    h2o_stringify_protocol_version(protocol, req->version);

    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "request");
    bulwark_json_str(&j, "request_id", id.base, id.len);
    add_peer(&j, req);
    add_client(&j, ctx);
    bulwark_json_str(&j, "method", method.base, method.len);
    bulwark_json_str(&j, "path", path.base, path.len);
    bulwark_json_int(&j, "status", req->res.status);
    bulwark_json_cstr(&j, "detail", ctx->error_detail);
    bulwark_json_int(&j, "bytes", (long long)req->bytes_sent);
    bulwark_json_millis(&j, "duration_ms", duration_usec(req));
    bulwark_json_cstr(&j, "protocol", protocol);
    bulwark_json_cstr(&j, "tls", tls_version(req));
    bulwark_log_emit(&j);
}

void bulwark_access_log_register(h2o_pathconf_t *pathconf)
{
    struct st_bulwark_access_log_t *self = (void *)h2o_create_logger(pathconf, sizeof(*self));
    self->super.log_access = log_access;
}
