/*
 * Authentication and authorization (mw/auth.c).
 */
#ifndef BULWARK_MW_AUTH_H
#define BULWARK_MW_AUTH_H

#include "h2o.h"
#include "reqctx.h"

typedef struct st_bulwark_auth_t bulwark_auth_t; /* keys and expectations, shared by all threads */

/* Loads the verification keys of policy->auth (files under secrets_dir);
 * NULL with a one-line reason in err when a key or setting is unusable. */
bulwark_auth_t *bulwark_auth_new(const bulwark_policy_t *policy, const char *secrets_dir, char *err, size_t errlen);
void bulwark_auth_free(bulwark_auth_t *auth);

/* Verifies the request's bearer token at most once per request and records
 * the result in ctx->auth; returns ctx->auth.state. Cheap checks run before
 * any signature verification. Other layers (e.g. subject-keyed rate limits)
 * call it; it never answers the request itself. */
bulwark_auth_state_t bulwark_auth_resolve(bulwark_auth_t *auth, h2o_req_t *req, bulwark_reqctx_t *ctx);

/* The handler that enforces the matched route's scopes and owner rule:
 * 401 + WWW-Authenticate: Bearer when required credentials are missing or
 * invalid, 403 when scopes are missing, 404 when the owner rule fails. */
void bulwark_auth_register(h2o_pathconf_t *pathconf, bulwark_auth_t *auth);

#endif
