/*
 * The builtin demo API of DEFAULT-POLICY.md: JWKS, login, password reset,
 * users/me, items with owners, the admin route.
 *
 * One handler serves every builtin route but healthz, choosing by the
 * policy route the router matched (ctx->route->builtin); it returns -1 for
 * anything else. It runs after the auth handler (mw/auth.h), which has
 * already enforced the route's scopes and left the subject in ctx->auth.
 *
 * Passwords are checked on the worker pool (workers.h), never on an event
 * loop; the answer is sent from the loop the request came in on.
 */
#ifndef BULWARK_ROUTES_DEMO_API_H
#define BULWARK_ROUTES_DEMO_API_H

#include <stddef.h>
#include "h2o.h"
#include "policy/policy.h"
#include "workers.h"

typedef struct st_bulwark_demo_api_t bulwark_demo_api_t; /* read-only but for the item store; shared by all threads */

/* Loads what the policy's builtin routes need, from files under
 * secrets_dir (NULL: the paths as the policy holds them): the users file
 * (every hash checked with bulwark_password_parse), the signing key, the
 * JWKS document of auth.keys. NULL with one line in err on any problem.
 * policy and workers must outlive the result. */
bulwark_demo_api_t *bulwark_demo_api_new(const bulwark_policy_t *policy, const char *secrets_dir,
                                         bulwark_workers_t *workers, char *err, size_t errlen);
/* after the event loops have stopped; NULL is ignored */
void bulwark_demo_api_free(bulwark_demo_api_t *api);

void bulwark_demo_api_register(h2o_pathconf_t *pathconf, bulwark_demo_api_t *api);

#endif
