/*
 * The demo API: loading, dispatch and the small routes; see demo_api.h.
 * Login is demo_login.c, items demo_items.c, users.json demo_users.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../log.h"
#include "../reqid.h"
#include "reply.h"
#include "demo_internal.h"

/* The demo bodies are a few short strings. A bound far below the route's
 * body limit keeps jansson's recursive parser off deeply nested input in
 * case the input-limits layer is configured off. */
#define DEMO_BODY_MAX (16 * 1024)

#define DETAIL_INVALID_BODY "Invalid request body"
/* the same answer whether or not an account has that address */
#define PASSWORD_RESET_BODY "{\"detail\":\"If the address belongs to an account, a reset link has been sent\"}"

struct st_bulwark_demo_handler_t {
    h2o_handler_t super;
    bulwark_demo_api_t *api;
};

/* --- helpers (demo_internal.h) ------------------------------------------- */

json_t *bulwark_demo_body(h2o_req_t *req)
{
    json_error_t e;
    json_t *v;

    if (req->entity.base == NULL || req->entity.len > DEMO_BODY_MAX)
        return NULL;
    v = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &e);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

const char *bulwark_demo_string(json_t *obj, const char *key, size_t *len)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

void bulwark_demo_reply_value(h2o_req_t *req, int status, const char *reason, json_t *v)
{
    size_t len = v != NULL ? json_dumpb(v, NULL, 0, JSON_COMPACT) : 0;
    char *buf = len != 0 ? h2o_mem_alloc_pool(&req->pool, len) : NULL;

    if (buf == NULL || json_dumpb(v, buf, len, JSON_COMPACT) != len) {
        json_decref(v);
        bulwark_reply_detail(req, 500, "Internal Server Error", "Internal server error");
        return;
    }
    json_decref(v);
    bulwark_reply_json(req, status, reason, h2o_iovec_init(buf, len));
}

void bulwark_demo_reply_invalid_body(h2o_req_t *req)
{
    bulwark_reply_detail(req, 422, "Unprocessable Entity", DETAIL_INVALID_BODY);
}

void bulwark_demo_reply_not_found(h2o_req_t *req)
{
    bulwark_reply_detail(req, 404, "Not Found", "Not Found");
}

void bulwark_demo_log(h2o_req_t *req, const char *event, const char *key, const char *value, size_t len)
{
    char line[BULWARK_LOG_LINE_MAX];
    bulwark_json_t j;
    h2o_iovec_t id = bulwark_reqid(req);

    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, event);
    bulwark_json_str(&j, "request_id", id.base, id.len);
    if (key != NULL)
        bulwark_json_str(&j, key, value, len);
    bulwark_log_emit(&j);
}

/* --- the small routes ------------------------------------------------------ */

static int jwks(bulwark_demo_api_t *api, h2o_req_t *req)
{
    if (api->jwks == NULL)
        return -1;
    bulwark_reply_json(req, 200, "OK", h2o_iovec_init(api->jwks, api->jwks_len));
    return 0;
}

/* No mail leaves the appliance: the request is logged without the address
 * (it is personal data, and the log would become an account oracle). */
static int password_reset(h2o_req_t *req)
{
    json_t *body = bulwark_demo_body(req);
    size_t len;

    if (body == NULL || bulwark_demo_string(body, "email", &len) == NULL) {
        json_decref(body);
        bulwark_demo_reply_invalid_body(req);
        return 0;
    }
    json_decref(body);
    bulwark_demo_log(req, "password_reset_requested", NULL, NULL, 0);
    bulwark_reply_json(req, 202, "Accepted", h2o_iovec_init(H2O_STRLIT(PASSWORD_RESET_BODY)));
    return 0;
}

static int users_me(h2o_req_t *req, const bulwark_reqctx_t *ctx)
{
    json_t *scopes, *v;

    if (ctx->auth.state != BULWARK_AUTH_VALID) {
        bulwark_reply_detail(req, 401, "Unauthorized", "Not authenticated");
        return 0;
    }
    scopes = json_array();
    for (size_t i = 0; scopes != NULL && i != ctx->auth.num_scopes; ++i)
        json_array_append_new(scopes, json_stringn(ctx->auth.scopes[i].base, ctx->auth.scopes[i].len));
    v = json_pack("{s:s%,s:o}", "username", ctx->auth.subject.base, ctx->auth.subject.len, "scopes", scopes);
    bulwark_demo_reply_value(req, 200, "OK", v);
    return 0;
}

/* The demo keeps its users: 204 says the deletion was accepted, and the
 * next login still works (the demo identity is fixed at build time; a
 * deletion that lasted until restart would make the demo order-dependent). */
static int admin_user_delete(bulwark_demo_api_t *api, h2o_req_t *req, const bulwark_reqctx_t *ctx)
{
    const bulwark_demo_user_t *user;

    if (ctx->num_params != 1 || !api->has_users ||
        (user = bulwark_demo_users_find(&api->users, ctx->params[0].base, ctx->params[0].len)) == NULL) {
        bulwark_demo_reply_not_found(req);
        return 0;
    }
    bulwark_demo_log(req, "user_delete_requested", "user", user->name, strlen(user->name));
    req->res.status = 204;
    req->res.reason = "No Content";
    h2o_send_inline(req, NULL, 0);
    return 0;
}

/* --- dispatch ---------------------------------------------------------------- */

static int method_allowed(h2o_req_t *req, const bulwark_route_t *route)
{
    static const struct {
        const char *name;
        size_t len;
        unsigned bit;
    } methods[] = {
        /* GET implies HEAD (policy.h) */
        {H2O_STRLIT("GET"), BULWARK_METHOD_GET},       {H2O_STRLIT("HEAD"), BULWARK_METHOD_GET | BULWARK_METHOD_HEAD},
        {H2O_STRLIT("POST"), BULWARK_METHOD_POST},     {H2O_STRLIT("PUT"), BULWARK_METHOD_PUT},
        {H2O_STRLIT("PATCH"), BULWARK_METHOD_PATCH},   {H2O_STRLIT("DELETE"), BULWARK_METHOD_DELETE},
    };

    for (size_t i = 0; i != sizeof(methods) / sizeof(methods[0]); ++i)
        if (h2o_memis(req->method.base, req->method.len, methods[i].name, methods[i].len))
            return (route->methods & methods[i].bit) != 0;
    return 0;
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    bulwark_demo_api_t *api = ((struct st_bulwark_demo_handler_t *)_self)->api;
    bulwark_reqctx_t *ctx = bulwark_reqctx(req);
    const bulwark_route_t *route = ctx->route;

    /* the router answers 405; this is only a guard against a wrong match */
    if (route == NULL || route->kind != BULWARK_ROUTE_BUILTIN || !method_allowed(req, route))
        return -1;
    switch (route->builtin) {
    case BULWARK_BUILTIN_JWKS:
        return jwks(api, req);
    case BULWARK_BUILTIN_LOGIN:
        return bulwark_demo_login(api, req);
    case BULWARK_BUILTIN_PASSWORD_RESET:
        return password_reset(req);
    case BULWARK_BUILTIN_USERS_ME:
        return users_me(req, ctx);
    case BULWARK_BUILTIN_ITEMS_GET:
        return bulwark_demo_items_get(api, req, ctx);
    case BULWARK_BUILTIN_ITEMS_CREATE:
        return bulwark_demo_items_create(api, req, ctx);
    case BULWARK_BUILTIN_ADMIN_USER_DELETE:
        return admin_user_delete(api, req, ctx);
    default:
        return -1; /* healthz has its own handler */
    }
}

void bulwark_demo_api_register(h2o_pathconf_t *pathconf, bulwark_demo_api_t *api)
{
    struct st_bulwark_demo_handler_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_req;
    self->api = api;
}

/* --- start-up ------------------------------------------------------------------ */

static int load_jwks(bulwark_demo_api_t *api, const char *secrets_dir, char *err, size_t errlen)
{
    const bulwark_policy_auth_t *a = &api->policy->auth;
    bulwark_jwt_keyset_t ks;
    char path[PATH_MAX], keyerr[BULWARK_KEY_ERR_MAX] = "the key file's path is too long";
    int ret = 0;

    bulwark_jwt_keyset_init(&ks);
    for (size_t i = 0; i != a->num_keys && ret == 0; ++i) {
        if (bulwark_policy_secret_path(path, sizeof(path), api->policy, secrets_dir, &a->keys[i].file) != 0 ||
            bulwark_jwt_keyset_add_file(&ks, path, a->keys[i].kid.base, keyerr, sizeof(keyerr)) != 0) {
            snprintf(err, errlen, "auth.keys[%zu] (%s): %s", i, a->keys[i].kid.base, keyerr);
            ret = -1;
        }
    }
    if (ret == 0 && (api->jwks = bulwark_jwt_keyset_jwks(&ks)) == NULL) {
        snprintf(err, errlen, "out of memory");
        ret = -1;
    }
    if (ret == 0)
        api->jwks_len = strlen(api->jwks);
    bulwark_jwt_keyset_free(&ks);
    return ret;
}

static int load_signer(bulwark_demo_api_t *api, const char *secrets_dir, char *err, size_t errlen)
{
    const bulwark_jwt_key_t *key = api->policy->auth.keys + api->policy->auth.signing_key;
    char path[PATH_MAX], keyerr[BULWARK_KEY_ERR_MAX] = "the key file's path is too long";

    if (bulwark_policy_secret_path(path, sizeof(path), api->policy, secrets_dir, &key->file) != 0 ||
        bulwark_jwt_signer_load_file(&api->signer, path, key->kid.base, keyerr, sizeof(keyerr)) != 0) {
        snprintf(err, errlen, "auth.signing_key (%s): %s", key->kid.base, keyerr);
        return -1;
    }
    api->has_signer = 1;
    return 0;
}

static int load_users(bulwark_demo_api_t *api, const char *secrets_dir, char *err, size_t errlen)
{
    char path[PATH_MAX];

    if (bulwark_policy_secret_path(path, sizeof(path), api->policy, secrets_dir, &api->policy->auth.users_file) != 0) {
        snprintf(err, errlen, "auth.users_file: the path is too long");
        return -1;
    }
    if (bulwark_demo_users_load(&api->users, path, err, errlen) != 0)
        return -1;
    api->has_users = 1;
    return 0;
}

static int load_all(bulwark_demo_api_t *api, const char *secrets_dir, char *err, size_t errlen)
{
    const bulwark_policy_auth_t *a = &api->policy->auth;

    if (bulwark_demo_items_init(&api->items, err, errlen) != 0)
        return -1;
    if (!a->enabled)
        return 0;
    if (load_jwks(api, secrets_dir, err, errlen) != 0)
        return -1;
    if (a->signing_key != BULWARK_NO_KEY && load_signer(api, secrets_dir, err, errlen) != 0)
        return -1;
    if (a->users_file.len != 0 && load_users(api, secrets_dir, err, errlen) != 0)
        return -1;
    if (api->has_users && api->workers == NULL) {
        snprintf(err, errlen, "the builtin login needs the worker pool (internal error)");
        return -1;
    }
    return 0;
}

bulwark_demo_api_t *bulwark_demo_api_new(const bulwark_policy_t *policy, const char *secrets_dir,
                                         bulwark_workers_t *workers, char *err, size_t errlen)
{
    bulwark_demo_api_t *api = calloc(1, sizeof(*api));

    if (api == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    api->policy = policy;
    api->workers = workers;
    if (load_all(api, secrets_dir, err, errlen) != 0) {
        bulwark_demo_api_free(api);
        return NULL;
    }
    return api;
}

void bulwark_demo_api_free(bulwark_demo_api_t *api)
{
    if (api == NULL)
        return;
    if (api->has_signer)
        bulwark_jwt_signer_free(&api->signer);
    if (api->has_users)
        bulwark_demo_users_free(&api->users);
    bulwark_demo_items_dispose(&api->items);
    free(api->jwks);
    free(api);
}
