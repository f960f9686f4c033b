/*
 * JWT as JWS compact serialisation (RFC 7515, 7519), ES256 only (RFC 7518
 * §3.4), verified with the discipline of RFC 8725:
 *
 *  - the token is bounded in size and has exactly three segments of strict
 *    base64url (no padding, canonical trailing bits);
 *  - the header is a JSON object without duplicate members; its `alg` must
 *    be in a fixed allow-list before any key is looked up (§3.1: `none`,
 *    HS*, RS*, PS*, ES384 and unknown names are refused);
 *  - keys come only from the configured key set, by `kid`; `jwk`, `jku`,
 *    `x5u` and `x5c` in a header are refused (§3.10); a token without `kid`
 *    is accepted only when exactly one key is configured;
 *  - `crit` is refused (no extension is understood: RFC 7515 §4.1.11);
 *  - `typ`, when present, must name a JWT (§3.11);
 *  - the signature is 64 bytes r||s (not DER) with 1 <= r, s < n, checked
 *    before the curve arithmetic (the all-zero "psychic signature");
 *  - only then is the payload parsed: `exp` required, `nbf` and `iat`
 *    checked with leeway, `iss` and `aud` matched exactly, `sub` required.
 *
 * A refusal carries a specific reason for the operator's log; clients must
 * only ever be told 401 (bulwark_jwt_reason_name() is for logs).
 */
#ifndef BULWARK_CRYPTO_JWT_H
#define BULWARK_CRYPTO_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "jwt_keys.h"

/* An ES256 token with ordinary claims is 300-600 bytes; 8 KiB is the
 * request-header budget a single credential may take. */
#define BULWARK_JWT_TOKEN_MAX 8192
/* A decoded JOSE header is under 100 bytes ({"alg","typ","kid"}). */
#define BULWARK_JWT_HEADER_MAX 1024
/* Real headers and claims nest two levels (object, `aud` array); the bound
 * keeps jansson's recursive parser shallow on small thread stacks. */
#define BULWARK_JWT_JSON_DEPTH_MAX 8
/* A longer leeway is no longer clock skew but a longer token lifetime. */
#define BULWARK_JWT_LEEWAY_MAX 300
/* NumericDate (RFC 7519 §2) bounded to 0 .. 9999-12-31T23:59:59Z: anything
 * outside is not a date an issuer meant, and the bound keeps every
 * conversion to int64_t exact. */
#define BULWARK_JWT_NUMERICDATE_MAX 253402300799.0
/* `sub` is forwarded upstream (X-Auth-Subject), logged and used as a rate
 * limit key: bounded, and printable ASCII without space (VCHAR). */
#define BULWARK_JWT_SUB_MAX 255
/* RFC 6749 §3.3 scope: scope-tokens separated by single spaces */
#define BULWARK_JWT_SCOPE_MAX 1024
#define BULWARK_JWT_SCOPES_MAX 32
/* `jti` is logged: bounded, VCHAR */
#define BULWARK_JWT_JTI_MAX 128
/* bytes of randomness in a `jti` we issue (128 bits: collision-free) */
#define BULWARK_JWT_JTI_RANDOM 16

/* The algorithms this verifier implements, as a bit set. */
enum {
    BULWARK_JWT_ALLOW_ES256 = 1u << 0,
};

typedef enum en_bulwark_jwt_reason_t {
    BULWARK_JWT_OK = 0,
    BULWARK_JWT_ERR_CONFIG,            /* the expectations or the key set are unusable */
    BULWARK_JWT_ERR_TOO_LARGE,         /* over max_token_bytes */
    BULWARK_JWT_ERR_SEGMENTS,          /* not exactly three dot-separated segments */
    BULWARK_JWT_ERR_HEADER_TOO_LARGE,  /* header over BULWARK_JWT_HEADER_MAX */
    BULWARK_JWT_ERR_HEADER_BASE64,     /* header segment is not strict base64url */
    BULWARK_JWT_ERR_HEADER_JSON,       /* not a JSON object, duplicate member, too deep */
    BULWARK_JWT_ERR_ALG_MISSING,       /* no `alg`, or not a string */
    BULWARK_JWT_ERR_ALG_NOT_ALLOWED,   /* none, HS*, RS*, ES384, ...: not in the allow-list */
    BULWARK_JWT_ERR_EMBEDDED_KEY,      /* jwk, jku, x5u or x5c in the header */
    BULWARK_JWT_ERR_CRIT,              /* crit present: no extension is understood */
    BULWARK_JWT_ERR_TYP,               /* typ not a JWT type (or missing when required) */
    BULWARK_JWT_ERR_KID_MALFORMED,     /* kid not a string, or too long */
    BULWARK_JWT_ERR_KID_UNKNOWN,       /* kid names no configured key */
    BULWARK_JWT_ERR_KID_REQUIRED,      /* no kid and several keys configured */
    BULWARK_JWT_ERR_PAYLOAD_BASE64,    /* payload segment is not strict base64url */
    BULWARK_JWT_ERR_SIG_BASE64,        /* signature segment is not strict base64url */
    BULWARK_JWT_ERR_SIG_LENGTH,        /* not 64 bytes (DER, truncated, other curve) */
    BULWARK_JWT_ERR_SIG_RANGE,         /* r or s is 0 or >= n */
    BULWARK_JWT_ERR_SIG_INVALID,       /* the signature does not verify */
    BULWARK_JWT_ERR_CLAIMS_JSON,       /* not a JSON object, duplicate member, too deep */
    BULWARK_JWT_ERR_EXP_MISSING,
    BULWARK_JWT_ERR_EXP_MALFORMED,     /* not a number, or out of range */
    BULWARK_JWT_ERR_EXPIRED,
    BULWARK_JWT_ERR_NBF_MALFORMED,
    BULWARK_JWT_ERR_NOT_YET_VALID,
    BULWARK_JWT_ERR_IAT_MALFORMED,
    BULWARK_JWT_ERR_IAT_FUTURE,
    BULWARK_JWT_ERR_ISS,               /* missing or not the expected issuer */
    BULWARK_JWT_ERR_AUD,               /* missing, malformed or not containing our audience */
    BULWARK_JWT_ERR_SUB,               /* missing, not a string, empty, too long or not VCHAR */
    BULWARK_JWT_ERR_SCOPE,             /* not a string of RFC 6749 scope-tokens, or too many */
    BULWARK_JWT_ERR_JTI,               /* not a string, too long or not VCHAR */
    BULWARK_JWT_ERR_INTERNAL,          /* PSA or memory failure */
    BULWARK_JWT_REASON_COUNT_
} bulwark_jwt_reason_t;

/* "alg_not_allowed", ...: stable snake_case names for log lines */
const char *bulwark_jwt_reason_name(bulwark_jwt_reason_t reason);

typedef struct st_bulwark_jwt_expect_t {
    const char *iss;          /* required: `iss` must equal it */
    const char *aud;          /* required: `aud` must equal or contain it */
    int64_t now;              /* the caller's clock, seconds since the epoch */
    uint32_t leeway_s;        /* clock skew allowed on exp/nbf/iat, <= BULWARK_JWT_LEEWAY_MAX */
    size_t max_token_bytes;   /* 0: BULWARK_JWT_TOKEN_MAX; larger values are capped to it */
    unsigned allowed_algs;    /* BULWARK_JWT_ALLOW_*; 0: ES256 */
    /* NULL: a present `typ` must be "JWT" or "at+jwt" (RFC 9068); else a
     * present `typ` must be this media type. Compared case-insensitively
     * with "application/" implied (RFC 7515 §4.1.9). */
    const char *typ;
    int typ_required;         /* 1: a token without `typ` is refused */
} bulwark_jwt_expect_t;

/* The claims of a verified token. Holds a reference to the payload (for
 * claims the middleware looks up by name): release with
 * bulwark_jwt_claims_free(), also after a failed verification. */
typedef struct st_bulwark_jwt_claims_t {
    char sub[BULWARK_JWT_SUB_MAX + 1];
    char scope[BULWARK_JWT_SCOPE_MAX + 1]; /* as in the token: space-separated; "" when absent */
    size_t num_scopes;
    uint16_t scope_off[BULWARK_JWT_SCOPES_MAX]; /* scope i is scope + scope_off[i], scope_len[i] bytes */
    uint16_t scope_len[BULWARK_JWT_SCOPES_MAX];
    char jti[BULWARK_JWT_JTI_MAX + 1];     /* "" when absent */
    char kid[BULWARK_JWT_KID_MAX + 1];     /* the key that verified the token */
    int64_t exp;                           /* whole seconds (fractions truncated) */
    int64_t nbf, iat;                      /* 0 when absent (see has_nbf, has_iat) */
    int has_nbf, has_iat;
    json_t *payload;                       /* the whole claims object */
} bulwark_jwt_claims_t;

/* Verifies token (len bytes, need not be NUL-terminated). On BULWARK_JWT_OK
 * claims is filled; on any other reason it holds nothing (but may still be
 * passed to bulwark_jwt_claims_free). */
bulwark_jwt_reason_t bulwark_jwt_verify(const char *token, size_t len, const bulwark_jwt_keyset_t *keys,
                                        const bulwark_jwt_expect_t *expect, bulwark_jwt_claims_t *claims);
void bulwark_jwt_claims_free(bulwark_jwt_claims_t *claims);

/* Verifications whose signature step was answered by the cache of
 * signatures that verified before (see jwt_verify.c); for tests. */
unsigned long bulwark_jwt_sig_cache_hits(void);

/* 1 if the token granted scope name (exact match), else 0 */
int bulwark_jwt_has_scope(const bulwark_jwt_claims_t *claims, const char *name, size_t len);
/* A string claim of the payload by name (for owner rules), or NULL when it
 * is absent or not a string. Valid until bulwark_jwt_claims_free(). */
const char *bulwark_jwt_claim_string(const bulwark_jwt_claims_t *claims, const char *name, size_t *len);

/* The verifier's own rules for `scope` (RFC 6749 §3.3 scope-tokens joined
 * by single spaces, at most BULWARK_JWT_SCOPES_MAX of them) and `sub`
 * (1..BULWARK_JWT_SUB_MAX VCHAR), for checking user records at load time. */
int bulwark_jwt_scope_is_valid(const char *scope, size_t len);
int bulwark_jwt_sub_is_valid(const char *sub, size_t len);

/* ---- issuing (the builtin login) ------------------------------------------ */

typedef struct st_bulwark_jwt_mint_t {
    const char *iss;
    const char *aud;
    const char *sub;   /* 1..BULWARK_JWT_SUB_MAX VCHAR */
    const char *scope; /* space-separated scope-tokens, or NULL / "" for none */
    int64_t now;       /* iat and nbf */
    uint32_t ttl_s;    /* exp = now + ttl_s; > 0 */
} bulwark_jwt_mint_t;

typedef enum en_bulwark_jwt_sign_status_t {
    BULWARK_JWT_SIGN_OK = 0,
    BULWARK_JWT_SIGN_BAD_CLAIMS, /* a claim would not pass our own verifier */
    BULWARK_JWT_SIGN_NO_ROOM,    /* out too small */
    BULWARK_JWT_SIGN_INTERNAL,   /* PSA or memory failure */
} bulwark_jwt_sign_status_t;

/* Issues an ES256 token: header {"alg":"ES256","typ":"JWT","kid":...},
 * claims iss, aud, sub, scope, iat, nbf, exp and a random 128-bit jti.
 * Writes it NUL-terminated into out (BULWARK_JWT_TOKEN_MAX + 1 bytes is
 * always enough) and its length to *outlen. */
bulwark_jwt_sign_status_t bulwark_jwt_sign(const bulwark_jwt_signer_t *signer, const bulwark_jwt_mint_t *mint,
                                           char *out, size_t cap, size_t *outlen);

#endif
