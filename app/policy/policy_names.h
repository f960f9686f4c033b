/*
 * Private to app/policy: name tables for the loader and the checker.
 */
#ifndef BULWARK_POLICY_NAMES_H
#define BULWARK_POLICY_NAMES_H

#include "policy.h"
#include "policy_decode.h"

extern const enum_name_t pol_tls_group_names[];
extern const enum_name_t pol_tls_version_names[];
extern const enum_name_t pol_jwt_alg_names[];
extern const enum_name_t pol_builtin_names[];
extern const enum_name_t pol_json_schema_names[];
extern const enum_name_t pol_method_names[];
extern const enum_name_t pol_environment_names[];
extern const enum_name_t pol_store_names[];
extern const enum_name_t pol_on_failure_names[];
extern const enum_name_t pol_log_format_names[];

const bulwark_ciphersuite_info_t *pol_ciphersuite_by_name(const char *name);
int pol_jwt_alg_is_hmac(bulwark_jwt_alg_t alg);

/* "GET, POST" into buf; returns its length */
size_t pol_format_methods(char *buf, size_t len, unsigned methods);

#endif
