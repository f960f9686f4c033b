/*
 * `bulwark policy check`: the rules an appliance policy must meet (the
 * lesson's hardening checklist, made specific).  One line per rule, in the
 * order of `rules` below; policy/SCHEMA.md ("Check rules") explains each.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "policy.h"
#include "policy_names.h"
#include "policy_values.h"

/* RFC 6797 §11.2 and the HSTS preload list ask for at least a year. */
#define HSTS_MIN_AGE_S 31536000ull
/* Brute force: the lesson allows 5/min on login; anything up to 10/min
 * still makes online guessing hopeless against a decent password. */
#define LOGIN_MAX_REQUESTS 10
#define LOGIN_PER_MS (60 * 1000ull)
/* Reset and registration mail someone: the lesson's 3/hour, with slack. */
#define RESET_MAX_REQUESTS 5
#define RESET_PER_MS (60 * 60 * 1000ull)
/* Clock skew between hosts running NTP is seconds; RFC 8725 and common
 * libraries use up to a few minutes. */
#define LEEWAY_MAX_S 300
/* Beyond this, a body is an upload service, not an API request. */
#define BODY_MAX (10 * 1024 * 1024ull)
/* A trusted range this wide contains clients, and clients can then write
 * their own X-Forwarded-For. */
#define PROXY_V4_PREFIX_MIN 8
#define PROXY_V6_PREFIX_MIN 32

/* findings listed in a line before "and N more" */
#define FINDINGS_SHOWN 3
#define WHAT_MAX 1024

typedef struct st_rule_out_t {
    const bulwark_policy_t *p;
    bulwark_check_level_t level;
    unsigned findings;
    char what[WHAT_MAX];
    char pass[WHAT_MAX];
} rule_out_t;

static void finding(rule_out_t *o, bulwark_check_level_t level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finding(rule_out_t *o, bulwark_check_level_t level, const char *fmt, ...)
{
    size_t used = strlen(o->what);
    va_list ap;

    if (level > o->level)
        o->level = level;
    if (++o->findings > FINDINGS_SHOWN || used >= sizeof(o->what) - 1)
        return;
    if (used != 0)
        used += (size_t)snprintf(o->what + used, sizeof(o->what) - used, "; ");
    if (used >= sizeof(o->what) - 1)
        return;
    va_start(ap, fmt);
    /* Flawfinder: ignore (format attribute checks callers) */
    vsnprintf(o->what + used, sizeof(o->what) - used, fmt, ap);
    va_end(ap);
}

static void passed(rule_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void passed(rule_out_t *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(o->pass, sizeof(o->pass), fmt, ap); /* Flawfinder: ignore (format attribute checks callers) */
    va_end(ap);
}

static int production(const bulwark_policy_t *p)
{
    return p->environment == BULWARK_ENV_PRODUCTION;
}

static const char *method_label(unsigned methods, char *buf, size_t len)
{
    pol_format_methods(buf, len, (methods & ~(unsigned)BULWARK_METHOD_HEAD) ? methods & ~(unsigned)BULWARK_METHOD_HEAD : methods);
    return buf;
}

/* ---- CORS ---- */

static void rule_cors_wildcard(rule_out_t *o)
{
    const bulwark_policy_cors_t *c = &o->p->cors;
    size_t i;

    for (i = 0; i < c->num_origins; i++)
        if (strcmp(c->origins[i].base, "*") == 0)
            finding(o, BULWARK_CHECK_FAIL, "cors.allow_origins lists \"*\"%s",
                    c->allow_credentials ? " with allow_credentials: true (any site can act as the user)" : " (any site can read responses)");
    if (!c->enabled)
        passed(o, "no cors section: no cross-origin access");
    else
        passed(o, "cors.allow_origins lists %zu exact origin(s)", c->num_origins);
}

static void origin_rule(rule_out_t *o, const char *prefix, int exact, const char *why)
{
    const bulwark_policy_cors_t *c = &o->p->cors;
    size_t i;

    for (i = 0; i < c->num_origins; i++) {
        const char *origin = c->origins[i].base;
        int hit = exact ? strcmp(origin, prefix) == 0 : strncmp(origin, prefix, strlen(prefix)) == 0;
        if (!hit)
            continue;
        if (c->allow_credentials)
            finding(o, BULWARK_CHECK_FAIL, "cors.allow_origins lists %s with allow_credentials: true (%s)", origin, why);
        else
            finding(o, BULWARK_CHECK_WARN, "cors.allow_origins lists %s (%s)", origin, why);
    }
}

static void rule_cors_null_origin(rule_out_t *o)
{
    origin_rule(o, "null", 1, "sandboxed iframes and file: pages of any site send Origin: null");
    passed(o, "no \"null\" origin allowed");
}

static void rule_cors_http_origin(rule_out_t *o)
{
    origin_rule(o, "http://", 0, "a network attacker can inject script into a plain-HTTP page");
    passed(o, "every allowed origin is https://");
}

/* ---- hosts ---- */

static void rule_hosts_wildcard(rule_out_t *o)
{
    size_t i;

    for (i = 0; i < o->p->num_hosts; i++)
        if (o->p->hosts[i].kind == BULWARK_HOST_ANY)
            finding(o, BULWARK_CHECK_FAIL, "hosts lists \"*\": any Host header is accepted (cache poisoning, "
                                           "password-reset link hijacking, DNS rebinding)");
    passed(o, "%zu trusted host pattern(s), no \"*\"", o->p->num_hosts);
}

/* ---- security headers ---- */

/* A response's headers: the default set with one override or route set on
 * top.  Rules look at the default set and at each such combination. */
typedef struct st_header_view_t {
    const char *where;
    const bulwark_header_t *top;
    size_t num_top;
} header_view_t;

static const bulwark_str_t *find_header(const bulwark_header_t *set, size_t num, const char *lname)
{
    size_t i;

    for (i = 0; i < num; i++)
        if (strcmp(set[i].lname.base, lname) == 0)
            return &set[i].value;
    return NULL;
}

static const bulwark_str_t *view_header(const bulwark_policy_t *p, const header_view_t *v, const char *lname)
{
    const bulwark_str_t *h = find_header(v->top, v->num_top, lname);

    return h ? h : find_header(p->headers.set, p->headers.num_set, lname);
}

/* calls fn for the default set, each override and each route with headers */
static void each_view(rule_out_t *o, void (*fn)(rule_out_t *o, const header_view_t *v))
{
    const bulwark_policy_t *p = o->p;
    char where[160];
    size_t i;

    fn(o, &(header_view_t){"headers.set", NULL, 0});
    for (i = 0; i < p->headers.num_overrides; i++) {
        const bulwark_header_override_t *ov = &p->headers.overrides[i];
        snprintf(where, sizeof(where), "headers.overrides[%zu] (%s)", i, ov->path.base);
        fn(o, &(header_view_t){where, ov->set, ov->num_set});
    }
    for (i = 0; i < p->num_routes; i++) {
        const bulwark_route_t *r = &p->routes[i];
        if (r->num_headers == 0)
            continue;
        snprintf(where, sizeof(where), "routes[%zu].headers (%s)", i, r->path.base);
        fn(o, &(header_view_t){where, r->headers, r->num_headers});
    }
}

/* the value of directive `name` ("max-age") in a ;-separated header value,
 * or NULL; directive names are case-insensitive (RFC 6797 §6.1) */
static const char *directive(const bulwark_str_t *value, const char *name, char sep)
{
    const char *p = value->base;
    size_t len = strlen(name);

    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == sep)
            p++;
        if (strncasecmp(p, name, len) == 0 && (p[len] == '=' || p[len] == ' ' || p[len] == sep || p[len] == '\0'))
            return p + len;
        while (*p != '\0' && *p != sep)
            p++;
    }
    return NULL;
}

static void view_hsts(rule_out_t *o, const header_view_t *v)
{
    const bulwark_str_t *h = view_header(o->p, v, "strict-transport-security");
    const char *age;

    if (h == NULL) {
        finding(o, BULWARK_CHECK_FAIL, "%s: no Strict-Transport-Security", v->where);
        return;
    }
    age = directive(h, "max-age", ';');
    if (age == NULL || *age != '=' || strtoull(age + 1 + (age[1] == '"'), NULL, 10) < HSTS_MIN_AGE_S)
        finding(o, BULWARK_CHECK_FAIL, "%s: Strict-Transport-Security \"%s\" is shorter than one year", v->where, h->base);
}

static void rule_hsts(rule_out_t *o)
{
    const bulwark_str_t *h = find_header(o->p->headers.set, o->p->headers.num_set, "strict-transport-security");

    each_view(o, view_hsts);
    passed(o, "Strict-Transport-Security: %s", h ? h->base : "");
}

static void view_csp(rule_out_t *o, const header_view_t *v)
{
    if (view_header(o->p, v, "content-security-policy") == NULL)
        finding(o, BULWARK_CHECK_FAIL, "%s: no Content-Security-Policy", v->where);
}

static void rule_csp(rule_out_t *o)
{
    each_view(o, view_csp);
    passed(o, "Content-Security-Policy on every response");
}

static void view_nosniff(rule_out_t *o, const header_view_t *v)
{
    const bulwark_str_t *h = view_header(o->p, v, "x-content-type-options");

    if (h == NULL || strcasecmp(h->base, "nosniff") != 0)
        finding(o, BULWARK_CHECK_FAIL, "%s: no X-Content-Type-Options: nosniff", v->where);
}

static void rule_nosniff(rule_out_t *o)
{
    each_view(o, view_nosniff);
    passed(o, "X-Content-Type-Options: nosniff on every response");
}

/* X-Frame-Options DENY/SAMEORIGIN, or CSP frame-ancestors (which wins in
 * browsers that know it, CSP 2 §7.7.1) */
static void view_frame(rule_out_t *o, const header_view_t *v)
{
    const bulwark_str_t *xfo = view_header(o->p, v, "x-frame-options");
    const bulwark_str_t *csp = view_header(o->p, v, "content-security-policy");
    int xfo_ok = xfo && (strcasecmp(xfo->base, "DENY") == 0 || strcasecmp(xfo->base, "SAMEORIGIN") == 0);
    const char *fa = csp ? directive(csp, "frame-ancestors", ';') : NULL;

    while (fa != NULL && *fa == ' ')
        fa++;
    if (fa != NULL && *fa == '*')
        finding(o, BULWARK_CHECK_FAIL, "%s: CSP frame-ancestors * lets any site frame the page", v->where);
    else if (!xfo_ok && fa == NULL)
        finding(o, BULWARK_CHECK_FAIL, "%s: neither X-Frame-Options DENY/SAMEORIGIN nor CSP frame-ancestors", v->where);
}

static void rule_frame_protection(rule_out_t *o)
{
    each_view(o, view_frame);
    passed(o, "clickjacking protection (X-Frame-Options / frame-ancestors) on every response");
}

/* ---- routes ---- */

static int contains_word(const bulwark_route_t *r, const char *const *words)
{
    char lower[512];
    size_t len = r->path.len < sizeof(lower) - 1 ? r->path.len : sizeof(lower) - 1;

    memcpy(lower, r->path.base, len);
    lower[len] = '\0';
    pol_value_lowercase(lower, len);
    for (; *words != NULL; words++)
        if (strstr(lower, *words) != NULL)
            return 1;
    return 0;
}

/* FastAPI, Swagger, Spring, PHP, framework debug pages, and files that
 * must never be served */
static const char *const docs_segments[] = {
    "docs", "redoc", "openapi.json", "openapi.yaml", "openapi.yml", "api-docs", "graphiql", "debug", "_debug",
    "__debug__", "actuator", "server-status", "server-info", "phpinfo.php", "console", "trace", NULL,
};
static const char *const docs_prefixes[] = {"swagger", ".env", ".git", ".svn", ".ht", NULL};

static int is_docs_segment(const bulwark_str_t *s)
{
    const char *const *w;

    for (w = docs_segments; *w != NULL; w++)
        if (strlen(*w) == s->len && strncasecmp(s->base, *w, s->len) == 0)
            return 1;
    for (w = docs_prefixes; *w != NULL; w++)
        if (s->len >= strlen(*w) && strncasecmp(s->base, *w, strlen(*w)) == 0)
            return 1;
    return 0;
}

static void rule_docs_exposed(rule_out_t *o)
{
    const bulwark_policy_t *p = o->p;
    char m[64];
    size_t i, j;

    for (i = 0; i < p->num_routes; i++) {
        const bulwark_route_t *r = &p->routes[i];
        for (j = 0; j < r->num_segments; j++) {
            if (r->segments[j].kind == BULWARK_SEGMENT_LITERAL && is_docs_segment(&r->segments[j].text)) {
                finding(o, production(p) ? BULWARK_CHECK_FAIL : BULWARK_CHECK_WARN, "%s %s exposes docs/debug/files%s",
                        method_label(r->methods, m, sizeof(m)), r->path.base, production(p) ? " in production" : "");
                break;
            }
        }
    }
    passed(o, "no docs, debug or dot-file routes");
}

/* ---- rate limits ---- */

static const char *const reset_words[] = {"password", "passwd", "reset", "forgot", "recover", NULL};
static const char *const login_words[] = {"login", "log-in", "signin", "sign-in", "logon", "token", "session", "register",
                                          "signup", "sign-up", "otp", "mfa", "2fa", "verify", NULL};

/* path starts with prefix ("/api/" covers "/api/items"; "/" covers all) */
static int covers(const bulwark_str_t *prefix, const bulwark_str_t *path)
{
    return path->len >= prefix->len && memcmp(path->base, prefix->base, prefix->len) == 0;
}

/* requests/window <= max/per, keyed by client address (a login has no
 * subject yet, and a header is whatever the attacker sends) */
static int tight(const bulwark_ratelimit_t *rl, unsigned max, uint64_t per_ms)
{
    return rl->key == BULWARK_RL_KEY_CLIENT_ADDRESS && (uint64_t)rl->requests * per_ms <= (uint64_t)max * rl->window_ms;
}

static const bulwark_ratelimit_t *tight_limit(const bulwark_policy_t *p, const bulwark_route_t *r, unsigned max, uint64_t per_ms)
{
    const bulwark_policy_ratelimits_t *rls = &p->ratelimits;
    size_t i;

    if (r->rate_limit_exempt)
        return NULL;
    for (i = 0; i < r->num_limits; i++)
        if (tight(&rls->limits[r->limits[i]], max, per_ms))
            return &rls->limits[r->limits[i]];
    for (i = 0; i < rls->num_limits; i++)
        if (rls->limits[i].global && covers(&rls->limits[i].path_prefix, &r->path) && tight(&rls->limits[i], max, per_ms))
            return &rls->limits[i];
    return NULL;
}

static void sensitive_rule(rule_out_t *o, int reset, unsigned max, uint64_t per_ms, const char *per)
{
    const bulwark_policy_t *p = o->p;
    char shown[WHAT_MAX] = "";
    size_t i, n = 0, used = 0;

    for (i = 0; i < p->num_routes; i++) {
        const bulwark_route_t *r = &p->routes[i];
        const bulwark_ratelimit_t *rl;
        int is_reset = contains_word(r, reset_words);
        if (!(r->methods & BULWARK_METHOD_POST) || is_reset != reset || (!reset && !contains_word(r, login_words)))
            continue;
        n++;
        if ((rl = tight_limit(p, r, max, per_ms)) == NULL) {
            finding(o, BULWARK_CHECK_FAIL, "POST %s has no limit of at most %u per %s per client address%s", r->path.base, max,
                    per, r->rate_limit_exempt ? " (it is rate_limit_exempt)" : "");
        } else if (used < sizeof(shown) - 1) {
            char w[32];
            pol_format_ms(w, sizeof(w), rl->window_ms);
            used += (size_t)snprintf(shown + used, sizeof(shown) - used, "%sPOST %s: %s %u/%s", used ? ", " : "", r->path.base,
                                     rl->name.base, rl->requests, w);
        }
    }
    if (n == 0)
        passed(o, "no %s-like routes", reset ? "password-reset" : "login");
    else
        passed(o, "%s", shown);
}

static void rule_login_limit(rule_out_t *o)
{
    sensitive_rule(o, 0, LOGIN_MAX_REQUESTS, LOGIN_PER_MS, "minute");
}

static void rule_reset_limit(rule_out_t *o)
{
    sensitive_rule(o, 1, RESET_MAX_REQUESTS, RESET_PER_MS, "hour");
}

static void rule_general_limit(rule_out_t *o)
{
    const bulwark_policy_ratelimits_t *rls = &o->p->ratelimits;
    size_t i;

    for (i = 0; i < rls->num_limits; i++) {
        const bulwark_ratelimit_t *rl = &rls->limits[i];
        if (rl->global && rl->key == BULWARK_RL_KEY_CLIENT_ADDRESS && rl->path_prefix.len == 1) {
            char w[32];
            pol_format_ms(w, sizeof(w), rl->window_ms);
            passed(o, "global limit %s: %u per %s per client address", rl->name.base, rl->requests, w);
            return;
        }
    }
    finding(o, BULWARK_CHECK_FAIL, "no global limit keyed by client address covers every path");
}

/* ---- auth ---- */

static void rule_jwt_alg_none(rule_out_t *o)
{
    const bulwark_policy_auth_t *a = &o->p->auth;

    if (a->enabled && (a->algorithms & (1u << BULWARK_JWT_NONE)))
        finding(o, BULWARK_CHECK_FAIL, "auth.algorithms allows \"none\": unsigned tokens");
    passed(o, a->enabled ? "auth.algorithms has no \"none\"" : "no auth section");
}

static unsigned hmac_bits(bulwark_jwt_alg_t alg)
{
    return alg == BULWARK_JWT_HS512 ? 512 : alg == BULWARK_JWT_HS384 ? 384 : 256;
}

/* RFC 7518 §3.2: an HMAC key at least as long as the hash output */
static void rule_jwt_hs_key(rule_out_t *o)
{
    const bulwark_policy_auth_t *a = &o->p->auth;
    size_t i;

    for (i = 0; a->enabled && i < a->num_keys; i++) {
        const bulwark_jwt_key_t *k = &a->keys[i];
        if (pol_jwt_alg_is_hmac(k->alg) && k->min_bits < hmac_bits(k->alg))
            finding(o, BULWARK_CHECK_FAIL, "key %s (%s) allows a %u-bit secret", k->kid.base, bulwark_jwt_alg_name(k->alg),
                    k->min_bits);
    }
    passed(o, "no HMAC key shorter than its hash");
}

static void rule_jwt_leeway(rule_out_t *o)
{
    const bulwark_policy_auth_t *a = &o->p->auth;

    if (a->enabled && a->leeway_s > LEEWAY_MAX_S)
        finding(o, BULWARK_CHECK_FAIL, "auth.leeway is %us: expired tokens stay valid that long", (unsigned)a->leeway_s);
    if (a->enabled)
        passed(o, "auth.leeway %us (at most %us)", (unsigned)a->leeway_s, LEEWAY_MAX_S);
    else
        passed(o, "no auth section");
}

/* ---- TLS ---- */

static void rule_tls_version(rule_out_t *o)
{
    uint16_t v = o->p->tls.min_version;

    if (v < BULWARK_TLS_1_2)
        finding(o, BULWARK_CHECK_FAIL, "tls.min_version is 1.%u (RFC 8996 deprecates TLS 1.0 and 1.1)", (unsigned)(v - 0x0301));
    passed(o, "tls.min_version 1.%u", (unsigned)(v - 0x0301));
}

static void rule_tls_ciphers(rule_out_t *o)
{
    const bulwark_policy_tls_t *t = &o->p->tls;
    size_t i;

    for (i = 0; i < t->num_ciphersuites; i++) {
        const bulwark_ciphersuite_info_t *c = bulwark_ciphersuite_info(t->ciphersuites[i]);
        if (c == NULL || (c->aead && c->ecdhe))
            continue;
        finding(o, BULWARK_CHECK_FAIL, "%s %s", c->name,
                !c->aead ? "is not AEAD (CBC: padding-oracle and Lucky 13 attacks)" : "has no ECDHE (no forward secrecy)");
    }
    passed(o, "%zu cipher suites, all ECDHE with AEAD", t->num_ciphersuites);
}

/* ---- input limits ---- */

static void rule_body_limit(rule_out_t *o)
{
    const bulwark_policy_t *p = o->p;
    char a[32], b[32];
    size_t i;

    pol_format_size(b, sizeof(b), BODY_MAX);
    if (p->limits.max_body > BODY_MAX) {
        pol_format_size(a, sizeof(a), p->limits.max_body);
        finding(o, BULWARK_CHECK_FAIL, "limits.max_body is %s (more than %s)", a, b);
    }
    for (i = 0; i < p->num_routes; i++) {
        if (p->routes[i].body.max_size <= BODY_MAX)
            continue;
        pol_format_size(a, sizeof(a), p->routes[i].body.max_size);
        finding(o, BULWARK_CHECK_FAIL, "routes[%zu] (%s) body.max_size is %s (more than %s)", i, p->routes[i].path.base, a, b);
    }
    pol_format_size(a, sizeof(a), p->limits.max_body);
    passed(o, "limits.max_body %s (at most %s)", a, b);
}

/* ---- secrets ---- */

static int under(const bulwark_str_t *dir, const bulwark_str_t *path)
{
    return path->len > dir->len && memcmp(path->base, dir->base, dir->len) == 0 && path->base[dir->len] == '/';
}

static void secret_file(rule_out_t *o, const char *key, const bulwark_str_t *path)
{
    if (path->len != 0 && !under(&o->p->secrets_mount, path))
        finding(o, BULWARK_CHECK_FAIL, "%s %s is outside %s", key, path->base, o->p->secrets_mount.base);
}

static void rule_secrets_path(rule_out_t *o)
{
    const bulwark_policy_t *p = o->p;
    char key[64];
    size_t i;

    secret_file(o, "tls.certificate", &p->tls.certificate_file);
    secret_file(o, "tls.key", &p->tls.key_file);
    for (i = 0; i < p->auth.num_keys; i++) {
        snprintf(key, sizeof(key), "auth.keys[%zu].file", i);
        secret_file(o, key, &p->auth.keys[i].file);
    }
    secret_file(o, "auth.users_file", &p->auth.users_file);
    if (p->ratelimits.store == BULWARK_RL_STORE_REDIS)
        secret_file(o, "rate_limits.redis.password_file", &p->ratelimits.redis.password_file);
    for (i = 0; i < p->num_routes; i++) {
        snprintf(key, sizeof(key), "routes[%zu].proxy.ca_file", i);
        if (p->routes[i].kind == BULWARK_ROUTE_PROXY)
            secret_file(o, key, &p->routes[i].proxy.ca_file);
    }
    passed(o, "every key, certificate and password file is under %s", p->secrets_mount.base);
}

static void rule_static_secrets(rule_out_t *o)
{
    const bulwark_policy_t *p = o->p;
    const bulwark_str_t *mount = &p->secrets_mount;
    size_t i;

    for (i = 0; i < p->num_routes; i++) {
        const bulwark_str_t *dir = &p->routes[i].static_.dir;
        if (p->routes[i].kind != BULWARK_ROUTE_STATIC || dir->len == 0)
            continue;
        int same = dir->len == mount->len && memcmp(dir->base, mount->base, dir->len) == 0;
        if (same || under(mount, dir) || under(dir, mount) || strcmp(dir->base, "/") == 0)
            finding(o, BULWARK_CHECK_FAIL, "routes[%zu] (%s) serves %s, overlapping secrets.mount %s", i, p->routes[i].path.base, dir->base,
                    mount->base);
    }
    passed(o, "no static route serves the secrets volume");
}

/* ---- proxies ---- */

static void rule_proxy_plain_http(rule_out_t *o)
{
    const bulwark_policy_t *p = o->p;
    size_t i;

    for (i = 0; i < p->num_routes; i++) {
        const bulwark_route_proxy_t *px = &p->routes[i].proxy;
        if (p->routes[i].kind != BULWARK_ROUTE_PROXY || px->https || pol_value_is_loopback_host(px->host.base))
            continue;
        if (production(p))
            finding(o, BULWARK_CHECK_WARN, "routes[%zu] (%s) forwards to %s over plain HTTP (tokens and X-Auth-* in clear)", i,
                    p->routes[i].path.base, px->upstream.base);
    }
    if (production(p))
        passed(o, "no plain-HTTP upstream off this host");
    else
        passed(o, "development: plain-HTTP upstreams are not checked");
}

static void rule_trusted_proxies_wide(rule_out_t *o)
{
    const bulwark_policy_t *p = o->p;
    size_t i;

    for (i = 0; i < p->num_trusted_proxies; i++) {
        const bulwark_cidr_t *c = &p->trusted_proxies[i];
        if (c->prefix < (c->family == 4 ? PROXY_V4_PREFIX_MIN : PROXY_V6_PREFIX_MIN))
            finding(o, BULWARK_CHECK_FAIL, "trusted_proxies lists %s: clients in it can forge X-Forwarded-For", c->text.base);
    }
    passed(o, "%zu trusted proxy range(s), none wider than /%d (IPv4) or /%d (IPv6)", p->num_trusted_proxies,
           PROXY_V4_PREFIX_MIN, PROXY_V6_PREFIX_MIN);
}

static void rule_environment(rule_out_t *o)
{
    if (!production(o->p))
        finding(o, BULWARK_CHECK_WARN, "environment is development: docs/debug routes are only warned about");
    passed(o, "environment: production");
}

/* ---- the rules, in report order ---- */

typedef struct st_rule_t {
    const char *id;
    void (*fn)(rule_out_t *o);
    const char *fix;
} rule_t;

static const rule_t rules[] = {
    {"cors-wildcard", rule_cors_wildcard, "list the exact origins that may call the API, e.g. https://app.example.com"},
    {"cors-null-origin", rule_cors_null_origin, "remove \"null\" from cors.allow_origins"},
    {"cors-http-origin", rule_cors_http_origin, "allow only https:// origins"},
    {"hosts-wildcard", rule_hosts_wildcard, "list the host names clients use: name, *.domain, IP literal"},
    {"hsts", rule_hsts, "set Strict-Transport-Security: max-age=63072000; includeSubDomains in headers.set"},
    {"csp", rule_csp, "set Content-Security-Policy in headers.set, e.g. default-src 'none'; frame-ancestors 'none'"},
    {"nosniff", rule_nosniff, "set X-Content-Type-Options: nosniff in headers.set"},
    {"frame-protection", rule_frame_protection,
     "set X-Frame-Options: DENY in headers.set, or frame-ancestors 'none' in the Content-Security-Policy"},
    {"docs-exposed", rule_docs_exposed,
     "remove docs, debug and dot-file routes from production policies (serve docs from a development build only)"},
    {"login-limit", rule_login_limit,
     "name a limit of at most 10 per minute keyed by client_address in the route's rate_limits (e.g. login: "
     "{requests: 5, window: 1m})"},
    {"reset-limit", rule_reset_limit,
     "name a limit of at most 5 per hour keyed by client_address in the route's rate_limits (e.g. password_reset: "
     "{requests: 3, window: 1h})"},
    {"general-limit", rule_general_limit,
     "add a catch-all limit to rate_limits.limits, e.g. general: {requests: 100, window: 1m, global: true}"},
    {"jwt-alg-none", rule_jwt_alg_none, "remove none from auth.algorithms (ES256 is the default)"},
    {"jwt-hs-key", rule_jwt_hs_key,
     "use ES256 keys, or set min_bits to at least the hash size (256 for HS256) and use a random key that long"},
    {"jwt-leeway", rule_jwt_leeway, "set auth.leeway to at most 5m (30s is the default)"},
    {"tls-version", rule_tls_version, "set tls.min_version: \"1.2\" (or \"1.3\")"},
    {"tls-ciphers", rule_tls_ciphers,
     "list only ECDHE suites with AES-GCM or ChaCha20-Poly1305 in tls.ciphersuites (or leave it out for the default)"},
    {"body-limit", rule_body_limit, "keep limits.max_body and every routes[].body.max_size at most 10MiB (1MiB is the default)"},
    {"secrets-path", rule_secrets_path,
     "put the file on the secrets volume and name it relative to secrets.mount (e.g. jwt-signing-key.pem)"},
    {"static-secrets", rule_static_secrets, "serve static files from a directory that neither holds nor is inside secrets.mount"},
    {"proxy-plain-http", rule_proxy_plain_http,
     "use an https:// upstream with proxy.ca_file, or keep the upstream on this host"},
    {"trusted-proxies-wide", rule_trusted_proxies_wide, "list only the load balancers' own addresses or subnets"},
    {"environment", rule_environment, "set environment: production for any deployment"},
};

#define RULES_COUNT (sizeof(rules) / sizeof(rules[0]))

const char *bulwark_check_rule_id(size_t i)
{
    return i < RULES_COUNT ? rules[i].id : NULL;
}

static void report(const rule_t *rule, rule_out_t *o, void (*cb)(void *arg, const bulwark_check_result_t *r), void *arg)
{
    bulwark_check_result_t r = {o->level, rule->id, o->pass, NULL};
    char more[48];

    if (o->findings != 0) {
        if (o->findings > FINDINGS_SHOWN) {
            snprintf(more, sizeof(more), "; and %u more", o->findings - FINDINGS_SHOWN);
            strncat(o->what, more, sizeof(o->what) - strlen(o->what) - 1);
        }
        r.what = o->what;
        r.fix = rule->fix;
    }
    cb(arg, &r);
}

int bulwark_policy_check(const bulwark_policy_t *policy, void (*cb)(void *arg, const bulwark_check_result_t *r), void *arg,
                         bulwark_check_counts_t *counts)
{
    bulwark_check_counts_t c = {0, 0, 0};
    size_t i;

    for (i = 0; i < RULES_COUNT; i++) {
        rule_out_t *o = calloc(1, sizeof(*o));
        if (o == NULL) { /* cannot report: count it as a failure so nothing passes unseen */
            c.fail++;
            continue;
        }
        o->p = policy;
        rules[i].fn(o);
        report(&rules[i], o, cb, arg);
        if (o->level == BULWARK_CHECK_FAIL)
            c.fail++;
        else if (o->level == BULWARK_CHECK_WARN)
            c.warn++;
        else
            c.pass++;
        free(o);
    }
    if (counts != NULL)
        *counts = c;
    return c.fail != 0;
}

int bulwark_check_format(char *buf, size_t len, const bulwark_check_result_t *r)
{
    static const char *const level_names[] = {"PASS", "WARN", "FAIL"};

    if (r->fix == NULL)
        return snprintf(buf, len, "%s %s: %s", level_names[r->level], r->rule, r->what);
    return snprintf(buf, len, "%s %s: %s \xe2\x80\x94 Fix: %s", level_names[r->level], r->rule, r->what, r->fix);
}
