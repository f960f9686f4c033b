/*
 * Loading a policy file: YAML tree -> bulwark_policy_t, with every default in
 * one place ("Defaults" below), every key in a table (policy/SCHEMA.md lists
 * the same keys; tests/unit/test_policy.py holds the two together) and every
 * count bounded by a named limit.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"
#include "policy_decode.h"
#include "policy_names.h"
#include "policy_values.h"
#include "policy_yaml.h"

#define S(lit) {lit, sizeof(lit) - 1}

/* ---- Limits: each list is bounded; the reason is the message's end ---- */

/* a few interfaces, each IPv4 and IPv6 */
#define LISTENERS_MAX 8
#define LISTENERS_WHY "a few interfaces, each IPv4 and IPv6"
#define CIPHERSUITES_MAX 16
#define CIPHERSUITES_WHY "the ECDHE AEAD suites are nine"
#define GROUPS_MAX 3
#define GROUPS_WHY "the groups built in are three"
#define ALPN_MAX 2
#define ALPN_WHY "h2 and http/1.1"
/* hosts and origins are compared one by one on every request */
#define HOSTS_MAX 64
#define HOSTS_WHY "compared one by one on every request"
#define ORIGINS_MAX 32
#define ORIGINS_WHY "compared one by one on every CORS request"
#define CORS_HEADERS_MAX 32
#define CORS_HEADERS_WHY "each is sent in preflight answers"
/* every header in a set is written into every response */
#define HEADERS_MAX 32
#define HEADERS_WHY "each is written into every response"
#define OVERRIDES_MAX 32
#define OVERRIDES_WHY "matched on every response"
/* each global limit is evaluated on every request */
#define LIMITS_MAX 16
#define LIMITS_WHY "the global ones are evaluated on every request"
/* evaluated atomically with the global limits: a rejected request consumes
 * nothing, which costs a lock or a Redis script over all of them */
#define ROUTE_LIMITS_MAX 4
#define ROUTE_LIMITS_WHY "evaluated atomically with the global limits"
/* routes are matched in order on every request; an API with more endpoints
 * belongs behind one proxy route */
#define ROUTES_MAX 128
#define ROUTES_WHY "matched in order on every request; put a larger API behind a proxy route"
#define SEGMENTS_MAX 16
#define SCOPES_MAX 8
#define SCOPES_WHY "all are required; more is a design smell"
#define CONTENT_TYPES_MAX 8
#define CONTENT_TYPES_WHY "a route accepts a handful of media types"
/* the JWKS document: current, next and previous keys, per algorithm */
#define KEYS_MAX 8
#define KEYS_WHY "current, next and previous keys"
#define PROXIES_MAX 64
#define PROXIES_WHY "compared on every request with X-Forwarded-For"
#define REDACT_MAX 32
#define REDACT_WHY "checked for every logged header"
#define LIMIT_NAME_MAX 32
#define KID_MAX 128
#define CLAIM_MAX 64
/* an inline landing page; a site belongs in a static dir */
#define ROUTE_INLINE_MAX POLICY_SCALAR_MAX

/* ranges of numbers, each with its reason */
#define KIB 1024ull
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define SEC 1000ull
#define MINUTE (60 * SEC)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

/* ---- Defaults: the one place ---- */

static const bulwark_str_t default_https[] = {S("0.0.0.0:443")};
static const bulwark_str_t default_http[] = {S("0.0.0.0:80")};
static const uint16_t default_ciphersuites[] = {0x1301, 0x1302, 0x1303, 0xC02B, 0xC02C, 0xCCA9, 0xC02F, 0xC030, 0xCCA8};
static const uint16_t default_groups[] = {29, 23, 24}; /* x25519, secp256r1, secp384r1 */
static const bulwark_str_t default_alpn[] = {S("h2"), S("http/1.1")};

#define HEADER(name, lname, value) {S(name), S(lname), S(value)}
static const bulwark_header_t default_headers[] = {
    HEADER("Strict-Transport-Security", "strict-transport-security", "max-age=63072000; includeSubDomains"),
    HEADER("X-Content-Type-Options", "x-content-type-options", "nosniff"),
    HEADER("X-Frame-Options", "x-frame-options", "DENY"),
    HEADER("Referrer-Policy", "referrer-policy", "strict-origin-when-cross-origin"),
    HEADER("Content-Security-Policy", "content-security-policy",
           "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    HEADER("Permissions-Policy", "permissions-policy", "geolocation=(), microphone=(), camera=()"),
    HEADER("Cross-Origin-Opener-Policy", "cross-origin-opener-policy", "same-origin"),
    HEADER("Cross-Origin-Resource-Policy", "cross-origin-resource-policy", "same-origin"),
};

/* always redacted in logs, whatever the policy lists (DESIGN.md, Logs) */
static const char *const mandatory_redact[] = {"authorization", "proxy-authorization", "cookie", "set-cookie"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void set_defaults(bulwark_policy_t *p)
{
    p->environment = BULWARK_ENV_PRODUCTION;
    p->secrets_mount = (bulwark_str_t)S("/secrets");
    p->listeners = (bulwark_policy_listeners_t){default_https, COUNT(default_https), default_http, COUNT(default_http)};
    p->tls.min_version = BULWARK_TLS_1_2;
    p->tls.ciphersuites = default_ciphersuites;
    p->tls.num_ciphersuites = COUNT(default_ciphersuites);
    p->tls.groups = default_groups;
    p->tls.num_groups = COUNT(default_groups);
    p->tls.alpn = default_alpn;
    p->tls.num_alpn = COUNT(default_alpn);
    p->tls.certificate_file = (bulwark_str_t)S("tls-cert.pem"); /* relative: resolved in finish_policy */
    p->tls.key_file = (bulwark_str_t)S("tls-key.pem");
    p->headers.set = default_headers;
    p->headers.num_set = COUNT(default_headers);
    p->cors.methods = BULWARK_METHOD_GET | BULWARK_METHOD_HEAD | BULWARK_METHOD_POST;
    p->cors.max_age_s = 600;
    p->ratelimits.store = BULWARK_RL_STORE_LOCAL;
    p->ratelimits.max_keys = 100000;
    p->ratelimits.ipv6_prefix = 64;
    p->ratelimits.redis.timeout_ms = 100;
    p->ratelimits.redis.on_failure = BULWARK_REDIS_DENY;
    p->auth.algorithms = 1u << BULWARK_JWT_ES256;
    p->auth.leeway_s = 30;
    p->auth.token_lifetime_s = 900;
    p->auth.typ = (bulwark_str_t)S("JWT");
    p->auth.signing_key = BULWARK_NO_KEY;
    p->limits = (bulwark_policy_limits_t){1 * MIB, 8 * KIB, 16 * KIB, 100, 10 * SEC, 60 * SEC};
    p->logging.format = BULWARK_LOG_JSON;
}

static void set_route_defaults(const bulwark_policy_t *p, bulwark_route_t *r)
{
    r->owner_segment = BULWARK_NO_PARAM;
    r->body.max_size = p->limits.max_body;
    r->proxy.timeout_ms = 30 * SEC;
}

static void set_limit_defaults(bulwark_ratelimit_t *rl)
{
    rl->key = BULWARK_RL_KEY_CLIENT_ADDRESS;
    rl->path_prefix = (bulwark_str_t)S("/");
}

static void set_key_defaults(bulwark_jwt_key_t *k)
{
    k->min_bits = BULWARK_HS_KEY_MIN_BITS;
}

static const char default_inline_type[] = "text/html; charset=utf-8";

/* ---- helpers ---- */

/* a typed wrapper around pol_decode_list for a `member` / `num_member` pair */
#define LIST_DECODER(fn, type, member, what, max, why, elem)                                                                    \
    static int fn(loader_t *l, const ynode_t *n, void *obj, const field_t *f)                                                  \
    {                                                                                                                          \
        type *o = obj; /* NOLINT(bugprone-macro-parentheses): type names a type, (type) would not parse */            \
        void *arr;                                                                                                             \
        (void)f;                                                                                                               \
        if (pol_decode_list(l, n, what, max, why, sizeof(*o->member), elem, &arr, &o->num_##member) != 0)                          \
            return -1;                                                                                                         \
        o->member = arr;                                                                                                       \
        return 0;                                                                                                              \
    }

static int string_value(loader_t *l, const ynode_t *n, const char *what, const char **s)
{
    if ((*s = pol_scalar(l, n, what)) == NULL)
        return -1;
    if (n->len == 0)
        return pol_fail(l, n, "expected %s, not an empty string", what);
    return 0;
}

static int expected(loader_t *l, const ynode_t *n, const char *what)
{
    return pol_fail(l, n, "expected %s", what);
}

/* `text` as an absolute path: relative ones are under secrets.mount;
 * absolute ones under the declared mount follow an overridden one */
static int resolve_secret(loader_t *l, const ynode_t *n, const char *text, bulwark_str_t *out)
{
    const bulwark_str_t *mount = &l->p->secrets_mount, *declared = &l->declared_mount;
    size_t len = strlen(text);
    char *s;

    if (text[0] == '/') {
        if (len <= declared->len || memcmp(text, declared->base, declared->len) != 0 || text[declared->len] != '/')
            return pol_copy_str(l, n, text, len, out);
        text += declared->len + 1;
        len -= declared->len + 1;
    }
    if ((s = pol_arena_alloc(l->arena, mount->len + len + 2)) == NULL)
        return pol_fail_oom(l, n);
    memcpy(s, mount->base, mount->len);
    s[mount->len] = '/';
    memcpy(s + mount->len + 1, text, len + 1);
    out->base = s;
    out->len = mount->len + 1 + len;
    return 0;
}

static int dec_secret(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    const char *s, *why;

    if (string_value(l, n, "a file on the secrets volume", &s) != 0)
        return -1;
    if (pol_value_secret_path(s, &why) != 0)
        return expected(l, n, why);
    return resolve_secret(l, n, s, (bulwark_str_t *)((char *)obj + f->offset));
}

static int lower_copy(loader_t *l, const ynode_t *n, bulwark_str_t *out)
{
    return pol_copy_lower(l, n, n->text, n->len, out);
}

static int dup_str(const bulwark_str_t *arr, size_t count, const bulwark_str_t *s)
{
    size_t i;

    for (i = 0; i < count; i++)
        if (arr[i].len == s->len && memcmp(arr[i].base, s->base, s->len) == 0)
            return 1;
    return 0;
}

/* rejects the second of two equal strings in a decoded list */
static int no_duplicates(loader_t *l, const ynode_t *n, const bulwark_str_t *arr, size_t count)
{
    size_t i;

    for (i = 1; i < count; i++)
        if (dup_str(arr, i, &arr[i]))
            return pol_fail(l, n->items[i], "'%s' is listed twice", arr[i].base);
    return 0;
}

static int dec_methods_bits(loader_t *l, const ynode_t *n, unsigned *out)
{
    const enum_name_t *e;
    size_t i;

    if (n->kind != YNODE_SEQUENCE || n->count == 0)
        return expected(l, n, "a list of methods, e.g. [GET, POST]");
    *out = 0;
    for (i = 0; i < n->count; i++) {
        const ynode_t *m = n->items[i];
        for (e = pol_method_names; e->name != NULL; e++)
            if (m->kind == YNODE_SCALAR && strcmp(m->text, e->name) == 0)
                break;
        if (e->name == NULL)
            return expected(l, m, "GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS (upper case)");
        if (*out & (unsigned)e->value)
            return pol_fail(l, m, "'%s' is listed twice", e->name);
        *out |= (unsigned)e->value;
    }
    return 0;
}

/* ---- top level: version, environment, secrets ---- */

static int dec_version(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    (void)obj;
    (void)f;
    if (n->kind != YNODE_SCALAR || !n->plain || strcmp(n->text, "1") != 0)
        return expected(l, n, "1 (the only policy schema version this build reads)");
    return 0;
}

static int dec_mount(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_t *p = obj;
    const char *s, *why;

    (void)f;
    if (string_value(l, n, "an absolute directory", &s) != 0)
        return -1;
    if (s[0] != '/' || pol_value_secret_path(s, &why) != 0)
        return expected(l, n, "an absolute directory without ., .. or empty components, e.g. /secrets");
    if (pol_copy_str(l, n, s, n->len, &l->declared_mount) != 0)
        return -1;
    if (l->mount_override == NULL)
        p->secrets_mount = l->declared_mount;
    return 0;
}

static const field_t secrets_fields[] = {
    {"mount", dec_mount, 0, 0, NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t secrets_schema = {secrets_fields, NULL};

/* ---- listeners, tls ---- */

static int elem_listen(loader_t *l, const ynode_t *n, void *elem)
{
    const char *s, *why;

    if (string_value(l, n, "an address", &s) != 0)
        return -1;
    if (pol_value_listen_address(s, &why) != 0)
        return expected(l, n, why);
    return pol_copy_str(l, n, s, n->len, elem);
}

LIST_DECODER(dec_https, bulwark_policy_listeners_t, https, "addresses", LISTENERS_MAX, LISTENERS_WHY, elem_listen)
LIST_DECODER(dec_http, bulwark_policy_listeners_t, http, "addresses", LISTENERS_MAX, LISTENERS_WHY, elem_listen)

static int finish_listeners(loader_t *l, const ynode_t *map, void *obj)
{
    bulwark_policy_listeners_t *ls = obj;

    if (ls->num_https == 0)
        return pol_fail(l, map, "at least one https listener is needed");
    return 0;
}

static const field_t listeners_fields[] = {
    {"https", dec_https, 0, 0, NULL, 0, 0, NULL},
    {"http", dec_http, 0, 0, NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t listeners_schema = {listeners_fields, finish_listeners};

static int dec_tls_version(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    const enum_name_t *e;

    (void)f;
    for (e = pol_tls_version_names; e->name != NULL; e++) {
        if (n->kind == YNODE_SCALAR && strcmp(n->text, e->name) == 0) {
            ((bulwark_policy_tls_t *)obj)->min_version = (uint16_t)e->value;
            return 0;
        }
    }
    return expected(l, n, "\"1.2\" or \"1.3\"");
}

static int elem_cipher(loader_t *l, const ynode_t *n, void *elem)
{
    const bulwark_ciphersuite_info_t *c;
    const char *s;

    if (string_value(l, n, "a cipher suite name", &s) != 0)
        return -1;
    if ((c = pol_ciphersuite_by_name(s)) == NULL)
        return expected(l, n, "an IANA cipher suite name, e.g. TLS_AES_128_GCM_SHA256 or "
                              "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    *(uint16_t *)elem = c->id;
    return 0;
}

static int elem_group(loader_t *l, const ynode_t *n, void *elem)
{
    const enum_name_t *e;

    for (e = pol_tls_group_names; e->name != NULL; e++) {
        if (n->kind == YNODE_SCALAR && strcmp(n->text, e->name) == 0) {
            *(uint16_t *)elem = (uint16_t)e->value;
            return 0;
        }
    }
    return expected(l, n, "x25519, secp256r1 or secp384r1");
}

static int elem_alpn(loader_t *l, const ynode_t *n, void *elem)
{
    if (n->kind != YNODE_SCALAR || (strcmp(n->text, "h2") != 0 && strcmp(n->text, "http/1.1") != 0))
        return expected(l, n, "h2 or http/1.1");
    return pol_copy_str(l, n, n->text, n->len, elem);
}

static int unique_u16(loader_t *l, const ynode_t *n, const uint16_t *v, size_t count)
{
    size_t i, j;

    for (i = 1; i < count; i++)
        for (j = 0; j < i; j++)
            if (v[i] == v[j])
                return pol_fail(l, n->items[i], "'%s' is listed twice", n->items[i]->text);
    return 0;
}

static int dec_ciphersuites(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_tls_t *t = obj;
    void *arr;

    (void)f;
    if (pol_decode_list(l, n, "cipher suites", CIPHERSUITES_MAX, CIPHERSUITES_WHY, sizeof(uint16_t), elem_cipher, &arr,
                    &t->num_ciphersuites) != 0)
        return -1;
    t->ciphersuites = arr;
    if (t->num_ciphersuites == 0)
        return expected(l, n, "at least one cipher suite");
    return unique_u16(l, n, t->ciphersuites, t->num_ciphersuites);
}

static int dec_groups(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_tls_t *t = obj;
    void *arr;

    (void)f;
    if (pol_decode_list(l, n, "groups", GROUPS_MAX, GROUPS_WHY, sizeof(uint16_t), elem_group, &arr, &t->num_groups) != 0)
        return -1;
    t->groups = arr;
    if (t->num_groups == 0)
        return expected(l, n, "at least one group");
    return unique_u16(l, n, t->groups, t->num_groups);
}

static int dec_alpn(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_tls_t *t = obj;
    void *arr;

    (void)f;
    if (pol_decode_list(l, n, "protocols", ALPN_MAX, ALPN_WHY, sizeof(bulwark_str_t), elem_alpn, &arr, &t->num_alpn) != 0)
        return -1;
    t->alpn = arr;
    if (t->num_alpn == 0)
        return expected(l, n, "h2, http/1.1 or both");
    return no_duplicates(l, n, t->alpn, t->num_alpn);
}

static const field_t tls_fields[] = {
    {"min_version", dec_tls_version, 0, 0, NULL, 0, 0, NULL},
    {"ciphersuites", dec_ciphersuites, 0, 0, NULL, 0, 0, NULL},
    {"groups", dec_groups, 0, 0, NULL, 0, 0, NULL},
    {"alpn", dec_alpn, 0, 0, NULL, 0, 0, NULL},
    {"certificate", dec_secret, offsetof(bulwark_policy_tls_t, certificate_file), 0, NULL, 0, 0, NULL},
    {"key", dec_secret, offsetof(bulwark_policy_tls_t, key_file), 0, NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t tls_schema = {tls_fields, NULL};

/* ---- hosts ---- */

/* room for the canonical "[v6]" form, which may be longer than written */
#define HOST_TEXT_SLACK 64

static int elem_host(loader_t *l, const ynode_t *n, void *elem)
{
    bulwark_host_pattern_t *h = elem;
    const char *s, *why;
    char *buf;

    if (string_value(l, n, "a host", &s) != 0)
        return -1;
    if ((buf = pol_arena_alloc(l->arena, n->len + HOST_TEXT_SLACK)) == NULL)
        return pol_fail_oom(l, n);
    if (pol_value_host_pattern(s, h, buf, &why) != 0)
        return expected(l, n, why);
    return 0;
}

static int dec_hosts(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_t *p = obj;
    void *arr;
    size_t i, j;

    (void)f;
    if (pol_decode_list(l, n, "hosts", HOSTS_MAX, HOSTS_WHY, sizeof(bulwark_host_pattern_t), elem_host, &arr, &p->num_hosts) != 0)
        return -1;
    p->hosts = arr;
    if (p->num_hosts == 0)
        return expected(l, n, "at least one host");
    for (i = 1; i < p->num_hosts; i++)
        for (j = 0; j < i; j++)
            if (p->hosts[i].kind == p->hosts[j].kind && p->hosts[i].text.len == p->hosts[j].text.len &&
                memcmp(p->hosts[i].text.base, p->hosts[j].text.base, p->hosts[i].text.len) == 0)
                return pol_fail(l, n->items[i], "'%s' is listed twice", n->items[i]->text);
    return 0;
}

/* ---- headers ---- */

/* Headers other parts of the appliance own, or that would break framing. */
static const char *const reserved_headers[] = {
    "server", "x-powered-by",                          /* never sent */
    "x-request-id",                                    /* the request-id middleware */
    "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer",
    "set-cookie", "www-authenticate", "retry-after", "ratelimit", "ratelimit-policy", "vary", "location",
    NULL,
};

static int reserved_header(const char *lname)
{
    const char *const *r;

    if (strncmp(lname, "access-control-", 15) == 0) /* the cors section */
        return 1;
    for (r = reserved_headers; *r != NULL; r++)
        if (strcmp(*r, lname) == 0)
            return 1;
    return 0;
}

static int named_header(loader_t *l, const ynode_t *key, const ynode_t *value, void *elem)
{
    bulwark_header_t *h = elem;
    const char *v, *why;

    if (pol_value_header_name(key->text, &why) != 0)
        return expected(l, key, why);
    if (pol_copy_str(l, key, key->text, key->len, &h->name) != 0 || lower_copy(l, key, &h->lname) != 0)
        return -1;
    if (reserved_header(h->lname.base))
        return pol_fail(l, key, "%s is set by the appliance itself, not by policy", key->text);
    if ((v = pol_scalar(l, value, "a header value")) == NULL)
        return -1;
    if (pol_value_header_value(v, &why) != 0)
        return expected(l, value, why);
    return pol_copy_str(l, value, v, value->len, &h->value);
}

static int decode_header_set(loader_t *l, const ynode_t *n, const bulwark_header_t **set, size_t *num)
{
    bulwark_header_t *arr;
    size_t i, j;

    if (pol_decode_named(l, n, "header names to values", HEADERS_MAX, HEADERS_WHY, sizeof(*arr), named_header, (void **)&arr,
                     num) != 0)
        return -1;
    for (i = 1; i < *num; i++)
        for (j = 0; j < i; j++)
            if (strcmp(arr[i].lname.base, arr[j].lname.base) == 0)
                return pol_fail(l, n->keys[i], "'%s' is set twice (names are case-insensitive)", n->keys[i]->text);
    *set = arr;
    return 0;
}

static int dec_header_set(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_headers_t *h = obj;

    (void)f;
    return decode_header_set(l, n, &h->set, &h->num_set);
}

static int dec_override_set(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_header_override_t *o = obj;

    (void)f;
    return decode_header_set(l, n, &o->set, &o->num_set);
}

static int decode_match_path(loader_t *l, const ynode_t *n, bulwark_str_t *out)
{
    const char *s, *why;

    if (string_value(l, n, "a path", &s) != 0)
        return -1;
    if (pol_value_plain_path(s, &why) != 0)
        return expected(l, n, why);
    return pol_copy_str(l, n, s, n->len, out);
}

static int dec_override_path(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_header_override_t *o = obj;

    (void)f;
    o->match = BULWARK_PATH_EXACT;
    return decode_match_path(l, n, &o->path);
}

static int dec_override_prefix(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_header_override_t *o = obj;

    (void)f;
    o->match = BULWARK_PATH_PREFIX;
    return decode_match_path(l, n, &o->path);
}

static int finish_override(loader_t *l, const ynode_t *map, void *obj)
{
    (void)obj;
    if ((pol_ynode_get(map, "path") != NULL) == (pol_ynode_get(map, "path_prefix") != NULL))
        return pol_fail(l, map, "expected exactly one of 'path' (exact) and 'path_prefix'");
    return 0;
}

static const field_t override_fields[] = {
    {"path", dec_override_path, 0, 0, NULL, 0, 0, NULL},
    {"path_prefix", dec_override_prefix, 0, 0, NULL, 0, 0, NULL},
    {"set", dec_override_set, 0, F_REQUIRED | F_NAMED, NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t override_schema = {override_fields, finish_override};

static int elem_override(loader_t *l, const ynode_t *n, void *elem)
{
    return pol_decode_mapping(l, n, &override_schema, elem);
}

LIST_DECODER(dec_overrides, bulwark_policy_headers_t, overrides, "overrides", OVERRIDES_MAX, OVERRIDES_WHY, elem_override)

static const field_t headers_fields[] = {
    {"set", dec_header_set, 0, F_NAMED, NULL, 0, 0, NULL},
    {"overrides", dec_overrides, 0, F_LIST, &override_schema, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t headers_schema = {headers_fields, NULL};

/* ---- CORS ---- */

static int elem_origin(loader_t *l, const ynode_t *n, void *elem)
{
    const char *s, *why;
    char *buf;

    if (string_value(l, n, "an origin", &s) != 0)
        return -1;
    if ((buf = pol_arena_alloc(l->arena, n->len + 1)) == NULL)
        return pol_fail_oom(l, n);
    if (pol_value_origin(s, buf, &why) != 0)
        return expected(l, n, why);
    *(bulwark_str_t *)elem = (bulwark_str_t){buf, n->len};
    return 0;
}

static int elem_header_name(loader_t *l, const ynode_t *n, void *elem)
{
    const char *s, *why;

    if (string_value(l, n, "a header name", &s) != 0)
        return -1;
    if (strcmp(s, "*") == 0)
        return expected(l, n, "header names: \"*\" would allow any header; list the ones the API reads");
    if (pol_value_header_name(s, &why) != 0)
        return expected(l, n, why);
    return pol_copy_str(l, n, s, n->len, elem);
}

static int elem_lower_header_name(loader_t *l, const ynode_t *n, void *elem)
{
    if (elem_header_name(l, n, elem) != 0)
        return -1;
    return lower_copy(l, n, elem);
}

static int dec_origins(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_cors_t *c = obj;
    void *arr;

    (void)f;
    if (pol_decode_list(l, n, "origins", ORIGINS_MAX, ORIGINS_WHY, sizeof(bulwark_str_t), elem_origin, &arr,
                    &c->num_origins) != 0)
        return -1;
    c->origins = arr;
    if (c->num_origins == 0)
        return expected(l, n, "at least one origin (leave the cors section out to send no CORS headers)");
    return no_duplicates(l, n, c->origins, c->num_origins);
}

static int dec_cors_methods(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    (void)f;
    return dec_methods_bits(l, n, &((bulwark_policy_cors_t *)obj)->methods);
}

static int dec_allow_headers(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_cors_t *c = obj;
    void *arr;

    (void)f;
    if (pol_decode_list(l, n, "header names", CORS_HEADERS_MAX, CORS_HEADERS_WHY, sizeof(bulwark_str_t), elem_lower_header_name,
                    &arr, &c->num_allow_headers) != 0)
        return -1;
    c->allow_headers = arr;
    return no_duplicates(l, n, c->allow_headers, c->num_allow_headers);
}

LIST_DECODER(dec_expose_headers, bulwark_policy_cors_t, expose_headers, "header names", CORS_HEADERS_MAX, CORS_HEADERS_WHY,
             elem_header_name)

static int join_strs(loader_t *l, const ynode_t *n, const bulwark_str_t *v, size_t count, bulwark_str_t *out)
{
    size_t len = 0, i;
    char *s;

    for (i = 0; i < count; i++)
        len += v[i].len + 2;
    if ((s = pol_arena_alloc(l->arena, len + 1)) == NULL)
        return pol_fail_oom(l, n);
    out->base = s;
    for (i = 0; i < count; i++) {
        if (i != 0) {
            memcpy(s, ", ", 2);
            s += 2;
        }
        memcpy(s, v[i].base, v[i].len);
        s += v[i].len;
    }
    *s = '\0';
    out->len = (size_t)(s - out->base);
    return 0;
}

/* Allow-Headers lists the names as written in the policy, not lowercased:
 * browsers compare case-insensitively and people read the answer. */
static int finish_cors(loader_t *l, const ynode_t *map, void *obj)
{
    bulwark_policy_cors_t *c = obj;
    const ynode_t *allow = pol_ynode_get(map, "allow_headers");
    char buf[64];
    size_t len;

    c->enabled = 1;
    len = pol_format_methods(buf, sizeof(buf), c->methods);
    if (pol_copy_str(l, map, buf, len, &c->methods_value) != 0)
        return -1;
    if (allow != NULL) {
        bulwark_str_t *names = pol_arena_calloc(l->arena, c->num_allow_headers + 1, sizeof(*names));
        size_t i;
        if (names == NULL)
            return pol_fail_oom(l, map);
        for (i = 0; i < c->num_allow_headers; i++)
            names[i] = (bulwark_str_t){allow->items[i]->text, allow->items[i]->len};
        if (join_strs(l, map, names, c->num_allow_headers, &c->allow_headers_value) != 0)
            return -1;
    } else if (pol_copy_str(l, map, "", 0, &c->allow_headers_value) != 0) {
        return -1;
    }
    if (join_strs(l, map, c->expose_headers, c->num_expose_headers, &c->expose_headers_value) != 0)
        return -1;
    len = (size_t)snprintf(buf, sizeof(buf), "%u", (unsigned)c->max_age_s);
    return pol_copy_str(l, map, buf, len, &c->max_age_value);
}

static const field_t cors_fields[] = {
    {"allow_origins", dec_origins, 0, F_REQUIRED, NULL, 0, 0, NULL},
    {"allow_credentials", pol_dec_bool, offsetof(bulwark_policy_cors_t, allow_credentials), 0, NULL, 0, 0, NULL},
    {"allow_methods", dec_cors_methods, 0, 0, NULL, 0, 0, NULL},
    {"allow_headers", dec_allow_headers, 0, 0, NULL, 0, 0, NULL},
    {"expose_headers", dec_expose_headers, 0, 0, NULL, 0, 0, NULL},
    /* browsers cap it (Chromium 2 h, Firefox 24 h) */
    {"max_age", pol_dec_secs, offsetof(bulwark_policy_cors_t, max_age_s), 0, NULL, 0, DAY, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t cors_schema = {cors_fields, finish_cors};

/* ---- limits, trusted proxies, logging ---- */

static const field_t limits_fields[] = {
    /* 0: no request bodies at all; 1 GiB: beyond any API body, and memory */
    {"max_body", pol_dec_size, offsetof(bulwark_policy_limits_t, max_body), 0, NULL, 0, GIB, NULL},
    /* RFC 9112 §3 recommends supporting at least 8000 octets */
    {"max_request_line", pol_dec_size, offsetof(bulwark_policy_limits_t, max_request_line), 0, NULL, KIB, 64 * KIB, NULL},
    {"max_header_bytes", pol_dec_size, offsetof(bulwark_policy_limits_t, max_header_bytes), 0, NULL, 4 * KIB, MIB, NULL},
    {"max_header_count", pol_dec_u32, offsetof(bulwark_policy_limits_t, max_header_count), 0, NULL, 16, 1000, NULL},
    /* slow-header (slowloris) cut-off */
    {"header_timeout", pol_dec_ms, offsetof(bulwark_policy_limits_t, header_timeout_ms), 0, NULL, SEC, 2 * MINUTE, NULL},
    {"idle_timeout", pol_dec_ms, offsetof(bulwark_policy_limits_t, idle_timeout_ms), 0, NULL, SEC, HOUR, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t limits_schema = {limits_fields, NULL};

static int elem_cidr(loader_t *l, const ynode_t *n, void *elem)
{
    bulwark_cidr_t *c = elem;
    const char *s, *why;

    if (string_value(l, n, "an address or CIDR range", &s) != 0)
        return -1;
    if (pol_value_cidr(s, c, &why) != 0)
        return expected(l, n, why);
    return pol_copy_str(l, n, s, n->len, &c->text);
}

LIST_DECODER(dec_trusted_proxies, bulwark_policy_t, trusted_proxies, "CIDR ranges", PROXIES_MAX, PROXIES_WHY, elem_cidr)

LIST_DECODER(dec_redact, bulwark_policy_logging_t, redact_headers, "header names", REDACT_MAX, REDACT_WHY,
             elem_lower_header_name)

static const field_t logging_fields[] = {
    {"format", pol_dec_enum, offsetof(bulwark_policy_logging_t, format), 0, NULL, 0, 0, pol_log_format_names},
    {"redact_headers", dec_redact, 0, 0, NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t logging_schema = {logging_fields, NULL};

/* the policy's list plus the mandatory names, each once */
static int merge_redact(loader_t *l, const ynode_t *root)
{
    bulwark_policy_logging_t *lg = &l->p->logging;
    size_t cap = lg->num_redact_headers + COUNT(mandatory_redact), n = 0, i;
    bulwark_str_t *v = pol_arena_calloc(l->arena, cap, sizeof(*v));

    if (v == NULL)
        return pol_fail_oom(l, root);
    for (i = 0; i < COUNT(mandatory_redact); i++)
        v[n++] = (bulwark_str_t){mandatory_redact[i], strlen(mandatory_redact[i])};
    for (i = 0; i < lg->num_redact_headers; i++)
        if (!dup_str(v, n, &lg->redact_headers[i]))
            v[n++] = lg->redact_headers[i];
    lg->redact_headers = v;
    lg->num_redact_headers = n;
    return 0;
}

/* ---- auth ---- */

static int dec_algorithms(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_auth_t *a = obj;
    const enum_name_t *e;
    size_t i;

    (void)f;
    if (n->kind != YNODE_SEQUENCE || n->count == 0)
        return expected(l, n, "a list of JWT algorithms, e.g. [ES256]");
    a->algorithms = 0;
    for (i = 0; i < n->count; i++) {
        for (e = pol_jwt_alg_names; e->name != NULL; e++)
            if (n->items[i]->kind == YNODE_SCALAR && strcmp(n->items[i]->text, e->name) == 0)
                break;
        if (e->name == NULL)
            return expected(l, n->items[i], "ES256, ES384, PS256, RS256, HS256, HS384, HS512 (or none, which check fails)");
        if (a->algorithms & (1u << e->value))
            return pol_fail(l, n->items[i], "'%s' is listed twice", e->name);
        a->algorithms |= 1u << e->value;
    }
    return 0;
}

static int dec_kid(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    const char *s;
    size_t i;

    if (string_value(l, n, "a key id", &s) != 0)
        return -1;
    for (i = 0; i < n->len; i++)
        if (s[i] <= 0x20 || s[i] == '"' || s[i] == '\\' || (unsigned char)s[i] >= 0x7f)
            return expected(l, n, "a key id of printable ASCII without spaces, quotes or backslashes");
    return pol_dec_str(l, n, obj, f);
}

static int finish_key(loader_t *l, const ynode_t *map, void *obj)
{
    bulwark_jwt_key_t *k = obj;

    if (!(l->p->auth.algorithms & (1u << k->alg)))
        return pol_fail(l, pol_ynode_get(map, "alg"), "%s is not in auth.algorithms", bulwark_jwt_alg_name(k->alg));
    if (pol_ynode_get(map, "min_bits") != NULL && !pol_jwt_alg_is_hmac(k->alg))
        return pol_fail(l, pol_ynode_get(map, "min_bits"), "min_bits applies to HS256/HS384/HS512 keys only");
    return 0;
}

static const field_t key_fields[] = {
    {"kid", dec_kid, offsetof(bulwark_jwt_key_t, kid), F_REQUIRED, NULL, 0, KID_MAX, NULL},
    {"alg", pol_dec_enum, offsetof(bulwark_jwt_key_t, alg), F_REQUIRED, NULL, 0, 0, pol_jwt_alg_names},
    {"file", dec_secret, offsetof(bulwark_jwt_key_t, file), F_REQUIRED, NULL, 0, 0, NULL},
    /* 16384 bits: past any HMAC block, a typo */
    {"min_bits", pol_dec_u32, offsetof(bulwark_jwt_key_t, min_bits), 0, NULL, 0, 16384, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t key_schema = {key_fields, finish_key};

static int elem_key(loader_t *l, const ynode_t *n, void *elem)
{
    set_key_defaults(elem);
    return pol_decode_mapping(l, n, &key_schema, elem);
}

static int dec_keys(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_auth_t *a = obj;
    bulwark_jwt_key_t *keys;
    size_t i, j;

    (void)f;
    if (pol_decode_list(l, n, "keys", KEYS_MAX, KEYS_WHY, sizeof(*keys), elem_key, (void **)&keys, &a->num_keys) != 0)
        return -1;
    a->keys = keys;
    if (a->num_keys == 0)
        return expected(l, n, "at least one key");
    for (i = 1; i < a->num_keys; i++)
        for (j = 0; j < i; j++)
            if (strcmp(keys[i].kid.base, keys[j].kid.base) == 0)
                return pol_fail(l, n->items[i], "kid '%s' is used twice", keys[i].kid.base);
    return 0;
}

static int dec_signing_key(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_auth_t *a = obj;
    const char *s;
    size_t i;

    (void)f;
    if (string_value(l, n, "the kid of a key in auth.keys", &s) != 0)
        return -1;
    for (i = 0; i < a->num_keys; i++) {
        if (strcmp(a->keys[i].kid.base, s) == 0) {
            if (a->keys[i].alg == BULWARK_JWT_NONE)
                return pol_fail(l, n, "key '%s' has alg none: it cannot sign", s);
            a->signing_key = i;
            return 0;
        }
    }
    return pol_fail(l, n, "no key in auth.keys has kid '%s'", s);
}

static int finish_auth(loader_t *l, const ynode_t *map, void *obj)
{
    (void)l;
    (void)map;
    ((bulwark_policy_auth_t *)obj)->enabled = 1;
    return 0;
}

static const field_t auth_fields[] = {
    {"issuer", pol_dec_str, offsetof(bulwark_policy_auth_t, issuer), F_REQUIRED, NULL, 0, 256, NULL},
    {"audience", pol_dec_str, offsetof(bulwark_policy_auth_t, audience), F_REQUIRED, NULL, 0, 256, NULL},
    {"algorithms", dec_algorithms, 0, 0, NULL, 0, 0, NULL},
    /* loads up to a day so that `policy check` can say why more than 5 min is wrong */
    {"leeway", pol_dec_secs, offsetof(bulwark_policy_auth_t, leeway_s), 0, NULL, 0, DAY, NULL},
    {"token_lifetime", pol_dec_secs, offsetof(bulwark_policy_auth_t, token_lifetime_s), 0, NULL, MINUTE, DAY, NULL},
    {"typ", pol_dec_str, offsetof(bulwark_policy_auth_t, typ), 0, NULL, 0, 64, NULL},
    {"keys", dec_keys, 0, F_REQUIRED | F_LIST, &key_schema, 0, 0, NULL},
    {"signing_key", dec_signing_key, 0, 0, NULL, 0, 0, NULL},
    {"users_file", dec_secret, offsetof(bulwark_policy_auth_t, users_file), 0, NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t auth_schema = {auth_fields, finish_auth};

/* ---- rate limits ---- */

static int dec_redis_address(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    const char *s, *why;

    if (string_value(l, n, "HOST:PORT", &s) != 0)
        return -1;
    if (pol_value_host_port(s, &why) != 0)
        return expected(l, n, why);
    return pol_dec_str(l, n, obj, f);
}

static const field_t redis_fields[] = {
    {"address", dec_redis_address, offsetof(bulwark_policy_redis_t, address), F_REQUIRED, NULL, 0, 0, NULL},
    {"password_file", dec_secret, offsetof(bulwark_policy_redis_t, password_file), 0, NULL, 0, 0, NULL},
    /* a request waits at most this for the store: it must never hang */
    {"timeout", pol_dec_ms, offsetof(bulwark_policy_redis_t, timeout_ms), 0, NULL, 1, 2 * SEC, NULL},
    {"on_failure", pol_dec_enum, offsetof(bulwark_policy_redis_t, on_failure), 0, NULL, 0, 0, pol_on_failure_names},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t redis_schema = {redis_fields, NULL};

static int dec_rl_key(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_ratelimit_t *rl = obj;
    const char *s, *why;

    (void)f;
    if (string_value(l, n, "client_address, token_subject or header:NAME", &s) != 0)
        return -1;
    if (strcmp(s, "client_address") == 0) {
        rl->key = BULWARK_RL_KEY_CLIENT_ADDRESS;
    } else if (strcmp(s, "token_subject") == 0) {
        if (!l->p->auth.enabled)
            return pol_fail(l, n, "token_subject needs the auth section (tokens to take the subject from)");
        rl->key = BULWARK_RL_KEY_TOKEN_SUBJECT;
    } else if (strncmp(s, "header:", 7) == 0) {
        if (pol_value_header_name(s + 7, &why) != 0)
            return expected(l, n, why);
        rl->key = BULWARK_RL_KEY_HEADER;
        if (pol_copy_lower(l, n, s + 7, n->len - 7, &rl->key_header) != 0)
            return -1;
    } else {
        return expected(l, n, "client_address, token_subject or header:NAME");
    }
    return 0;
}

static int dec_rl_prefix(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    (void)f;
    return decode_match_path(l, n, &((bulwark_ratelimit_t *)obj)->path_prefix);
}

static int finish_limit(loader_t *l, const ynode_t *map, void *obj)
{
    bulwark_ratelimit_t *rl = obj;
    const ynode_t *prefix = pol_ynode_get(map, "path_prefix");

    if (prefix != NULL && !rl->global)
        return pol_fail(l, prefix, "path_prefix applies to global limits only (global: true); "
                               "a route names its own limits in routes[].rate_limits");
    return 0;
}

static const field_t limit_fields[] = {
    {"requests", pol_dec_u32, offsetof(bulwark_ratelimit_t, requests), F_REQUIRED, NULL, 1, 1000000, NULL},
    /* a day: longer windows are quotas, not rate limits */
    {"window", pol_dec_ms, offsetof(bulwark_ratelimit_t, window_ms), F_REQUIRED, NULL, SEC, DAY, NULL},
    {"key", dec_rl_key, 0, 0, NULL, 0, 0, NULL},
    {"global", pol_dec_bool, offsetof(bulwark_ratelimit_t, global), 0, NULL, 0, 0, NULL},
    {"path_prefix", dec_rl_prefix, 0, 0, NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t limit_schema = {limit_fields, finish_limit};

static int named_limit(loader_t *l, const ynode_t *key, const ynode_t *value, void *elem)
{
    bulwark_ratelimit_t *rl = elem;
    size_t i;

    for (i = 0; i < key->len; i++)
        if (!((key->text[i] >= 'a' && key->text[i] <= 'z') || (key->text[i] >= '0' && key->text[i] <= '9') ||
              key->text[i] == '_' || key->text[i] == '-'))
            break;
    if (i != key->len || key->len == 0 || key->len > LIMIT_NAME_MAX)
        return expected(l, key, "a limit name of 1 to 32 characters a-z, 0-9, _ and -");
    set_limit_defaults(rl);
    if (pol_copy_str(l, key, key->text, key->len, &rl->name) != 0)
        return -1;
    return pol_decode_mapping(l, value, &limit_schema, rl);
}

static int dec_limits(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_ratelimits_t *r = obj;
    void *arr;

    (void)f;
    if (pol_decode_named(l, n, "limit names to limits", LIMITS_MAX, LIMITS_WHY, sizeof(bulwark_ratelimit_t), named_limit, &arr,
                     &r->num_limits) != 0)
        return -1;
    r->limits = arr;
    return 0;
}

static int finish_ratelimits(loader_t *l, const ynode_t *map, void *obj)
{
    bulwark_policy_ratelimits_t *r = obj;
    const ynode_t *redis = pol_ynode_get(map, "redis");

    if (r->store == BULWARK_RL_STORE_REDIS && redis == NULL)
        return pol_fail(l, map, "store: redis needs a redis section (address, ...)");
    if (r->store != BULWARK_RL_STORE_REDIS && redis != NULL)
        return pol_fail(l, redis, "a redis section is only used with store: redis");
    return 0;
}

static const field_t ratelimits_fields[] = {
    {"store", pol_dec_enum, offsetof(bulwark_policy_ratelimits_t, store), 0, NULL, 0, 0, pol_store_names},
    /* per limit; at about 64 bytes a key, 1,000,000 keys is 64 MiB */
    {"max_keys", pol_dec_u32, offsetof(bulwark_policy_ratelimits_t, max_keys), 0, NULL, 100, 1000000, NULL},
    /* /32 is one ISP customer at most; /128 lets one host take 2^64 keys */
    {"ipv6_prefix", pol_dec_u32, offsetof(bulwark_policy_ratelimits_t, ipv6_prefix), 0, NULL, 32, 128, NULL},
    {"redis", pol_dec_section, offsetof(bulwark_policy_ratelimits_t, redis), 0, &redis_schema, 0, 0, NULL},
    {"limits", dec_limits, 0, F_NAMED, &limit_schema, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t ratelimits_schema = {ratelimits_fields, finish_ratelimits};

/* ---- routes ---- */

static int dec_route_path(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_route_t *r = obj;
    bulwark_segment_t *segs;
    const char *s, *why;
    size_t i, j;

    (void)f;
    if (string_value(l, n, "a path", &s) != 0 || pol_copy_str(l, n, s, n->len, &r->path) != 0)
        return -1;
    if ((segs = pol_arena_calloc(l->arena, SEGMENTS_MAX, sizeof(*segs))) == NULL)
        return pol_fail_oom(l, n);
    if (pol_value_route_path(r->path.base, segs, SEGMENTS_MAX, &r->num_segments, &why) != 0)
        return expected(l, n, why);
    r->segments = segs;
    for (i = 0; i < r->num_segments; i++)
        for (j = 0; j < i; j++)
            if (segs[i].kind == BULWARK_SEGMENT_PARAM && segs[j].kind == BULWARK_SEGMENT_PARAM &&
                segs[i].text.len == segs[j].text.len && memcmp(segs[i].text.base, segs[j].text.base, segs[i].text.len) == 0)
                return pol_fail(l, n, "parameter {%.*s} appears twice", (int)segs[i].text.len, segs[i].text.base);
    return 0;
}

static int dec_route_methods(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_route_t *r = obj;

    (void)f;
    if (dec_methods_bits(l, n, &r->methods) != 0)
        return -1;
    if (r->methods & BULWARK_METHOD_GET) /* RFC 9110 §9.3.2: HEAD is GET without the body */
        r->methods |= BULWARK_METHOD_HEAD;
    return 0;
}

static int dec_static_dir(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    const char *s, *why;

    if (string_value(l, n, "a directory", &s) != 0)
        return -1;
    if (s[0] != '/' || pol_value_secret_path(s, &why) != 0)
        return expected(l, n, "an absolute directory without ., .. or empty components");
    return pol_dec_str(l, n, obj, f);
}

static int dec_content_type(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    const char *s, *why;

    if (string_value(l, n, "a content type", &s) != 0)
        return -1;
    if (pol_value_header_value(s, &why) != 0 || strchr(s, '/') == NULL)
        return expected(l, n, "a content type, e.g. text/html; charset=utf-8");
    return pol_dec_str(l, n, obj, f);
}

static int dec_inline(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_str_t *out = (bulwark_str_t *)((char *)obj + f->offset);

    if (pol_scalar(l, n, "the response body (a string)") == NULL)
        return -1;
    if (n->len > ROUTE_INLINE_MAX)
        return expected(l, n, "a body of at most 64 KiB; serve a larger one from a static dir");
    return pol_copy_str(l, n, n->text, n->len, out);
}

static int finish_static(loader_t *l, const ynode_t *map, void *obj)
{
    bulwark_route_static_t *st = obj;
    int has_dir = pol_ynode_get(map, "dir") != NULL, has_inline = pol_ynode_get(map, "inline") != NULL;

    if (has_dir == has_inline)
        return pol_fail(l, map, "expected exactly one of 'dir' and 'inline'");
    if (has_dir && pol_ynode_get(map, "content_type") != NULL)
        return pol_fail(l, pol_ynode_get(map, "content_type"), "content_type applies to inline bodies; files get theirs by extension");
    if (has_inline && st->content_type.len == 0)
        st->content_type = (bulwark_str_t){default_inline_type, sizeof(default_inline_type) - 1};
    return 0;
}

static const field_t static_fields[] = {
    {"dir", dec_static_dir, offsetof(bulwark_route_static_t, dir), 0, NULL, 0, 0, NULL},
    {"inline", dec_inline, offsetof(bulwark_route_static_t, inline_body), 0, NULL, 0, 0, NULL},
    {"content_type", dec_content_type, offsetof(bulwark_route_static_t, content_type), 0, NULL, 0, 256, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t static_schema = {static_fields, finish_static};

static int dec_upstream(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_route_proxy_t *px = obj;
    const char *s, *why;
    char *host, *path;

    (void)f;
    if (string_value(l, n, "an upstream URL", &s) != 0)
        return -1;
    host = pol_arena_alloc(l->arena, HOSTNAME_MAX + 1);
    path = pol_arena_alloc(l->arena, n->len + 2);
    if (host == NULL || path == NULL)
        return pol_fail_oom(l, n);
    if (pol_value_url(s, px, host, path, &why) != 0)
        return expected(l, n, why);
    return pol_copy_str(l, n, s, n->len, &px->upstream);
}

static int finish_proxy(loader_t *l, const ynode_t *map, void *obj)
{
    bulwark_route_proxy_t *px = obj;
    const ynode_t *ca = pol_ynode_get(map, "ca_file");

    if (ca != NULL && !px->https)
        return pol_fail(l, ca, "ca_file applies to https:// upstreams only");
    if (ca == NULL && px->https)
        return pol_fail(l, map, "an https:// upstream needs ca_file (the appliance has no system CA store)");
    return 0;
}

static const field_t proxy_fields[] = {
    {"upstream", dec_upstream, 0, F_REQUIRED, NULL, 0, 0, NULL},
    {"timeout", pol_dec_ms, offsetof(bulwark_route_proxy_t, timeout_ms), 0, NULL, SEC, 5 * MINUTE, NULL},
    {"ca_file", dec_secret, offsetof(bulwark_route_proxy_t, ca_file), 0, NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t proxy_schema = {proxy_fields, finish_proxy};

static int elem_scope(loader_t *l, const ynode_t *n, void *elem)
{
    const char *s, *why;

    if (string_value(l, n, "a scope", &s) != 0)
        return -1;
    if (pol_value_scope(s, &why) != 0)
        return expected(l, n, why);
    return pol_copy_str(l, n, s, n->len, elem);
}

static int dec_scopes(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_route_t *r = obj;
    void *arr;

    (void)f;
    if (pol_decode_list(l, n, "scopes", SCOPES_MAX, SCOPES_WHY, sizeof(bulwark_str_t), elem_scope, &arr, &r->num_scopes) != 0)
        return -1;
    r->scopes = arr;
    return no_duplicates(l, n, r->scopes, r->num_scopes);
}

/* the owner mapping as written; resolved against the route's path */
typedef struct st_owner_rule_t {
    bulwark_str_t param;
    bulwark_str_t claim;
} owner_rule_t;

static const field_t owner_fields[] = {
    {"param", pol_dec_str, offsetof(owner_rule_t, param), F_REQUIRED, NULL, 0, 32, NULL},
    {"claim", pol_dec_str, offsetof(owner_rule_t, claim), F_REQUIRED, NULL, 0, CLAIM_MAX, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t owner_schema = {owner_fields, NULL};

static int dec_owner(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_route_t *r = obj;
    owner_rule_t rule = {{NULL, 0}, {NULL, 0}};
    size_t i;

    (void)f;
    if (pol_decode_mapping(l, n, &owner_schema, &rule) != 0)
        return -1;
    for (i = 0; i < r->num_segments; i++) {
        const bulwark_segment_t *s = &r->segments[i];
        if (s->kind == BULWARK_SEGMENT_PARAM && s->text.len == rule.param.len &&
            memcmp(s->text.base, rule.param.base, s->text.len) == 0) {
            r->owner_segment = i;
            r->owner_claim = rule.claim;
            return 0;
        }
    }
    return pol_fail(l, pol_ynode_get(n, "param"), "the path %s has no {%s} segment", r->path.base, rule.param.base);
}

static int dec_route_limits(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    const bulwark_policy_ratelimits_t *rls = &l->p->ratelimits;
    bulwark_route_t *r = obj;
    size_t *idx, i, j;

    (void)f;
    if (n->kind != YNODE_SEQUENCE)
        return expected(l, n, "a list of limit names from rate_limits.limits");
    if (n->count > ROUTE_LIMITS_MAX)
        return pol_fail(l, n, "expected at most %d limits (%s)", ROUTE_LIMITS_MAX, ROUTE_LIMITS_WHY);
    if ((idx = pol_arena_calloc(l->arena, n->count + 1, sizeof(*idx))) == NULL)
        return pol_fail_oom(l, n);
    for (i = 0; i < n->count; i++) {
        const ynode_t *name = n->items[i];
        if (pol_scalar(l, name, "a limit name") == NULL)
            return -1;
        for (j = 0; j < rls->num_limits; j++)
            if (strcmp(rls->limits[j].name.base, name->text) == 0)
                break;
        if (j == rls->num_limits)
            return pol_fail(l, name, "no limit named '%s' in rate_limits.limits", name->text);
        if (rls->limits[j].global)
            return pol_fail(l, name, "'%s' is global: it applies already", name->text);
        for (size_t k = 0; k < i; k++)
            if (idx[k] == j)
                return pol_fail(l, name, "'%s' is listed twice", name->text);
        idx[i] = j;
    }
    r->limits = idx;
    r->num_limits = n->count;
    return 0;
}

static int elem_media_type(loader_t *l, const ynode_t *n, void *elem)
{
    const char *s, *why;

    if (string_value(l, n, "a media type", &s) != 0)
        return -1;
    if (pol_value_media_type(s, &why) != 0)
        return expected(l, n, why);
    return lower_copy(l, n, elem);
}

LIST_DECODER(dec_content_types, bulwark_route_body_t, content_types, "media types", CONTENT_TYPES_MAX, CONTENT_TYPES_WHY,
             elem_media_type)

static const bulwark_str_t json_media_type[] = {S("application/json")};

static int finish_body(loader_t *l, const ynode_t *map, void *obj)
{
    bulwark_route_body_t *b = obj;

    (void)l;
    (void)map;
    if (b->schema != BULWARK_SCHEMA_NONE && b->num_content_types == 0) {
        b->content_types = json_media_type;
        b->num_content_types = 1;
    }
    return 0;
}

static const field_t body_fields[] = {
    {"max_size", pol_dec_size, offsetof(bulwark_route_body_t, max_size), 0, NULL, 0, GIB, NULL},
    {"content_types", dec_content_types, 0, 0, NULL, 0, 0, NULL},
    {"schema", pol_dec_enum, offsetof(bulwark_route_body_t, schema), 0, NULL, 0, 0, pol_json_schema_names},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t body_schema = {body_fields, finish_body};

static int dec_route_headers(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_route_t *r = obj;

    (void)f;
    return decode_header_set(l, n, &r->headers, &r->num_headers);
}

static int route_kind(loader_t *l, const ynode_t *map, bulwark_route_t *r)
{
    int kinds = (pol_ynode_get(map, "builtin") != NULL) + (pol_ynode_get(map, "static") != NULL) + (pol_ynode_get(map, "proxy") != NULL);

    if (kinds != 1)
        return pol_fail(l, map, "expected exactly one of 'builtin', 'static' and 'proxy'");
    if (pol_ynode_get(map, "static") != NULL)
        r->kind = BULWARK_ROUTE_STATIC;
    else if (pol_ynode_get(map, "proxy") != NULL)
        r->kind = BULWARK_ROUTE_PROXY;
    else
        r->kind = BULWARK_ROUTE_BUILTIN;
    return 0;
}

static int check_builtin_needs(loader_t *l, const ynode_t *map, const bulwark_route_t *r)
{
    const bulwark_policy_auth_t *a = &l->p->auth;
    const ynode_t *n = pol_ynode_get(map, "builtin");
    const char *name = bulwark_builtin_name(r->builtin);

    if (r->builtin == BULWARK_BUILTIN_HEALTHZ)
        return 0;
    if (!a->enabled)
        return pol_fail(l, n, "builtin %s needs the auth section", name);
    if (r->builtin == BULWARK_BUILTIN_LOGIN && (a->signing_key == BULWARK_NO_KEY || a->users_file.len == 0))
        return pol_fail(l, n, "builtin login needs auth.signing_key and auth.users_file");
    return 0;
}

static int finish_route(loader_t *l, const ynode_t *map, void *obj)
{
    bulwark_route_t *r = obj;

    if (route_kind(l, map, r) != 0)
        return -1;
    if (r->kind == BULWARK_ROUTE_BUILTIN && check_builtin_needs(l, map, r) != 0)
        return -1;
    if ((r->num_scopes != 0 || r->owner_segment != BULWARK_NO_PARAM) && !l->p->auth.enabled)
        return pol_fail(l, map, "scopes and owner rules need the auth section (keys to verify tokens with)");
    if (r->owner_segment != BULWARK_NO_PARAM && r->num_scopes == 0)
        return pol_fail(l, pol_ynode_get(map, "owner"), "an owner rule needs scopes (the token it reads the claim from)");
    if (r->rate_limit_exempt && r->num_limits != 0)
        return pol_fail(l, pol_ynode_get(map, "rate_limits"), "a route exempt from rate limits names none");
    return 0;
}

static const field_t route_fields[] = {
    {"path", dec_route_path, 0, F_REQUIRED, NULL, 0, 0, NULL},
    {"methods", dec_route_methods, 0, F_REQUIRED, NULL, 0, 0, NULL},
    {"builtin", pol_dec_enum, offsetof(bulwark_route_t, builtin), 0, NULL, 0, 0, pol_builtin_names},
    {"static", pol_dec_section, offsetof(bulwark_route_t, static_), 0, &static_schema, 0, 0, NULL},
    {"proxy", pol_dec_section, offsetof(bulwark_route_t, proxy), 0, &proxy_schema, 0, 0, NULL},
    {"scopes", dec_scopes, 0, 0, NULL, 0, 0, NULL},
    {"owner", dec_owner, 0, 0, &owner_schema, 0, 0, NULL},
    {"rate_limits", dec_route_limits, 0, 0, NULL, 0, 0, NULL},
    {"rate_limit_exempt", pol_dec_bool, offsetof(bulwark_route_t, rate_limit_exempt), 0, NULL, 0, 0, NULL},
    {"body", pol_dec_section, offsetof(bulwark_route_t, body), 0, &body_schema, 0, 0, NULL},
    {"headers", dec_route_headers, 0, F_NAMED, NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t route_schema = {route_fields, finish_route};

static int elem_route(loader_t *l, const ynode_t *n, void *elem)
{
    set_route_defaults(l->p, elem);
    return pol_decode_mapping(l, n, &route_schema, elem);
}

/* same segments, parameters in the same places (whatever their names) */
static int same_path(const bulwark_route_t *a, const bulwark_route_t *b)
{
    size_t i;

    if (a->num_segments != b->num_segments)
        return 0;
    for (i = 0; i < a->num_segments; i++) {
        const bulwark_segment_t *x = &a->segments[i], *y = &b->segments[i];
        if (x->kind != y->kind)
            return 0;
        if (x->kind == BULWARK_SEGMENT_LITERAL && (x->text.len != y->text.len || memcmp(x->text.base, y->text.base, x->text.len) != 0))
            return 0;
    }
    return 1;
}

static int dec_routes(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    bulwark_policy_t *p = obj;
    bulwark_route_t *routes;
    size_t i, j;

    (void)f;
    if (pol_decode_list(l, n, "routes", ROUTES_MAX, ROUTES_WHY, sizeof(*routes), elem_route, (void **)&routes, &p->num_routes) != 0)
        return -1;
    p->routes = routes;
    for (i = 1; i < p->num_routes; i++)
        for (j = 0; j < i; j++)
            if (same_path(&routes[i], &routes[j]) && (routes[i].methods & routes[j].methods))
                return pol_fail(l, n->items[i], "%s is already routed for some of these methods by routes[%zu]",
                            routes[i].path.base, j);
    return 0;
}

/* ---- the document ---- */

static int finish_policy(loader_t *l, const ynode_t *root, void *obj)
{
    bulwark_policy_t *p = obj;

    if (p->tls.certificate_file.base[0] != '/' &&
        resolve_secret(l, root, p->tls.certificate_file.base, &p->tls.certificate_file) != 0)
        return -1;
    if (p->tls.key_file.base[0] != '/' && resolve_secret(l, root, p->tls.key_file.base, &p->tls.key_file) != 0)
        return -1;
    return merge_redact(l, root);
}

/* Table order is decoding order: secrets before the paths under it, limits
 * before routes' body sizes, auth and rate_limits before the routes that
 * name them. */
static const field_t policy_fields[] = {
    {"version", dec_version, 0, F_REQUIRED, NULL, 0, 0, NULL},
    {"environment", pol_dec_enum, offsetof(bulwark_policy_t, environment), 0, NULL, 0, 0, pol_environment_names},
    {"secrets", pol_dec_section, 0, 0, &secrets_schema, 0, 0, NULL},
    {"listeners", pol_dec_section, offsetof(bulwark_policy_t, listeners), 0, &listeners_schema, 0, 0, NULL},
    {"tls", pol_dec_section, offsetof(bulwark_policy_t, tls), 0, &tls_schema, 0, 0, NULL},
    {"hosts", dec_hosts, 0, F_REQUIRED, NULL, 0, 0, NULL},
    {"headers", pol_dec_section, offsetof(bulwark_policy_t, headers), 0, &headers_schema, 0, 0, NULL},
    {"cors", pol_dec_section, offsetof(bulwark_policy_t, cors), 0, &cors_schema, 0, 0, NULL},
    {"limits", pol_dec_section, offsetof(bulwark_policy_t, limits), 0, &limits_schema, 0, 0, NULL},
    {"trusted_proxies", dec_trusted_proxies, 0, 0, NULL, 0, 0, NULL},
    {"logging", pol_dec_section, offsetof(bulwark_policy_t, logging), 0, &logging_schema, 0, 0, NULL},
    {"auth", pol_dec_section, offsetof(bulwark_policy_t, auth), 0, &auth_schema, 0, 0, NULL},
    {"rate_limits", pol_dec_section, offsetof(bulwark_policy_t, ratelimits), 0, &ratelimits_schema, 0, 0, NULL},
    {"routes", dec_routes, 0, F_LIST, &route_schema, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const schema_t policy_schema = {policy_fields, finish_policy};

void bulwark_policy_keys(void (*cb)(void *arg, const char *key), void *arg)
{
    pol_list_keys(&policy_schema, "", cb, arg);
}

static int apply_options(loader_t *l, const bulwark_policy_options_t *opts)
{
    const char *why;

    l->declared_mount = l->p->secrets_mount;
    if (opts == NULL || opts->secrets_mount == NULL)
        return 0;
    if (opts->secrets_mount[0] != '/' || pol_value_secret_path(opts->secrets_mount, &why) != 0) {
        snprintf(l->err, l->errlen, "secrets directory %s: expected an absolute directory without ., .. or empty components",
                 opts->secrets_mount);
        return -1;
    }
    l->mount_override = opts->secrets_mount;
    l->p->secrets_mount.len = strlen(opts->secrets_mount);
    if ((l->p->secrets_mount.base = pol_arena_strndup(l->arena, opts->secrets_mount, l->p->secrets_mount.len)) == NULL) {
        snprintf(l->err, l->errlen, "%s: out of memory", l->file);
        return -1;
    }
    return 0;
}

int bulwark_policy_load_buffer(const char *name, const void *data, size_t len, const bulwark_policy_options_t *opts,
                               bulwark_policy_t **out, char *err, size_t errlen)
{
    bulwark_arena_t *arena = pol_arena_create(), *tree = pol_arena_create();
    bulwark_policy_t *p = arena ? pol_arena_alloc(arena, sizeof(*p)) : NULL;
    loader_t l = {.arena = arena, .p = p, .file = name, .err = err, .errlen = errlen};
    const ynode_t *root;
    int ret = -1;

    *out = NULL;
    if (p == NULL || tree == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto out;
    }
    p->arena_ = arena;
    set_defaults(p);
    if ((p->file.base = pol_arena_strndup(arena, name, strlen(name))) == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto out;
    }
    p->file.len = strlen(name);
    if (apply_options(&l, opts) != 0)
        goto out;
    if ((root = pol_ynode_parse(tree, name, data, len, err, errlen)) == NULL)
        goto out;
    if (pol_decode_mapping(&l, root, &policy_schema, p) != 0)
        goto out;
    *out = p;
    ret = 0;
out:
    pol_arena_destroy(tree);
    if (ret != 0)
        pol_arena_destroy(arena);
    return ret;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf;

    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    /* one byte more than allowed tells "too large" from "exactly the limit" */
    if ((buf = malloc(POLICY_FILE_MAX + 1)) == NULL) {
        (void)fclose(f); /* read-only stream: nothing to lose */
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    *len = fread(buf, 1, POLICY_FILE_MAX + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        free(buf);
        buf = NULL;
    }
    (void)fclose(f);
    return buf;
}

int bulwark_policy_load(const char *path, bulwark_policy_t **out, char *err, size_t errlen)
{
    return bulwark_policy_load_file(path, NULL, out, err, errlen);
}

int bulwark_policy_load_file(const char *path, const bulwark_policy_options_t *opts, bulwark_policy_t **out, char *err,
                             size_t errlen)
{
    size_t len;
    char *data = read_file(path, &len, err, errlen);
    int ret;

    *out = NULL;
    if (data == NULL)
        return -1;
    ret = bulwark_policy_load_buffer(path, data, len, opts, out, err, errlen);
    free(data);
    return ret;
}

void bulwark_policy_free(bulwark_policy_t *policy)
{
    if (policy != NULL)
        pol_arena_destroy(policy->arena_);
}
