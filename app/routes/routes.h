/*
 * Builtin routes.  Each is an h2o handler that answers the requests it owns
 * and returns -1 for the rest, so handlers registered on one pathconf form a
 * chain that ends with bulwark_notfound_register.
 */
#ifndef BULWARK_ROUTES_H
#define BULWARK_ROUTES_H

#include <stdint.h>
#include "h2o.h"

/* GET|HEAD /healthz -> 200 {"status":"ok"} */
void bulwark_healthz_register(h2o_pathconf_t *pathconf);

/* anything -> 404 {"detail":"Not Found","reference":...}; register last */
void bulwark_notfound_register(h2o_pathconf_t *pathconf);

/* anything -> 308 to https://HOST[:https_port]/path?query (plain-HTTP listeners) */
void bulwark_https_redirect_register(h2o_pathconf_t *pathconf, uint16_t https_port);

#endif
