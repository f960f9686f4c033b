/*
 * Authentication (bearer JWTs, RFC 6750) and authorization (scopes, owner
 * rules) of policy routes; see auth.h.
 *
 * The token is verified once per request, whoever asks first (the rate
 * limiter for subject-keyed limits, or the handler below), and the outcome
 * is kept in ctx->auth. Clients are told only 401, 403 or 404; the precise
 * reason goes to ctx->auth.reason and to one "auth_denied" log line.
 *
 * Ownership: a builtin route's handler decides who owns its resource (the
 * demo items know their owners), so the equality rule below applies to
 * static and proxy routes only (policy/SCHEMA.md, routes[].owner).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "../crypto/jwt.h"
#include "../log.h"
#include "../reqid.h"
#include "../routes/reply.h"
#include "auth.h"

#define BEARER_SCHEME "Bearer"

/* where resolve keeps the route's owner claim (one not already held as the
 * subject) for the authorization step: h2o's per-request variables */
#define OWNER_CLAIM_ENV "bulwark.auth.owner_claim"

#define DETAIL_MISSING "Not authenticated"
#define DETAIL_INVALID "Invalid token"
#define DETAIL_SCOPE "Insufficient scope"
#define DETAIL_NOT_FOUND "Not Found"

/* RFC 6750 §3: no error code when the request carried no credentials
 * (§3.1), invalid_token for a rejected one, insufficient_scope on 403 */
#define CHALLENGE_MISSING "Bearer"
#define CHALLENGE_INVALID "Bearer error=\"invalid_token\""
#define CHALLENGE_SCOPE "Bearer error=\"insufficient_scope\""

/* reasons of our own, beside bulwark_jwt_reason_name()'s */
#define REASON_MISSING "missing"
#define REASON_REPEATED "authorization_repeated"
#define REASON_SCHEME "scheme_not_bearer"
#define REASON_SYNTAX "token_syntax"
#define REASON_DISABLED "auth_disabled"
#define REASON_SCOPE "insufficient_scope"
#define REASON_OWNER "owner_mismatch"

struct st_bulwark_auth_t {
    int enabled;
    bulwark_jwt_keyset_t keys;
    bulwark_jwt_expect_t expect; /* `now` is set per request */
};

struct st_bulwark_auth_handler_t {
    h2o_handler_t super;
    bulwark_auth_t *auth;
};

/* --- start-up ------------------------------------------------------------ */

static int check_settings(const bulwark_policy_auth_t *a, char *err, size_t errlen)
{
    unsigned others = a->algorithms & ~(1u << BULWARK_JWT_ES256);

    for (int alg = 0; alg != BULWARK_JWT_ALG_COUNT_; ++alg) {
        if (others & (1u << alg)) {
            snprintf(err, errlen, "auth.algorithms: %s is not supported (only ES256 is); remove it from the policy",
                     bulwark_jwt_alg_name((bulwark_jwt_alg_t)alg));
            return -1;
        }
    }
    if (a->leeway_s > BULWARK_JWT_LEEWAY_MAX) {
        snprintf(err, errlen, "auth.leeway: %u s is over the %d s maximum; lower it", (unsigned)a->leeway_s,
                 BULWARK_JWT_LEEWAY_MAX);
        return -1;
    }
    return 0;
}

static int load_keys(bulwark_auth_t *auth, const bulwark_policy_t *policy, const char *secrets_dir, char *err,
                     size_t errlen)
{
    char path[PATH_MAX], keyerr[BULWARK_KEY_ERR_MAX];

    for (size_t i = 0; i != policy->auth.num_keys; ++i) {
        const bulwark_jwt_key_t *key = policy->auth.keys + i;
        if (key->alg != BULWARK_JWT_ES256) {
            snprintf(err, errlen, "auth.keys[%zu] (%s): alg %s is not supported (only ES256 is)", i, key->kid.base,
                     bulwark_jwt_alg_name(key->alg));
            return -1;
        }
        if (bulwark_policy_secret_path(path, sizeof(path), policy, secrets_dir, &key->file) != 0) {
            snprintf(err, errlen, "auth.keys[%zu] (%s): the key file's path is too long", i, key->kid.base);
            return -1;
        }
        if (bulwark_jwt_keyset_add_file(&auth->keys, path, key->kid.base, keyerr, sizeof(keyerr)) != 0) {
            snprintf(err, errlen, "auth.keys[%zu] (%s): %s", i, key->kid.base, keyerr);
            return -1;
        }
    }
    return 0;
}

bulwark_auth_t *bulwark_auth_new(const bulwark_policy_t *policy, const char *secrets_dir, char *err, size_t errlen)
{
    const bulwark_policy_auth_t *a = &policy->auth;
    bulwark_auth_t *auth = calloc(1, sizeof(*auth));

    if (auth == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bulwark_jwt_keyset_init(&auth->keys);
    if (!a->enabled)
        return auth;
    if (check_settings(a, err, errlen) != 0 || load_keys(auth, policy, secrets_dir, err, errlen) != 0) {
        bulwark_auth_free(auth);
        return NULL;
    }
    auth->enabled = 1;
    /* the policy outlives the service, and with it these strings */
    auth->expect = (bulwark_jwt_expect_t){
        .iss = a->issuer.base,
        .aud = a->audience.base,
        .leeway_s = a->leeway_s,
        .allowed_algs = BULWARK_JWT_ALLOW_ES256,
        .typ = a->typ.len != 0 ? a->typ.base : NULL,
    };
    return auth;
}

void bulwark_auth_free(bulwark_auth_t *auth)
{
    if (auth == NULL)
        return;
    bulwark_jwt_keyset_free(&auth->keys);
    free(auth);
}

/* --- resolving the credentials ------------------------------------------ */

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int is_b64token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~' || c == '+' || c == '/';
}

static int is_b64token(const char *s, size_t len)
{
    size_t i = 0;

    while (i != len && is_b64token_char(s[i]))
        ++i;
    if (i == 0)
        return 0;
    while (i != len && s[i] == '=')
        ++i;
    return i == len;
}

/* the one Authorization header's value; {NULL, 0} and *repeated when there
 * are several */
static h2o_iovec_t authorization_of(h2o_req_t *req, int *repeated)
{
    ssize_t first = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);

    *repeated = 0;
    if (first == -1)
        return h2o_iovec_init(NULL, 0);
    if (h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, first) != -1) {
        *repeated = 1;
        return h2o_iovec_init(NULL, 0);
    }
    return req->headers.entries[first].value;
}

/* The token of "Bearer <token>" (scheme case-insensitive, RFC 7235 §2.1,
 * then one or more spaces); NULL and *reason when it is not one. */
static const char *bearer_token(h2o_iovec_t value, size_t *len, const char **reason)
{
    size_t scheme_len = sizeof(BEARER_SCHEME) - 1, i = scheme_len;

    if (value.len <= scheme_len || strncasecmp(value.base, BEARER_SCHEME, scheme_len) != 0 || value.base[i] != ' ') {
        *reason = REASON_SCHEME;
        return NULL;
    }
    while (i != value.len && value.base[i] == ' ')
        ++i;
    *len = value.len - i;
    if (*len > BULWARK_JWT_TOKEN_MAX) {
        *reason = bulwark_jwt_reason_name(BULWARK_JWT_ERR_TOO_LARGE);
        return NULL;
    }
    if (!is_b64token(value.base + i, *len)) {
        *reason = REASON_SYNTAX;
        return NULL;
    }
    return value.base + i;
}

static h2o_iovec_t pool_copy(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    return h2o_strdup(pool, s, len);
}

/* the route's owner claim, when it is not `sub` (held as the subject) */
static void keep_owner_claim(h2o_req_t *req, const bulwark_reqctx_t *ctx, const bulwark_jwt_claims_t *claims)
{
    const bulwark_route_t *route = ctx->route;
    const char *value;
    size_t len;

    if (route == NULL || route->owner_segment == BULWARK_NO_PARAM)
        return;
    if (h2o_memis(route->owner_claim.base, route->owner_claim.len, H2O_STRLIT("sub")))
        return;
    if ((value = bulwark_jwt_claim_string(claims, route->owner_claim.base, &len)) == NULL)
        return;
    *h2o_req_getenv(req, H2O_STRLIT(OWNER_CLAIM_ENV), 1) = pool_copy(&req->pool, value, len);
}

static void keep_claims(h2o_req_t *req, bulwark_reqctx_t *ctx, const bulwark_jwt_claims_t *claims)
{
    ctx->auth.subject = pool_copy(&req->pool, claims->sub, strlen(claims->sub));
    ctx->auth.num_scopes = 0;
    for (size_t i = 0; i != claims->num_scopes && i != BULWARK_REQCTX_SCOPES_MAX; ++i)
        ctx->auth.scopes[ctx->auth.num_scopes++] =
            pool_copy(&req->pool, claims->scope + claims->scope_off[i], claims->scope_len[i]);
    keep_owner_claim(req, ctx, claims);
}

static bulwark_auth_state_t settle(bulwark_reqctx_t *ctx, bulwark_auth_state_t state, const char *reason)
{
    ctx->auth.state = state;
    ctx->auth.reason = reason;
    return state;
}

static bulwark_auth_state_t verify(bulwark_auth_t *auth, h2o_req_t *req, bulwark_reqctx_t *ctx, const char *token,
                                   size_t len)
{
    bulwark_jwt_expect_t expect = auth->expect;
    bulwark_jwt_claims_t claims;
    bulwark_jwt_reason_t r;

    expect.now = (int64_t)time(NULL);
    r = bulwark_jwt_verify(token, len, &auth->keys, &expect, &claims);
    if (r == BULWARK_JWT_OK)
        keep_claims(req, ctx, &claims);
    bulwark_jwt_claims_free(&claims);
    if (r != BULWARK_JWT_OK)
        return settle(ctx, BULWARK_AUTH_INVALID, bulwark_jwt_reason_name(r));
    return settle(ctx, BULWARK_AUTH_VALID, NULL);
}

bulwark_auth_state_t bulwark_auth_resolve(bulwark_auth_t *auth, h2o_req_t *req, bulwark_reqctx_t *ctx)
{
    const char *token, *reason = NULL;
    h2o_iovec_t value;
    size_t len = 0;
    int repeated;

    if (ctx->auth.state != BULWARK_AUTH_UNRESOLVED)
        return ctx->auth.state;
    value = authorization_of(req, &repeated);
    if (repeated)
        return settle(ctx, BULWARK_AUTH_INVALID, REASON_REPEATED);
    if (value.base == NULL)
        return settle(ctx, BULWARK_AUTH_NONE, REASON_MISSING);
    if (!auth->enabled)
        return settle(ctx, BULWARK_AUTH_INVALID, REASON_DISABLED);
    if ((token = bearer_token(value, &len, &reason)) == NULL)
        return settle(ctx, BULWARK_AUTH_INVALID, reason);
    return verify(auth, req, ctx, token, len);
}

/* --- authorization ------------------------------------------------------- */

static int has_scope(const bulwark_reqctx_t *ctx, const bulwark_str_t *scope)
{
    for (size_t i = 0; i != ctx->auth.num_scopes; ++i)
        if (h2o_memis(ctx->auth.scopes[i].base, ctx->auth.scopes[i].len, scope->base, scope->len))
            return 1;
    return 0;
}

static int has_all_scopes(const bulwark_reqctx_t *ctx, const bulwark_route_t *route)
{
    for (size_t i = 0; i != route->num_scopes; ++i)
        if (!has_scope(ctx, route->scopes + i))
            return 0;
    return 1;
}

/* The value of the route's owner parameter: params[] holds the {param}
 * segments in path order, so its index is the number of {param} segments
 * before owner_segment. */
static h2o_iovec_t owner_param(const bulwark_reqctx_t *ctx, const bulwark_route_t *route)
{
    size_t index = 0;

    for (size_t i = 0; i != route->owner_segment; ++i)
        index += route->segments[i].kind == BULWARK_SEGMENT_PARAM;
    if (index >= ctx->num_params)
        return h2o_iovec_init(NULL, 0);
    return ctx->params[index];
}

static h2o_iovec_t owner_claim(h2o_req_t *req, const bulwark_reqctx_t *ctx, const bulwark_route_t *route)
{
    h2o_iovec_t *kept;

    if (h2o_memis(route->owner_claim.base, route->owner_claim.len, H2O_STRLIT("sub")))
        return ctx->auth.subject;
    kept = h2o_req_getenv(req, H2O_STRLIT(OWNER_CLAIM_ENV), 0);
    return kept != NULL ? *kept : h2o_iovec_init(NULL, 0);
}

/* builtins own their ownership checks (see the top of this file) */
static int owner_rule_holds(h2o_req_t *req, const bulwark_reqctx_t *ctx, const bulwark_route_t *route)
{
    h2o_iovec_t param, claim;

    if (route->owner_segment == BULWARK_NO_PARAM || route->kind == BULWARK_ROUTE_BUILTIN)
        return 1;
    param = owner_param(ctx, route);
    claim = owner_claim(req, ctx, route);
    return param.base != NULL && claim.base != NULL && h2o_memis(param.base, param.len, claim.base, claim.len);
}

static void log_denied(h2o_req_t *req, const bulwark_reqctx_t *ctx, int status)
{
    char line[BULWARK_LOG_LINE_MAX];
    bulwark_json_t j;
    h2o_iovec_t id = bulwark_reqid(req);

    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "auth_denied");
    bulwark_json_str(&j, "request_id", id.base, id.len);
    bulwark_json_int(&j, "status", status);
    bulwark_json_cstr(&j, "reason", ctx->auth.reason);
    bulwark_json_str(&j, "route", ctx->route->path.base, ctx->route->path.len);
    if (ctx->auth.state == BULWARK_AUTH_VALID)
        bulwark_json_str(&j, "sub", ctx->auth.subject.base, ctx->auth.subject.len);
    bulwark_log_emit(&j);
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    default:
        return "Not Found";
    }
}

static void deny(h2o_req_t *req, bulwark_reqctx_t *ctx, int status, const char *challenge, const char *detail)
{
    log_denied(req, ctx, status);
    if (challenge != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, challenge, strlen(challenge));
    bulwark_reply_detail(req, status, reason_phrase(status), detail);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_bulwark_auth_handler_t *self = (void *)_self;
    bulwark_reqctx_t *ctx = bulwark_reqctx(req);
    const bulwark_route_t *route = ctx->route;

    if (route == NULL || route->num_scopes == 0)
        return -1;
    switch (bulwark_auth_resolve(self->auth, req, ctx)) {
    case BULWARK_AUTH_VALID:
        break;
    case BULWARK_AUTH_INVALID:
        deny(req, ctx, 401, CHALLENGE_INVALID, DETAIL_INVALID);
        return 0;
    default:
        deny(req, ctx, 401, CHALLENGE_MISSING, DETAIL_MISSING);
        return 0;
    }
    if (!has_all_scopes(ctx, route)) {
        ctx->auth.reason = REASON_SCOPE;
        deny(req, ctx, 403, CHALLENGE_SCOPE, DETAIL_SCOPE);
        return 0;
    }
    if (!owner_rule_holds(req, ctx, route)) {
        ctx->auth.reason = REASON_OWNER;
        deny(req, ctx, 404, NULL, DETAIL_NOT_FOUND);
        return 0;
    }
    return -1;
}

void bulwark_auth_register(h2o_pathconf_t *pathconf, bulwark_auth_t *auth)
{
    struct st_bulwark_auth_handler_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));

    self->super.on_req = on_req;
    self->auth = auth;
}
