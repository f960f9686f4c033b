/*
 * Middleware: h2o filters and loggers (and later handlers that return -1 to
 * pass a request on) that every pathconf carries.
 */
#ifndef BULWARK_MW_H
#define BULWARK_MW_H

#include "h2o.h"

/* X-Request-ID on every response that goes through the pathconf */
void bulwark_request_id_register(h2o_pathconf_t *pathconf);

/* one JSON line per request on stdout */
void bulwark_access_log_register(h2o_pathconf_t *pathconf);

#endif
