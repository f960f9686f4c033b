/*
 * The policy baked into the binary at build time (DESIGN.md, "Policy"):
 * `bulwark serve` without --policy serves exactly this text.
 */
#ifndef BULWARK_POLICY_BUILTIN_H
#define BULWARK_POLICY_BUILTIN_H

#include <stddef.h>

/* the name messages give the baked-in policy */
#define BULWARK_POLICY_BUILTIN_NAME "builtin:policy.yaml"

/* the YAML text (not NUL-terminated) and its length */
const char *bulwark_policy_builtin(size_t *len);

#endif
