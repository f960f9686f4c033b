/*
 * Names the policy uses for things the code knows by number: TLS cipher
 * suites and groups (IANA registries), JWT algorithms (RFC 7518), builtin
 * routes and JSON schemas.
 */
#include <string.h>
#include "policy_names.h"

/*
 * The first nine are what Bulwark's mbedTLS build offers (ECDHE with AEAD,
 * TLS 1.3's three); the rest are legacy names that load only so that
 * `policy check` can name them in a FAIL with a fix, rather than the loader
 * answering "unknown suite" to someone pasting an old nginx list.
 */
static const bulwark_ciphersuite_info_t ciphersuites[] = {
    {"TLS_AES_128_GCM_SHA256", 0x1301, 1, 1, 1},
    {"TLS_AES_256_GCM_SHA384", 0x1302, 1, 1, 1},
    {"TLS_CHACHA20_POLY1305_SHA256", 0x1303, 1, 1, 1},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02B, 1, 1, 0},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xC02C, 1, 1, 0},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA9, 1, 1, 0},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC02F, 1, 1, 0},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xC030, 1, 1, 0},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA8, 1, 1, 0},
    /* legacy: CBC (Lucky Thirteen and padding oracles) or no forward secrecy */
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xC023, 0, 1, 0},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 0xC024, 0, 1, 0},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xC027, 0, 1, 0},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 0xC028, 0, 1, 0},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xC009, 0, 1, 0},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0xC00A, 0, 1, 0},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC013, 0, 1, 0},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0xC014, 0, 1, 0},
    {"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 0x009E, 1, 0, 0},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009C, 1, 0, 0},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", 0x009D, 1, 0, 0},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", 0x002F, 0, 0, 0},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", 0x0035, 0, 0, 0},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x000A, 0, 0, 0},
    {NULL, 0, 0, 0, 0},
};

const bulwark_ciphersuite_info_t *bulwark_ciphersuite_info(uint16_t id)
{
    const bulwark_ciphersuite_info_t *c;

    for (c = ciphersuites; c->name != NULL; c++)
        if (c->id == id)
            return c;
    return NULL;
}

const bulwark_ciphersuite_info_t *pol_ciphersuite_by_name(const char *name)
{
    const bulwark_ciphersuite_info_t *c;

    for (c = ciphersuites; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* IANA "TLS Supported Groups": the three tls.c configures */
const enum_name_t pol_tls_group_names[] = {
    {"x25519", 29},
    {"secp256r1", 23},
    {"secp384r1", 24},
    {NULL, 0},
};

const enum_name_t pol_tls_version_names[] = {
    {"1.0", BULWARK_TLS_1_0},
    {"1.1", BULWARK_TLS_1_1},
    {"1.2", BULWARK_TLS_1_2},
    {"1.3", BULWARK_TLS_1_3},
    {NULL, 0},
};

/* RFC 7518 §3.1 names.  "none" loads so that `policy check` can fail it. */
const enum_name_t pol_jwt_alg_names[] = {
    {"none", BULWARK_JWT_NONE},   {"HS256", BULWARK_JWT_HS256}, {"HS384", BULWARK_JWT_HS384},
    {"HS512", BULWARK_JWT_HS512}, {"RS256", BULWARK_JWT_RS256}, {"PS256", BULWARK_JWT_PS256},
    {"ES256", BULWARK_JWT_ES256}, {"ES384", BULWARK_JWT_ES384}, {NULL, 0},
};

const char *bulwark_jwt_alg_name(bulwark_jwt_alg_t alg)
{
    const enum_name_t *e;

    for (e = pol_jwt_alg_names; e->name != NULL; e++)
        if (e->value == (int)alg)
            return e->name;
    return "?";
}

int pol_jwt_alg_is_hmac(bulwark_jwt_alg_t alg)
{
    return alg == BULWARK_JWT_HS256 || alg == BULWARK_JWT_HS384 || alg == BULWARK_JWT_HS512;
}

const enum_name_t pol_builtin_names[] = {
    {"healthz", BULWARK_BUILTIN_HEALTHZ},
    {"jwks", BULWARK_BUILTIN_JWKS},
    {"login", BULWARK_BUILTIN_LOGIN},
    {"password_reset", BULWARK_BUILTIN_PASSWORD_RESET},
    {"users_me", BULWARK_BUILTIN_USERS_ME},
    {"items_get", BULWARK_BUILTIN_ITEMS_GET},
    {"items_create", BULWARK_BUILTIN_ITEMS_CREATE},
    {"admin_user_delete", BULWARK_BUILTIN_ADMIN_USER_DELETE},
    {NULL, 0},
};

const char *bulwark_builtin_name(bulwark_builtin_t builtin)
{
    const enum_name_t *e;

    for (e = pol_builtin_names; e->name != NULL; e++)
        if (e->value == (int)builtin)
            return e->name;
    return "?";
}

const enum_name_t pol_json_schema_names[] = {
    {"login", BULWARK_SCHEMA_LOGIN},
    {"password_reset", BULWARK_SCHEMA_PASSWORD_RESET},
    {"item_create", BULWARK_SCHEMA_ITEM_CREATE},
    {NULL, 0},
};

const enum_name_t pol_method_names[] = {
    {"GET", BULWARK_METHOD_GET},     {"HEAD", BULWARK_METHOD_HEAD},     {"POST", BULWARK_METHOD_POST},
    {"PUT", BULWARK_METHOD_PUT},     {"PATCH", BULWARK_METHOD_PATCH},   {"DELETE", BULWARK_METHOD_DELETE},
    {"OPTIONS", BULWARK_METHOD_OPTIONS}, {NULL, 0},
};

const enum_name_t pol_environment_names[] = {
    {"production", BULWARK_ENV_PRODUCTION},
    {"development", BULWARK_ENV_DEVELOPMENT},
    {NULL, 0},
};

const enum_name_t pol_store_names[] = {
    {"local", BULWARK_RL_STORE_LOCAL},
    {"redis", BULWARK_RL_STORE_REDIS},
    {NULL, 0},
};

const enum_name_t pol_on_failure_names[] = {
    {"deny", BULWARK_REDIS_DENY},
    {"local-fallback", BULWARK_REDIS_LOCAL_FALLBACK},
    {NULL, 0},
};

const enum_name_t pol_log_format_names[] = {
    {"json", 0},
    {NULL, 0},
};

/* Methods in this order in every joined list ("GET, POST, ...") */
size_t pol_format_methods(char *buf, size_t len, unsigned methods)
{
    const enum_name_t *e;
    size_t used = 0;

    buf[0] = '\0';
    for (e = pol_method_names; e->name != NULL; e++) {
        if (!(methods & (unsigned)e->value) || used + strlen(e->name) + 3 > len)
            continue;
        if (used != 0) {
            memcpy(buf + used, ", ", 2);
            used += 2;
        }
        memcpy(buf + used, e->name, strlen(e->name) + 1);
        used += strlen(e->name);
    }
    return used;
}
