/*
 * The builtin JSON validator of routes[].body.schema (policy/SCHEMA.md):
 *   login           {"username": string <= 256, "password": string <= 256}
 *   password_reset  {"email": string <= 254 with one "@" inside}
 *   item_create     {"name": string of 1..100 characters}
 * Exactly these members, each once; anything else is invalid.
 */
#ifndef BULWARK_MW_JSON_SCHEMA_H
#define BULWARK_MW_JSON_SCHEMA_H

#include <stddef.h>
#include "policy/policy.h"

/* 1 when body (len bytes, UTF-8 JSON) satisfies schema; NONE accepts anything */
int bulwark_json_schema_valid(bulwark_json_schema_t schema, const char *body, size_t len);

#endif
