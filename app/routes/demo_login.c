/*
 * POST /api/auth/login: {"username", "password"} -> an ES256 access token.
 *
 * A wrong user and a wrong password get the same 401 after the same work:
 * an unknown name runs bulwark_password_dummy_verify() at the dearest
 * stored iteration count (DEFAULT-POLICY.md: same answer, similar time).
 *
 * PBKDF2 runs on the worker pool. The request may end while its job runs
 * (an HTTP/2 client resets the stream; h2o 2.2.5 has no cancel callback):
 * a guard allocated in the request's pool is disposed with the request and
 * cuts the job's link to it, so the job's completion then only frees
 * itself. Both ends run on the request's loop thread, so the link needs no
 * lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/platform_util.h>
#include "../log.h"
#include "reply.h"
#include "demo_internal.h"

#define DETAIL_INVALID_CREDENTIALS "Invalid credentials"
#define DETAIL_BUSY "Service busy, try again later"
#define DETAIL_INTERNAL "Internal server error"
/* what a client waits before trying again when the hashing queue is full:
 * about the time the pool takes to work through a full queue per thread */
#define BUSY_RETRY_AFTER "10"
#define TOKEN_TYPE "bearer"

typedef enum en_login_outcome_t {
    LOGIN_DENIED,
    LOGIN_OK,
    LOGIN_FAILED, /* signing failed: PSA or memory */
} login_outcome_t;

struct st_login_guard_t;

typedef struct st_login_t {
    bulwark_workers_job_t job;
    bulwark_demo_api_t *api;
    h2o_req_t *req; /* NULL once the request is gone */
    struct st_login_guard_t *guard;
    const bulwark_demo_user_t *user; /* NULL: no such user */
    char password[BULWARK_PASSWORD_MAX_LEN];
    size_t password_len;
    login_outcome_t outcome;
    char token[BULWARK_JWT_TOKEN_MAX + 1];
    size_t token_len;
} login_t;

struct st_login_guard_t {
    login_t *login; /* NULL once the login has answered */
};

/* --- on a worker thread -------------------------------------------------- */

static login_outcome_t issue_token(login_t *l)
{
    const bulwark_policy_auth_t *a = &l->api->policy->auth;
    bulwark_jwt_mint_t mint = {
        .iss = a->issuer.base,
        .aud = a->audience.base,
        .sub = l->user->name,
        .scope = l->user->scope,
        .now = (int64_t)time(NULL),
        .ttl_s = a->token_lifetime_s,
    };

    if (bulwark_jwt_sign(&l->api->signer, &mint, l->token, sizeof(l->token), &l->token_len) != BULWARK_JWT_SIGN_OK)
        return LOGIN_FAILED;
    return LOGIN_OK;
}

static void run_login(bulwark_workers_job_t *job)
{
    login_t *l = (login_t *)job;
    bulwark_password_status_t st = BULWARK_PASSWORD_MISMATCH;

    if (l->user != NULL)
        st = bulwark_password_check(&l->user->hash, l->password, l->password_len);
    else
        bulwark_password_dummy_verify(l->api->users.dummy_iterations, l->password, l->password_len);
    mbedtls_platform_zeroize(l->password, sizeof(l->password));
    l->outcome = st == BULWARK_PASSWORD_OK ? issue_token(l) : LOGIN_DENIED;
}

/* --- back on the loop ---------------------------------------------------- */

static void reply_token(login_t *l, h2o_req_t *req)
{
    static const char fmt[] = "{\"access_token\":\"%s\",\"token_type\":\"" TOKEN_TYPE "\",\"expires_in\":%u}";
    size_t cap = sizeof(fmt) + l->token_len + sizeof("4294967295");
    char *body = h2o_mem_alloc_pool(&req->pool, cap);
    /* Flawfinder: ignore (fmt: the literal above) */
    int n = snprintf(body, cap, fmt, l->token, (unsigned)l->api->policy->auth.token_lifetime_s);

    /* RFC 6749 §5.1: token responses are never cached */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    bulwark_demo_log(req, "login", "user", l->user->name, strlen(l->user->name));
    bulwark_reply_json(req, 200, "OK", h2o_iovec_init(body, (size_t)n));
}

static void reply_denied(h2o_req_t *req)
{
    /* RFC 9110 §15.5.2: a 401 carries a challenge */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
    bulwark_demo_log(req, "login_failed", NULL, NULL, 0);
    bulwark_reply_detail(req, 401, "Unauthorized", DETAIL_INVALID_CREDENTIALS);
}

static void free_login(login_t *l)
{
    mbedtls_platform_zeroize(l, sizeof(*l));
    free(l);
}

static void on_login_done(bulwark_workers_job_t *job)
{
    login_t *l = (login_t *)job;
    h2o_req_t *req = l->req;

    if (req == NULL) {
        free_login(l);
        return;
    }
    l->guard->login = NULL;
    switch (l->outcome) {
    case LOGIN_OK:
        reply_token(l, req);
        break;
    case LOGIN_DENIED:
        reply_denied(req);
        break;
    default:
        bulwark_demo_log(req, "login_error", NULL, NULL, 0);
        bulwark_reply_detail(req, 500, "Internal Server Error", DETAIL_INTERNAL);
        break;
    }
    free_login(l);
}

static void on_request_disposed(void *data)
{
    struct st_login_guard_t *guard = data;

    if (guard->login != NULL)
        guard->login->req = NULL;
}

/* --- the handler ---------------------------------------------------------- */

static login_t *new_login(bulwark_demo_api_t *api, h2o_req_t *req, const char *name, size_t name_len,
                          const char *password, size_t password_len)
{
    login_t *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->job.run = run_login;
    l->job.done = on_login_done;
    l->api = api;
    l->req = req;
    l->user = bulwark_demo_users_find(&api->users, name, name_len);
    memcpy(l->password, password, password_len);
    l->password_len = password_len;
    return l;
}

static void reply_busy(h2o_req_t *req)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT(BUSY_RETRY_AFTER));
    bulwark_demo_log(req, "login_busy", NULL, NULL, 0);
    bulwark_reply_detail(req, 503, "Service Unavailable", DETAIL_BUSY);
}

static void start_login(bulwark_demo_api_t *api, h2o_req_t *req, const char *name, size_t name_len,
                        const char *password, size_t password_len)
{
    login_t *l = new_login(api, req, name, name_len, password, password_len);

    if (l == NULL) {
        bulwark_reply_detail(req, 500, "Internal Server Error", DETAIL_INTERNAL);
        return;
    }
    l->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*l->guard), on_request_disposed);
    l->guard->login = l;
    if (bulwark_workers_submit(api->workers, req->conn->ctx, &l->job) != 0) {
        l->guard->login = NULL;
        free_login(l);
        reply_busy(req);
    }
}

int bulwark_demo_login(bulwark_demo_api_t *api, h2o_req_t *req)
{
    json_t *body;
    const char *name, *password;
    size_t name_len, password_len;

    if (!api->has_users || !api->has_signer)
        return -1;
    if ((body = bulwark_demo_body(req)) == NULL || (name = bulwark_demo_string(body, "username", &name_len)) == NULL ||
        (password = bulwark_demo_string(body, "password", &password_len)) == NULL) {
        json_decref(body);
        bulwark_demo_reply_invalid_body(req);
        return 0;
    }
    /* too long to be anyone's password, whoever the user: no work to time */
    if (password_len > BULWARK_PASSWORD_MAX_LEN)
        reply_denied(req);
    else
        start_login(api, req, name, name_len, password, password_len);
    json_decref(body);
    return 0;
}
