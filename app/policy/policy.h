/*
 * The security policy: one YAML file (policy/SCHEMA.md), baked in at build
 * time, loaded once at start-up into the plain structures below.  The
 * middleware reads them at request time without parsing anything: lists are
 * arrays with counts, names are enums or lowercase strings, addresses are
 * parsed, durations are milliseconds and sizes are bytes.
 *
 * A loaded policy is read-only and owns all its memory; it is shared by every
 * event-loop thread and released with bulwark_policy_free().
 */
#ifndef BULWARK_POLICY_H
#define BULWARK_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* the only schema version this loader reads (the `version` key) */
#define BULWARK_POLICY_VERSION 1

/* NIST SP 800-107 / RFC 7518 §3.2: an HMAC key at least as long as the hash
 * output (HS256: 256 bits).  The JWT layer refuses shorter key files. */
#define BULWARK_HS_KEY_MIN_BITS 256

/* Not NUL-free by contract, but every string here is also NUL-terminated. */
typedef struct st_bulwark_str_t {
    const char *base;
    size_t len;
} bulwark_str_t;

typedef enum en_bulwark_environment_t {
    BULWARK_ENV_PRODUCTION,
    BULWARK_ENV_DEVELOPMENT,
} bulwark_environment_t;

/* methods as a bit set */
enum {
    BULWARK_METHOD_GET = 1u << 0,
    BULWARK_METHOD_HEAD = 1u << 1,
    BULWARK_METHOD_POST = 1u << 2,
    BULWARK_METHOD_PUT = 1u << 3,
    BULWARK_METHOD_PATCH = 1u << 4,
    BULWARK_METHOD_DELETE = 1u << 5,
    BULWARK_METHOD_OPTIONS = 1u << 6,
};

/* ---- listeners and TLS ---- */

typedef struct st_bulwark_policy_listeners_t {
    const bulwark_str_t *https; /* "0.0.0.0:443", "[::]:443": numeric ADDR:PORT */
    size_t num_https;
    const bulwark_str_t *http; /* answered with 308 to HTTPS */
    size_t num_http;
} bulwark_policy_listeners_t;

/* TLS protocol versions as on the wire (0x0303 is TLS 1.2) */
enum {
    BULWARK_TLS_1_0 = 0x0301,
    BULWARK_TLS_1_1 = 0x0302,
    BULWARK_TLS_1_2 = 0x0303,
    BULWARK_TLS_1_3 = 0x0304,
};

typedef struct st_bulwark_ciphersuite_info_t {
    const char *name; /* IANA name, e.g. "TLS_AES_128_GCM_SHA256" */
    uint16_t id;      /* IANA code point; the same number as mbedTLS's MBEDTLS_TLS_* ids */
    uint8_t aead;     /* GCM, CCM or ChaCha20-Poly1305 record protection */
    uint8_t ecdhe;    /* forward-secret key exchange (ECDHE, or any TLS 1.3 suite) */
    uint8_t tls13;
} bulwark_ciphersuite_info_t;

typedef struct st_bulwark_policy_tls_t {
    uint16_t min_version; /* BULWARK_TLS_1_x */
    const uint16_t *ciphersuites; /* IANA code points, preference order */
    size_t num_ciphersuites;
    const uint16_t *groups; /* IANA TLS group ids (x25519 = 29, secp256r1 = 23, secp384r1 = 24) */
    size_t num_groups;
    const bulwark_str_t *alpn; /* "h2", "http/1.1" in preference order */
    size_t num_alpn;
    bulwark_str_t certificate_file; /* absolute, resolved against secrets.mount */
    bulwark_str_t key_file;
} bulwark_policy_tls_t;

/* ---- hosts ---- */

typedef enum en_bulwark_host_kind_t {
    BULWARK_HOST_NAME,     /* "bulwark.test": equal, case-insensitively */
    BULWARK_HOST_WILDCARD, /* "*.bulwark.test": text is ".bulwark.test", a suffix after one or more labels */
    BULWARK_HOST_IPV4,     /* "127.0.0.1" */
    BULWARK_HOST_IPV6,     /* "[::1]": text is the canonical form, in brackets */
    BULWARK_HOST_ANY,      /* "*": everything (loads; `policy check` fails it) */
} bulwark_host_kind_t;

typedef struct st_bulwark_host_pattern_t {
    bulwark_host_kind_t kind;
    bulwark_str_t text; /* lowercase, without port */
    uint8_t addr[16];   /* IPV4: first 4 bytes; IPV6: all 16 */
} bulwark_host_pattern_t;

/* ---- headers ---- */

typedef struct st_bulwark_header_t {
    bulwark_str_t name;  /* as written in the policy, e.g. "X-Frame-Options" */
    bulwark_str_t lname; /* lowercase, as h2o and HTTP/2 use it */
    bulwark_str_t value;
} bulwark_header_t;

typedef enum en_bulwark_path_match_t {
    BULWARK_PATH_EXACT,
    BULWARK_PATH_PREFIX,
} bulwark_path_match_t;

typedef struct st_bulwark_header_override_t {
    bulwark_path_match_t match;
    bulwark_str_t path; /* the exact path, or the prefix */
    const bulwark_header_t *set; /* replace (or add) these on matching responses */
    size_t num_set;
} bulwark_header_override_t;

/* Precedence on a response: route headers > the last matching override >
 * the default set.  Strict-Transport-Security is sent over HTTPS only. */
typedef struct st_bulwark_policy_headers_t {
    const bulwark_header_t *set; /* every response, errors and redirects included */
    size_t num_set;
    const bulwark_header_override_t *overrides;
    size_t num_overrides;
} bulwark_policy_headers_t;

/* ---- CORS ---- */

typedef struct st_bulwark_policy_cors_t {
    int enabled; /* 0 when the policy has no cors section: no Access-Control-* at all */
    const bulwark_str_t *origins; /* exact, lowercase "scheme://host[:port]"; may hold "*" or "null" (check fails those) */
    size_t num_origins;
    int allow_credentials;
    unsigned methods; /* BULWARK_METHOD_* */
    const bulwark_str_t *allow_headers; /* lowercase */
    size_t num_allow_headers;
    const bulwark_str_t *expose_headers; /* as written */
    size_t num_expose_headers;
    uint32_t max_age_s;
    /* the response header values, joined once at load time */
    bulwark_str_t methods_value;        /* "GET, POST, PUT, PATCH, DELETE" */
    bulwark_str_t allow_headers_value;  /* "Authorization, Content-Type, X-Request-ID" */
    bulwark_str_t expose_headers_value; /* "X-Request-ID, Retry-After" */
    bulwark_str_t max_age_value;        /* "600" */
} bulwark_policy_cors_t;

/* ---- rate limits ---- */

typedef enum en_bulwark_ratelimit_key_t {
    BULWARK_RL_KEY_CLIENT_ADDRESS, /* peer, or rightmost untrusted X-Forwarded-For hop; IPv6 by ipv6_prefix */
    BULWARK_RL_KEY_TOKEN_SUBJECT,  /* `sub` of a verified token; requests without one are not counted */
    BULWARK_RL_KEY_HEADER,         /* the value of one request header */
} bulwark_ratelimit_key_t;

typedef struct st_bulwark_ratelimit_t {
    bulwark_str_t name;
    uint32_t requests; /* per window */
    uint64_t window_ms;
    bulwark_ratelimit_key_t key;
    bulwark_str_t key_header; /* lowercase; BULWARK_RL_KEY_HEADER only */
    int global;               /* applies to every request whose path starts with path_prefix */
    bulwark_str_t path_prefix; /* "/" unless given; meaningful when global */
} bulwark_ratelimit_t;

typedef enum en_bulwark_ratelimit_store_t {
    BULWARK_RL_STORE_LOCAL,
    BULWARK_RL_STORE_REDIS,
} bulwark_ratelimit_store_t;

typedef enum en_bulwark_redis_on_failure_t {
    BULWARK_REDIS_DENY,           /* answer 503 while the store is unreachable */
    BULWARK_REDIS_LOCAL_FALLBACK, /* count in this instance until it is back */
} bulwark_redis_on_failure_t;

typedef struct st_bulwark_policy_redis_t {
    bulwark_str_t address;       /* "HOST:PORT", "[v6]:PORT" */
    bulwark_str_t password_file; /* absolute, on the secrets volume; empty: no AUTH */
    uint64_t timeout_ms;
    bulwark_redis_on_failure_t on_failure;
} bulwark_policy_redis_t;

typedef struct st_bulwark_policy_ratelimits_t {
    const bulwark_ratelimit_t *limits;
    size_t num_limits;
    bulwark_ratelimit_store_t store;
    bulwark_policy_redis_t redis; /* store == REDIS only */
    uint32_t max_keys;    /* tracked keys per limit in the local store */
    uint32_t ipv6_prefix; /* client addresses in IPv6 are keyed by this prefix length */
} bulwark_policy_ratelimits_t;

/* ---- routes ---- */

typedef enum en_bulwark_segment_kind_t {
    BULWARK_SEGMENT_LITERAL, /* "items" */
    BULWARK_SEGMENT_PARAM,   /* "{id}": one non-empty segment; text is "id" */
    BULWARK_SEGMENT_REST,    /* "*", last only: zero or more further segments */
} bulwark_segment_kind_t;

typedef struct st_bulwark_segment_t {
    bulwark_segment_kind_t kind;
    bulwark_str_t text;
} bulwark_segment_t;

typedef enum en_bulwark_route_kind_t {
    BULWARK_ROUTE_BUILTIN,
    BULWARK_ROUTE_STATIC,
    BULWARK_ROUTE_PROXY,
} bulwark_route_kind_t;

typedef enum en_bulwark_builtin_t {
    BULWARK_BUILTIN_HEALTHZ,
    BULWARK_BUILTIN_JWKS,
    BULWARK_BUILTIN_LOGIN,
    BULWARK_BUILTIN_PASSWORD_RESET,
    BULWARK_BUILTIN_USERS_ME,
    BULWARK_BUILTIN_ITEMS_GET,
    BULWARK_BUILTIN_ITEMS_CREATE,
    BULWARK_BUILTIN_ADMIN_USER_DELETE,
    BULWARK_BUILTIN_COUNT_
} bulwark_builtin_t;

typedef enum en_bulwark_json_schema_t {
    BULWARK_SCHEMA_NONE,
    BULWARK_SCHEMA_LOGIN,          /* {"username": string, "password": string} */
    BULWARK_SCHEMA_PASSWORD_RESET, /* {"email": string} */
    BULWARK_SCHEMA_ITEM_CREATE,    /* {"name": string 1..100} */
} bulwark_json_schema_t;

typedef struct st_bulwark_route_static_t {
    bulwark_str_t dir;    /* absolute; empty when inline */
    bulwark_str_t inline_body;
    bulwark_str_t content_type; /* inline only */
} bulwark_route_static_t;

typedef struct st_bulwark_route_proxy_t {
    bulwark_str_t upstream; /* the URL as written */
    int https;
    bulwark_str_t host; /* name or numeric; IPv6 without brackets */
    uint16_t port;
    bulwark_str_t path; /* base path of the upstream, "/" at least */
    uint64_t timeout_ms;
    bulwark_str_t ca_file; /* https only; absolute, on the secrets volume; empty: none */
} bulwark_route_proxy_t;

typedef struct st_bulwark_route_body_t {
    uint64_t max_size; /* bytes; limits.max_body unless the route says less */
    const bulwark_str_t *content_types; /* lowercase media types, parameters ignored; none: any */
    size_t num_content_types;
    bulwark_json_schema_t schema;
} bulwark_route_body_t;

#define BULWARK_NO_PARAM ((size_t)-1)

typedef struct st_bulwark_route_t {
    unsigned methods; /* GET implies HEAD */
    bulwark_str_t path; /* as written */
    const bulwark_segment_t *segments;
    size_t num_segments; /* 0 for "/" */
    bulwark_route_kind_t kind;
    bulwark_builtin_t builtin;
    bulwark_route_static_t static_;
    bulwark_route_proxy_t proxy;
    const bulwark_str_t *scopes; /* all required; none: no authentication */
    size_t num_scopes;
    size_t owner_segment; /* index into segments, or BULWARK_NO_PARAM */
    bulwark_str_t owner_claim;
    const size_t *limits; /* indexes into ratelimits.limits */
    size_t num_limits;
    int rate_limit_exempt; /* no limit at all, global ones included */
    bulwark_route_body_t body;
    const bulwark_header_t *headers;
    size_t num_headers;
} bulwark_route_t;

/* ---- auth ---- */

typedef enum en_bulwark_jwt_alg_t {
    BULWARK_JWT_NONE, /* loads so that `policy check` can name it; never verified */
    BULWARK_JWT_HS256,
    BULWARK_JWT_HS384,
    BULWARK_JWT_HS512,
    BULWARK_JWT_RS256,
    BULWARK_JWT_PS256,
    BULWARK_JWT_ES256,
    BULWARK_JWT_ES384,
    BULWARK_JWT_ALG_COUNT_
} bulwark_jwt_alg_t;

typedef struct st_bulwark_jwt_key_t {
    bulwark_str_t kid;
    bulwark_jwt_alg_t alg; /* a token verified with this key must say exactly this alg */
    bulwark_str_t file;    /* absolute, on the secrets volume */
    uint32_t min_bits;     /* HS* only: the key file must hold at least this many bits */
} bulwark_jwt_key_t;

#define BULWARK_NO_KEY ((size_t)-1)

typedef struct st_bulwark_policy_auth_t {
    int enabled; /* 0 when the policy has no auth section */
    bulwark_str_t issuer;
    bulwark_str_t audience;
    unsigned algorithms; /* bit set of 1u << bulwark_jwt_alg_t */
    uint32_t leeway_s;
    uint32_t token_lifetime_s; /* of tokens the builtin login issues */
    bulwark_str_t typ; /* a token's typ header, when present, must equal this (case-insensitively) */
    const bulwark_jwt_key_t *keys;
    size_t num_keys;
    size_t signing_key; /* index into keys for the builtin login, or BULWARK_NO_KEY */
    bulwark_str_t users_file; /* absolute; empty when not given */
} bulwark_policy_auth_t;

/* ---- limits, proxies, logging ---- */

typedef struct st_bulwark_policy_limits_t {
    uint64_t max_body;
    uint64_t max_request_line;
    uint64_t max_header_bytes;
    uint32_t max_header_count;
    uint64_t header_timeout_ms;
    uint64_t idle_timeout_ms;
} bulwark_policy_limits_t;

typedef struct st_bulwark_cidr_t {
    uint8_t family; /* 4 or 6 */
    uint8_t prefix;
    uint8_t addr[16]; /* network address, host bits zero */
    bulwark_str_t text;
} bulwark_cidr_t;

typedef enum en_bulwark_log_format_t {
    BULWARK_LOG_JSON, /* one JSON object per line */
} bulwark_log_format_t;

typedef struct st_bulwark_policy_logging_t {
    bulwark_log_format_t format;
    const bulwark_str_t *redact_headers; /* lowercase; always includes the mandatory set */
    size_t num_redact_headers;
} bulwark_policy_logging_t;

typedef struct st_bulwark_policy_t {
    bulwark_str_t file; /* the name it was loaded from, for messages */
    bulwark_environment_t environment;
    bulwark_str_t secrets_mount; /* absolute, no trailing slash */
    bulwark_policy_listeners_t listeners;
    bulwark_policy_tls_t tls;
    const bulwark_host_pattern_t *hosts;
    size_t num_hosts;
    bulwark_policy_headers_t headers;
    bulwark_policy_cors_t cors;
    bulwark_policy_ratelimits_t ratelimits;
    const bulwark_route_t *routes;
    size_t num_routes;
    bulwark_policy_auth_t auth;
    bulwark_policy_limits_t limits;
    const bulwark_cidr_t *trusted_proxies;
    size_t num_trusted_proxies;
    bulwark_policy_logging_t logging;
    struct st_bulwark_arena_t *arena_; /* private: owns everything above */
} bulwark_policy_t;

typedef struct st_bulwark_policy_options_t {
    /* When non-NULL, replaces secrets.mount: relative secret paths resolve
     * under it, and absolute ones under the policy's mount move to it (the
     * native binary's secrets directory; the image mounts the volume where
     * the policy says). */
    const char *secrets_mount;
} bulwark_policy_options_t;

/* Loads the policy in `path`.  Returns 0 and *out, or -1 with one line in err:
 * "FILE:LINE:COLUMN: KEY.PATH: what was expected" (or "FILE: reason"). */
int bulwark_policy_load(const char *path, bulwark_policy_t **out, char *err, size_t errlen);
int bulwark_policy_load_file(const char *path, const bulwark_policy_options_t *opts, bulwark_policy_t **out, char *err,
                             size_t errlen);

/* The same from memory (the fuzz target's entry point); `name` is used in
 * messages only.  `data` need not be NUL-terminated; opts may be NULL. */
int bulwark_policy_load_buffer(const char *name, const void *data, size_t len, const bulwark_policy_options_t *opts,
                               bulwark_policy_t **out, char *err, size_t errlen);

void bulwark_policy_free(bulwark_policy_t *policy);

/* Every key the loader accepts, one call per key: "cors.allow_origins",
 * "routes[].path", "headers.set.<name>" (the SCHEMA.md spelling). */
void bulwark_policy_keys(void (*cb)(void *arg, const char *key), void *arg);

/* Names for messages and for the TLS layer. */
const bulwark_ciphersuite_info_t *bulwark_ciphersuite_info(uint16_t id);
const char *bulwark_jwt_alg_name(bulwark_jwt_alg_t alg);
const char *bulwark_builtin_name(bulwark_builtin_t builtin);

/* ---- `bulwark policy check` ---- */

typedef enum en_bulwark_check_level_t {
    BULWARK_CHECK_PASS,
    BULWARK_CHECK_WARN,
    BULWARK_CHECK_FAIL,
} bulwark_check_level_t;

typedef struct st_bulwark_check_result_t {
    bulwark_check_level_t level;
    const char *rule; /* "cors-wildcard" */
    const char *what; /* what was found */
    const char *fix;  /* how to fix it; NULL on PASS */
} bulwark_check_result_t;

typedef struct st_bulwark_check_counts_t {
    unsigned pass, warn, fail;
} bulwark_check_counts_t;

/* Runs every rule on the policy, calling cb once per rule (PASS, WARN or
 * FAIL).  Returns 1 when some rule failed, else 0. */
int bulwark_policy_check(const bulwark_policy_t *policy, void (*cb)(void *arg, const bulwark_check_result_t *r), void *arg,
                         bulwark_check_counts_t *counts);

/* "PASS rule: what" or "FAIL rule: what — Fix: fix"; returns the length
 * snprintf would have written. */
int bulwark_check_format(char *buf, size_t len, const bulwark_check_result_t *r);

/* the id of rule i in report order, NULL past the last */
const char *bulwark_check_rule_id(size_t i);

/* The path the service opens for a secret file the policy names: a file
 * under the policy's mount moves to secrets_dir when one is given (the
 * native binary); 0, or -1 when it does not fit in cap. */
int bulwark_policy_secret_path(char *out, size_t cap, const bulwark_policy_t *policy, const char *secrets_dir,
                               const bulwark_str_t *file);

#endif
