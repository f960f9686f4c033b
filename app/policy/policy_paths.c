/*
 * Where the service opens a secret file the policy names.
 */
#include <stdio.h>
#include <string.h>
#include "policy/policy.h"

int bulwark_policy_secret_path(char *out, size_t cap, const bulwark_policy_t *policy, const char *secrets_dir,
                               const bulwark_str_t *file)
{
    const bulwark_str_t *mount = &policy->secrets_mount;
    int n;

    if (secrets_dir != NULL && file->len > mount->len && memcmp(file->base, mount->base, mount->len) == 0 &&
        file->base[mount->len] == '/')
        n = snprintf(out, cap, "%s%s", secrets_dir, file->base + mount->len);
    else
        n = snprintf(out, cap, "%s", file->base);
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}
