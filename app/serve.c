/*
 * `bulwark serve`; see serve.h.
 *
 * Threads: the main thread sets everything up, starts one worker per event
 * loop, then waits for SIGTERM/SIGINT with sigwait(2) (the signals are
 * blocked in every thread, so no code runs in signal context).  Each worker
 * owns an h2o context, an evloop and its own listening sockets; all share one
 * h2o_globalconf_t and one TLS configuration, both read-only once serving.
 *
 * Shutdown: the main thread moves the phase to DRAINING and wakes every loop
 * through h2o's multithread queue.  Each worker closes its listeners, asks
 * h2o to shut down gracefully (GOAWAY on HTTP/2, no more keep-alive on
 * HTTP/1.1) and, every 100 ms, closes HTTP/1.1 connections that sit idle
 * between requests.  The main thread waits until no connection is left, or
 * DRAIN_TIMEOUT_SECONDS, then stops the loops and frees everything.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <psa/crypto.h>
#include "h2o.h"
#include "listener.h"
#include "log.h"
#include <jansson.h>
#include "crypto/crypto.h"
#include "mw/auth.h"
#include "mw/mw.h"
#include "mw/ratelimit.h"
#include "ratelimit/ratelimiter.h"
#include "routes/demo_api.h"
#include "workers.h"
#include "netaddr.h"
#include "policy/policy.h"
#include "policy_builtin.h"
#include "routes/routes.h"
#include "serve.h"
#include "tls.h"
#include "version.h"

#if H2O_USE_LIBUV
#error "Bulwark runs on h2o's own event loop: build with -DH2O_USE_LIBUV=0"
#endif

/* musl gives a new thread 128 KiB of stack.  h2o keeps request-sized arrays
 * on the stack (H2O_MAX_HEADERS phr_header entries when parsing, alloca'd
 * host names) and an mbedTLS handshake needs tens of KiB more: 1 MiB leaves
 * a wide margin at no cost (untouched stack pages are never backed). */
#define THREAD_STACK_SIZE (1024 * 1024)

/* how long in-flight requests may take to finish after SIGTERM */
#define DRAIN_TIMEOUT_SECONDS 10

/* connections accepted per listener wake-up before the loop serves others */
#define ACCEPT_BATCH 16

#define ERRBUF_SIZE 512
/* a refused policy's line names the rule, what was found and the fix */
#define POLICY_REFUSAL_MAX 2048

/* h2o's port number for "any port" in h2o_config_register_host */
#define ANY_PORT 65535

enum phase { PHASE_RUNNING, PHASE_DRAINING, PHASE_STOPPING };

struct st_server_t;
struct st_worker_t;

struct st_worker_listener_t {
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *sock;
    struct st_worker_t *worker;
};

struct st_worker_t {
    struct st_server_t *server;
    size_t index;
    pthread_t tid;
    int started;
    h2o_context_t ctx;
    h2o_multithread_receiver_t wakeup;
    struct st_worker_listener_t *listeners;
    size_t open_connections; /* touched by this worker's thread only */
    h2o_timeout_entry_t idle_sweep;
    h2o_timeout_entry_t log_flush; /* writes the loop's batched log lines */
};

struct st_server_t {
    bulwark_policy_t *policy;
    bulwark_ratelimiter_t *ratelimiter;
    bulwark_auth_t *auth;
    bulwark_workers_t *pool; /* blocking work (password hashing) off the loops */
    bulwark_demo_api_t *demo_api;
    h2o_globalconf_t globalconf;
    h2o_hostconf_t *https_hosts[2];
    h2o_hostconf_t *http_hosts[2];
    bulwark_tls_t *tls;
    bulwark_listener_t *listeners;
    size_t num_listeners;
    struct st_worker_t *workers;
    size_t num_workers;
    atomic_int phase;
    atomic_size_t connections;
    int wakeups_done; /* under mutex: no more wake-ups will be sent */
    pthread_mutex_t mutex;
    pthread_cond_t cond; /* a worker got ready, or the last connection closed */
    size_t ready_workers;
    int globalconf_ready; /* h2o_config_init has run: dispose it */
};

static void fail(const char *message)
{
    fprintf(stderr, "bulwark: error: %s\n", message);
}

/* --- h2o configuration -------------------------------------------------- */

/* Filters first: they act on every response of the pathconf, whoever
 * answers.  Loggers last. */
static void register_filters(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy, int https)
{
    bulwark_request_id_register(pathconf);
    bulwark_security_headers_register(pathconf, policy, https);
    bulwark_error_sanitizer_register(pathconf);
}

/* The fallback pathconf answers the errors h2o raises before a request is
 * routed (413 while reading a body, malformed HTTP/2 headers): they get the
 * same headers, a request id, a JSON body and a log line too. */
static void setup_fallback(h2o_hostconf_t *host, const bulwark_policy_t *policy, int https)
{
    register_filters(&host->fallback_path, policy, https);
    bulwark_notfound_register(&host->fallback_path);
    bulwark_access_log_register(&host->fallback_path);
}

/* one handler per static-dir and per proxy route */
static int register_file_and_proxy_routes(h2o_pathconf_t *pathconf, const bulwark_policy_t *policy)
{
    char err[ERRBUF_SIZE];

    for (size_t i = 0; i != policy->num_routes; ++i) {
        const bulwark_route_t *route = policy->routes + i;
        int ret = 0;
        if (route->kind == BULWARK_ROUTE_PROXY)
            ret = bulwark_proxy_register(pathconf, route, &policy->tls, err, sizeof(err));
        else if (route->kind == BULWARK_ROUTE_STATIC && route->static_.dir.len != 0)
            ret = bulwark_static_dir_register(pathconf, route, err, sizeof(err));
        if (ret != 0) {
            fail(err);
            return -1;
        }
    }
    return 0;
}

#ifdef BULWARK_BENCH_BARE
/* Only in build/bench/bulwark-bare (tests/bench/middleware-overhead.sh),
 * never in the product: the same server with the router and the routes
 * (builtin, static, proxy) but no middleware, filter or logger, to measure what the chain
 * costs. */
static int register_https_chain(h2o_pathconf_t *root, struct st_server_t *s)
{
    bulwark_router_match_register(root, s->policy);
    bulwark_healthz_register(root);
    bulwark_demo_api_register(root, s->demo_api);
    if (register_file_and_proxy_routes(root, s->policy) != 0)
        return -1;
    bulwark_router_fallback_register(root);
    return 0;
}
#else
/* DESIGN.md's data path, in order.  Handlers pass a request on by
 * returning -1; the first that answers ends it. */
static int register_https_chain(h2o_pathconf_t *root, struct st_server_t *s)
{
    const bulwark_policy_t *policy = s->policy;

    register_filters(root, policy, 1);
    bulwark_hosts_register(root, policy);
    bulwark_client_addr_register(root, policy);
    bulwark_router_match_register(root, policy);
    bulwark_cors_register(root, policy);

    /* after CORS (preflights are not counted), before the input limits */
    bulwark_ratelimit_register(root, policy, s->ratelimiter, s->auth);

    bulwark_input_limits_register(root, policy);

    bulwark_auth_register(root, s->auth);

    bulwark_healthz_register(root);
    bulwark_static_inline_register(root);

    bulwark_demo_api_register(root, s->demo_api);

    if (register_file_and_proxy_routes(root, policy) != 0)
        return -1;
    bulwark_router_fallback_register(root);
    bulwark_access_log_register(root);
    return 0;
}
#endif

static h2o_hostconf_t *setup_https_host(h2o_globalconf_t *conf, struct st_server_t *s)
{
    h2o_hostconf_t *host = h2o_config_register_host(conf, h2o_iovec_init(H2O_STRLIT("https.invalid")), ANY_PORT);

    if (register_https_chain(h2o_config_register_path(host, "/", 0), s) != 0)
        return NULL;
    setup_fallback(host, s->policy, 1);
    return host;
}

/* plain HTTP: the host check, then 308 to HTTPS for everything */
static h2o_hostconf_t *setup_http_host(h2o_globalconf_t *conf, const bulwark_policy_t *policy, uint16_t https_port)
{
    h2o_hostconf_t *host = h2o_config_register_host(conf, h2o_iovec_init(H2O_STRLIT("http.invalid")), ANY_PORT);
    h2o_pathconf_t *root = h2o_config_register_path(host, "/", 0);

    register_filters(root, policy, 0);
    bulwark_hosts_register(root, policy);
    bulwark_client_addr_register(root, policy);
    bulwark_https_redirect_register(root, https_port);
    bulwark_access_log_register(root);
    setup_fallback(host, policy, 0);
    return host;
}

/* h2o refuses bodies over this before buffering them; the input-limits
 * layer applies each route's own (smaller) limit */
static uint64_t largest_body_limit(const bulwark_policy_t *policy)
{
    uint64_t max = policy->limits.max_body;

    for (size_t i = 0; i != policy->num_routes; ++i)
        if (policy->routes[i].body.max_size > max)
            max = policy->routes[i].body.max_size;
    return max;
}

static int setup_globalconf(struct st_server_t *s, uint16_t https_port)
{
    h2o_globalconf_t *conf = &s->globalconf;
    const bulwark_policy_t *policy = s->policy;

    h2o_config_init(conf);
    /* no Server header: it names the software and its version */
    conf->server_name = h2o_iovec_init(H2O_STRLIT(""));
    conf->max_request_entity_size = largest_body_limit(policy);
    /* HTTP/1.1: the whole head must arrive within header_timeout (slowloris);
     * h2o also uses this timer between keep-alive requests */
    conf->http1.req_timeout = policy->limits.header_timeout_ms;
    conf->http2.idle_timeout = policy->limits.idle_timeout_ms;
    /* HTTP/1.1 heads over these are refused by h2o (patch 0006) before they
     * are parsed whole; the input-limits layer applies them to HTTP/2 */
    conf->http1.max_request_line = policy->limits.max_request_line;
    conf->max_request_headers_size = policy->limits.max_header_bytes;
    /* HTTP/2 only over TLS (ALPN); no cleartext upgrade on the redirect port */
    conf->http1.upgrade_to_http2 = 0;

    if ((s->https_hosts[0] = setup_https_host(conf, s)) == NULL)
        return -1;
    s->http_hosts[0] = setup_http_host(conf, policy, https_port);
    return 0;
}

/* --- connections -------------------------------------------------------- */

static void signal_main(struct st_server_t *s)
{
    pthread_mutex_lock(&s->mutex);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mutex);
}

static void on_connection_close(void *data)
{
    struct st_worker_t *w = data;
    struct st_server_t *s = w->server;

    --w->open_connections;
    if (atomic_fetch_sub(&s->connections, 1) == 1 && atomic_load(&s->phase) != PHASE_RUNNING)
        signal_main(s);
}

static int accept_one(struct st_worker_listener_t *l)
{
    h2o_socket_t *sock = h2o_evloop_socket_accept(l->sock);

    if (sock == NULL)
        return -1;
    ++l->worker->open_connections;
    atomic_fetch_add(&l->worker->server->connections, 1);
    sock->on_close.cb = on_connection_close;
    sock->on_close.data = l->worker;
    h2o_accept(&l->accept_ctx, sock);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct st_worker_listener_t *l = listener->data;

    if (err != NULL)
        return;
    for (size_t i = 0; i != ACCEPT_BATCH; ++i)
        if (accept_one(l) != 0)
            return;
}

/* --- worker -------------------------------------------------------------- */

static void on_wakeup(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    /* the wake-up alone matters: it returns the loop to worker_main, which
     * looks at the phase; no message is ever queued */
}

static void open_listeners(struct st_worker_t *w)
{
    struct st_server_t *s = w->server;

    w->listeners = calloc(s->num_listeners, sizeof(*w->listeners));
    if (w->listeners == NULL)
        h2o_fatal("out of memory");
    for (size_t i = 0; i != s->num_listeners; ++i) {
        bulwark_listener_t *config = s->listeners + i;
        struct st_worker_listener_t *l = w->listeners + i;

        l->worker = w;
        l->accept_ctx.ctx = &w->ctx;
        l->accept_ctx.hosts = config->is_tls ? s->https_hosts : s->http_hosts;
        l->accept_ctx.ssl_ctx = config->is_tls ? bulwark_tls_config(s->tls) : NULL;
        l->sock = h2o_evloop_socket_create(w->ctx.loop, config->fds[w->index], H2O_SOCKET_FLAG_DONT_READ);
        config->fds[w->index] = -1; /* the h2o socket owns it now */
        l->sock->data = l;
        h2o_socket_read_start(l->sock, on_accept);
    }
}

/* Connections the kernel completed before shutdown are answered (HTTP/1.1
 * without keep-alive), not reset by closing the listener under them. */
static void close_listeners(struct st_worker_t *w)
{
    for (size_t i = 0; i != w->server->num_listeners; ++i) {
        struct st_worker_listener_t *l = w->listeners + i;
        while (accept_one(l) == 0)
            ;
        h2o_socket_read_stop(l->sock);
        h2o_socket_close(l->sock);
        l->sock = NULL;
    }
}

/* An HTTP/1.1 connection between requests (none parsed, no bytes buffered
 * or waiting) is closed by shutting down its read side: h2o sees the end of
 * input and closes it through its own path (close_notify included). */
static int close_if_idle(h2o_req_t *req, void *cbdata)
{
    h2o_socket_t *sock;
    char byte;

    if (req->input.method.base != NULL)
        return 0;
    if ((sock = req->conn->callbacks->get_socket(req->conn)) == NULL || sock->input->size != 0)
        return 0;
    int fd = h2o_socket_get_fd(sock);
    if (recv(fd, &byte, 1, MSG_PEEK) > 0)
        return 0;
    shutdown(fd, SHUT_RD);
    return 0;
}

static void on_idle_sweep(h2o_timeout_entry_t *entry)
{
    struct st_worker_t *w = H2O_STRUCT_FROM_MEMBER(struct st_worker_t, idle_sweep, entry);

    w->ctx.globalconf->http1.callbacks.foreach_request(&w->ctx, close_if_idle, NULL);
    h2o_timeout_link(w->ctx.loop, &w->ctx.hundred_ms_timeout, &w->idle_sweep);
}

static void begin_drain(struct st_worker_t *w)
{
    close_listeners(w);
    h2o_context_request_shutdown(&w->ctx);
    w->idle_sweep.cb = on_idle_sweep;
    on_idle_sweep(&w->idle_sweep);
}

/* Runs on the worker's thread (h2o's buffers point at thread-local
 * prototypes, so they must be freed there), once the main thread has sent
 * its last wake-up: the queue it writes to is destroyed here.  With
 * connections left (the drain timed out) the context stays as it is: the
 * process is about to exit. */
static void finish(struct st_worker_t *w)
{
    if (h2o_timeout_is_linked(&w->idle_sweep))
        h2o_timeout_unlink(&w->idle_sweep);
    if (w->open_connections != 0)
        return;
    /* h2o_context_request_shutdown arms the HTTP/2 GOAWAY resend timer even
     * without connections; h2o_context_dispose insists it be gone */
    if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
    h2o_evloop_t *loop = w->ctx.loop;
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->wakeup);
    bulwark_workers_detach(w->server->pool, &w->ctx);
    h2o_context_dispose(&w->ctx);
    h2o_evloop_destroy(loop);
    free(w->listeners);
    w->listeners = NULL;
}

static void report_ready(struct st_server_t *s)
{
    pthread_mutex_lock(&s->mutex);
    ++s->ready_workers;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mutex);
}

static void wait_wakeups_done(struct st_server_t *s)
{
    pthread_mutex_lock(&s->mutex);
    while (!s->wakeups_done)
        pthread_cond_wait(&s->cond, &s->mutex);
    pthread_mutex_unlock(&s->mutex);
}

/* Log lines written while the loop works are batched (log.h) and written
 * when the loop reaches its timeouts, after the I/O of this turn: the zero
 * timeout runs on the turn it was linked in. */
static void on_log_flush(h2o_timeout_entry_t *entry)
{
    (void)entry;
    bulwark_log_flush();
}

static void schedule_log_flush(void *arg)
{
    struct st_worker_t *w = arg;

    if (!h2o_timeout_is_linked(&w->log_flush))
        h2o_timeout_link(w->ctx.loop, &w->ctx.zero_timeout, &w->log_flush);
}

/* the last lines, whatever ends the loop (drained, or the drain timed out) */
static void end_log_batch(struct st_worker_t *w)
{
    if (h2o_timeout_is_linked(&w->log_flush))
        h2o_timeout_unlink(&w->log_flush);
    bulwark_log_batch_end();
}

static void run_while(struct st_worker_t *w, enum phase phase)
{
    while (atomic_load(&w->server->phase) == (int)phase)
        h2o_evloop_run(w->ctx.loop, INT32_MAX);
}

static void *worker_main(void *arg)
{
    struct st_worker_t *w = arg;

    h2o_context_init(&w->ctx, h2o_evloop_create(), &w->server->globalconf);
    bulwark_workers_attach(w->server->pool, &w->ctx);
    h2o_multithread_register_receiver(w->ctx.queue, &w->wakeup, on_wakeup);
    w->log_flush.cb = on_log_flush;
    bulwark_log_batch_begin(schedule_log_flush, w);
    open_listeners(w);
    report_ready(w->server);

    run_while(w, PHASE_RUNNING);
    begin_drain(w);
    run_while(w, PHASE_DRAINING);
    wait_wakeups_done(w->server);
    end_log_batch(w);
    finish(w);
    return NULL;
}

static void wake_workers(struct st_server_t *s)
{
    for (size_t i = 0; i != s->num_workers; ++i)
        if (s->workers[i].started)
            h2o_multithread_send_message(&s->workers[i].wakeup, NULL);
}

/* --- start-up ----------------------------------------------------------- */

static int start_workers(struct st_server_t *s)
{
    pthread_attr_t attr;
    int ret = 0;

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE);
    for (size_t i = 0; i != s->num_workers && ret == 0; ++i) {
        struct st_worker_t *w = s->workers + i;
        w->server = s;
        w->index = i;
        if ((ret = pthread_create(&w->tid, &attr, worker_main, w)) == 0)
            w->started = 1;
    }
    pthread_attr_destroy(&attr);
    if (ret != 0) {
        char msg[ERRBUF_SIZE];
        snprintf(msg, sizeof(msg), "cannot start an event-loop thread: %s", strerror(ret));
        fail(msg);
        return -1;
    }
    return 0;
}

/* Waits until every started worker has its listeners in its loop. */
static void wait_ready(struct st_server_t *s)
{
    size_t started = 0;

    for (size_t i = 0; i != s->num_workers; ++i)
        started += s->workers[i].started;
    pthread_mutex_lock(&s->mutex);
    while (s->ready_workers != started)
        pthread_cond_wait(&s->cond, &s->mutex);
    pthread_mutex_unlock(&s->mutex);
}

static int parse_listeners(struct st_server_t *s, const bulwark_serve_options_t *opts)
{
    char err[ERRBUF_SIZE];

    s->num_listeners = opts->num_https + opts->num_http;
    s->listeners = calloc(s->num_listeners, sizeof(*s->listeners));
    if (s->listeners == NULL) {
        fail("out of memory");
        return -1;
    }
    for (size_t i = 0; i != s->num_listeners; ++i) {
        int is_tls = i < opts->num_https;
        const char *text = is_tls ? opts->https[i] : opts->http[i - opts->num_https];
        if (bulwark_listener_parse(s->listeners + i, text, is_tls, err, sizeof(err)) != 0) {
            fail(err);
            return -1;
        }
    }
    return 0;
}

/* listeners the caller bound (see bulwark_serve_options_t.bound) */
static int adopt_listeners(struct st_server_t *s, const bulwark_serve_options_t *opts)
{
    s->num_listeners = opts->num_bound;
    s->listeners = calloc(s->num_listeners, sizeof(*s->listeners));
    if (s->listeners == NULL) {
        fail("out of memory");
        return -1;
    }
    for (size_t i = 0; i != s->num_listeners; ++i) {
        if (opts->bound[i].num_fds != s->num_workers) {
            fail("a bound listener has one socket per thread, and the thread counts differ");
            return -1;
        }
        s->listeners[i] = opts->bound[i];
    }
    return 0;
}

static int bind_listeners(struct st_server_t *s)
{
    char err[ERRBUF_SIZE];

    for (size_t i = 0; i != s->num_listeners; ++i) {
        if (bulwark_listener_bind(s->listeners + i, s->num_workers, err, sizeof(err)) != 0) {
            fail(err);
            return -1;
        }
    }
    return 0;
}

static int load_tls(struct st_server_t *s, const bulwark_serve_options_t *opts)
{
    const char *cert = opts->cert_file != NULL ? opts->cert_file : s->policy->tls.certificate_file.base;
    const char *key = opts->key_file != NULL ? opts->key_file : s->policy->tls.key_file.base;
    char err[ERRBUF_SIZE];

    if ((s->tls = bulwark_tls_create(cert, key, &s->policy->tls, err, sizeof(err))) == NULL) {
        fail(err);
        return -1;
    }
    return 0;
}

/* the policy loader wants the secrets directory absolute and canonical */
static int resolve_secrets_dir(const char *dir, char *out)
{
    char err[ERRBUF_SIZE];

    if (realpath(dir, out) != NULL) /* Flawfinder: ignore (out is char[PATH_MAX], as realpath requires) */
        return 0;
    snprintf(err, sizeof(err), "secrets directory %s: %s", dir, strerror(errno));
    fail(err);
    return -1;
}

static int load_policy(struct st_server_t *s, const bulwark_serve_options_t *opts)
{
    bulwark_policy_options_t popts = {NULL};
    char err[ERRBUF_SIZE], secrets[PATH_MAX];
    int ret;

    if (opts->secrets_dir != NULL) {
        if (resolve_secrets_dir(opts->secrets_dir, secrets) != 0)
            return -1;
        popts.secrets_mount = secrets;
    }

    if (opts->policy_file != NULL) {
        ret = bulwark_policy_load_file(opts->policy_file, &popts, &s->policy, err, sizeof(err));
    } else {
        size_t len;
        const char *text = bulwark_policy_builtin(&len);
        ret = bulwark_policy_load_buffer(BULWARK_POLICY_BUILTIN_NAME, text, len, &popts, &s->policy, err, sizeof(err));
    }
    if (ret != 0) {
        fail(err);
        return -1;
    }
    return 0;
}

/* the first FAIL of `policy check`, as one line */
static void note_failure(void *arg, const bulwark_check_result_t *r)
{
    char *first = arg;

    if (r->level == BULWARK_CHECK_FAIL && first[0] == '\0')
        bulwark_check_format(first, POLICY_REFUSAL_MAX, r);
}

/* The appliance cannot be misconfigured into an insecure state: a policy
 * that fails a rule of `bulwark policy check` is not served. */
static int check_policy(struct st_server_t *s)
{
    char first[POLICY_REFUSAL_MAX] = "", line[POLICY_REFUSAL_MAX + 128];
    bulwark_check_counts_t counts;

    if (bulwark_policy_check(s->policy, note_failure, first, &counts) == 0)
        return 0;
    snprintf(line, sizeof(line), "policy %s is refused (%u rules fail; `bulwark policy check` lists them): %s",
             s->policy->file.base, counts.fail, first);
    fail(line);
    return -1;
}

static void log_listening(struct st_server_t *s)
{
    char line[BULWARK_LOG_LINE_MAX];
    char (*texts)[BULWARK_NETADDR_TEXT_MAX] = calloc(s->num_listeners, sizeof(*texts));
    const char **https = calloc(s->num_listeners, sizeof(*https)), **http = calloc(s->num_listeners, sizeof(*http));
    size_t num_https = 0, num_http = 0;
    bulwark_json_t j;

    if (texts == NULL || https == NULL || http == NULL)
        h2o_fatal("out of memory");
    for (size_t i = 0; i != s->num_listeners; ++i) {
        bulwark_netaddr_format(texts[i], sizeof(texts[i]), (struct sockaddr *)&s->listeners[i].addr);
        if (s->listeners[i].is_tls)
            https[num_https++] = texts[i];
        else
            http[num_http++] = texts[i];
    }
    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "listening");
    bulwark_json_str_array(&j, "https", https, num_https);
    bulwark_json_str_array(&j, "http", http, num_http);
    bulwark_json_int(&j, "threads", (long long)s->num_workers);
    bulwark_json_cstr(&j, "version", BULWARK_VERSION);
    bulwark_log_emit(&j);
    free(texts);
    free(https);
    free(http);
}

/* --- shutdown ----------------------------------------------------------- */

static const char *signal_name(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal";
}

static int wait_for_signal(const sigset_t *set)
{
    int sig;

    while (sigwait(set, &sig) != 0)
        ;
    return sig;
}

static void log_shutdown(int sig)
{
    char line[256];
    bulwark_json_t j;

    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "shutdown");
    bulwark_json_cstr(&j, "reason", signal_name(sig));
    bulwark_log_emit(&j);
}

static void log_drain_timeout(size_t open_connections)
{
    char line[256];
    bulwark_json_t j;

    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "drain_timeout");
    bulwark_json_int(&j, "open_connections", (long long)open_connections);
    bulwark_log_emit(&j);
}

/* Waits until the last connection is gone; 0, or -1 on the deadline. */
static int wait_drained(struct st_server_t *s)
{
    struct timespec deadline;
    int ret = 0;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += DRAIN_TIMEOUT_SECONDS;
    pthread_mutex_lock(&s->mutex);
    while (atomic_load(&s->connections) != 0 && ret != ETIMEDOUT)
        ret = pthread_cond_timedwait(&s->cond, &s->mutex, &deadline);
    pthread_mutex_unlock(&s->mutex);
    return atomic_load(&s->connections) == 0 ? 0 : -1;
}

static void stop_workers(struct st_server_t *s)
{
    atomic_store(&s->phase, PHASE_STOPPING);
    wake_workers(s);
    pthread_mutex_lock(&s->mutex);
    s->wakeups_done = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mutex);
    for (size_t i = 0; i != s->num_workers; ++i)
        if (s->workers[i].started)
            pthread_join(s->workers[i].tid, NULL);
}

static void drain(struct st_server_t *s)
{
    atomic_store(&s->phase, PHASE_DRAINING);
    wake_workers(s);
    if (wait_drained(s) != 0)
        log_drain_timeout(atomic_load(&s->connections));
    stop_workers(s);
}

/* --- the whole ---------------------------------------------------------- */

static int init_server(struct st_server_t *s, size_t threads)
{
    pthread_condattr_t cattr;

    memset(s, 0, sizeof(*s));
    atomic_init(&s->phase, PHASE_RUNNING);
    atomic_init(&s->connections, 0);
    pthread_mutex_init(&s->mutex, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &cattr);
    pthread_condattr_destroy(&cattr);
    s->num_workers = threads;
    s->workers = calloc(threads, sizeof(*s->workers));
    if (s->workers == NULL) {
        fail("out of memory");
        return -1;
    }
    return 0;
}

static void dispose_server(struct st_server_t *s)
{
    for (size_t i = 0; i != s->num_listeners; ++i)
        bulwark_listener_dispose(s->listeners + i);
    free(s->listeners);
    if (s->globalconf_ready)
        h2o_config_dispose(&s->globalconf);
    bulwark_tls_destroy(s->tls);
    if (s->pool != NULL)
        bulwark_workers_free(s->pool);
    if (s->demo_api != NULL)
        bulwark_demo_api_free(s->demo_api);
    if (s->auth != NULL)
        bulwark_auth_free(s->auth);
    if (s->ratelimiter != NULL)
        bulwark_ratelimiter_free(s->ratelimiter);
    bulwark_policy_free(s->policy);
    free(s->workers);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mutex);
}

/* The policy's layers that hold state: each says why in one line when it
 * cannot start. Secret paths are already resolved by the policy loader. */
static int start_layers(struct st_server_t *s)
{
    char err[ERRBUF_SIZE];

    if ((s->ratelimiter = bulwark_ratelimiter_new(s->policy, err, sizeof(err))) == NULL ||
        (s->auth = bulwark_auth_new(s->policy, NULL, err, sizeof(err))) == NULL ||
        (s->pool = bulwark_workers_new(bulwark_workers_default_threads(), err, sizeof(err))) == NULL ||
        (s->demo_api = bulwark_demo_api_new(s->policy, NULL, s->pool, err, sizeof(err))) == NULL) {
        fail(err);
        return -1;
    }
    return 0;
}

/* everything up to the first accepted connection; -1 after saying why */
static int start(struct st_server_t *s, const bulwark_serve_options_t *opts)
{
    if (bulwark_crypto_init() != 0) {
        fail("cannot initialise PSA crypto (no entropy source?)");
        return -1;
    }
    /* jansson's hash seed (hash-flooding defence) from the DRBG-backed
     * source, before any thread parses JSON */
    json_object_seed(0);
    if (load_policy(s, opts) != 0 || check_policy(s) != 0)
        return -1;
    if (opts->bound != NULL) {
        if (adopt_listeners(s, opts) != 0 || load_tls(s, opts) != 0)
            return -1;
    } else if (parse_listeners(s, opts) != 0 || load_tls(s, opts) != 0 || bind_listeners(s) != 0) {
        return -1;
    }
    if (start_layers(s) != 0)
        return -1;
    /* redirects go to the first HTTPS listener's port */
    s->globalconf_ready = 1;
    return setup_globalconf(s, bulwark_listener_port(s->listeners));
}

size_t bulwark_serve_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > BULWARK_SERVE_THREADS_MAX ? BULWARK_SERVE_THREADS_MAX : (size_t)n;
}

/* the caller's last word on what the process may do, before it serves */
static int confine(const bulwark_serve_options_t *opts)
{
    char err[ERRBUF_SIZE];

    if (opts->confine == NULL || opts->confine(opts->hook_arg, err, sizeof(err)) == 0)
        return 0;
    fail(err);
    return -1;
}

int bulwark_serve(const bulwark_serve_options_t *opts)
{
    struct st_server_t server, *s = &server;
    sigset_t signals;
    int status = 0;

    /* blocked before any thread exists, so every thread inherits the mask
     * and the signals wait for sigwait below, even during start-up */
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    (void)signal(SIGPIPE, SIG_IGN); /* fails only for an invalid signal number */

    if (init_server(s, opts->threads) != 0)
        return 1;
    if (start(s, opts) != 0 || confine(opts) != 0) {
        dispose_server(s);
        mbedtls_psa_crypto_free();
        return 1;
    }
    if (start_workers(s) != 0) {
        wait_ready(s);
        stop_workers(s);
        status = 1;
    } else {
        wait_ready(s);
        log_listening(s);
        if (opts->on_ready != NULL)
            opts->on_ready(opts->hook_arg);
        log_shutdown(wait_for_signal(&signals));
        drain(s);
    }
    dispose_server(s);
    mbedtls_psa_crypto_free();
    if (status == 0)
        bulwark_log_event("stopped");
    return status;
}
