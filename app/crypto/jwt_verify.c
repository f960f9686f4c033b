/*
 * JWT verification; see jwt.h for the rules and their sources.
 *
 * The checks run cheapest and least trusting first: size and shape, then
 * the header (which decides the algorithm and the key, from configuration
 * only), then the signature's form, then the signature itself, and only a
 * token that verified has its payload parsed as JSON.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <psa/crypto.h>
#include "base64.h"
#include "jwt.h"

#define ES256_SIG_LEN 64
#define ES256_SCALAR_LEN 32
/* a signature segment longer than this is not any encoding of 64 bytes
 * worth decoding (DER signatures are 70-72 bytes: 96 characters) */
#define SIG_SEGMENT_MAX 128
#define VERIFY_ALG PSA_ALG_ECDSA(PSA_ALG_SHA_256)
#define APPLICATION_PREFIX "application/"

/* The order n of the P-256 base point (SEC 2 §2.4.2, FIPS 186-4 D.1.2.3). */
static const uint8_t p256_order[ES256_SCALAR_LEN] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/* The allow-list: RFC 8725 §3.1, the verifier decides the algorithm. */
static const struct {
    const char *name;
    unsigned flag;
} allowed_algs[] = {
    {"ES256", BULWARK_JWT_ALLOW_ES256},
};
#define KNOWN_ALG_FLAGS BULWARK_JWT_ALLOW_ES256

/* Header members that carry or point at a key (RFC 7515 §4.1.2-4.1.6):
 * a verifier that used them would let the token choose its own key. */
static const char *const embedded_key_members[] = {"jwk", "jku", "x5u", "x5c"};

static const char *const reason_names[BULWARK_JWT_REASON_COUNT_] = {
    [BULWARK_JWT_OK] = "ok",
    [BULWARK_JWT_ERR_CONFIG] = "config",
    [BULWARK_JWT_ERR_TOO_LARGE] = "too_large",
    [BULWARK_JWT_ERR_SEGMENTS] = "segments",
    [BULWARK_JWT_ERR_HEADER_TOO_LARGE] = "header_too_large",
    [BULWARK_JWT_ERR_HEADER_BASE64] = "header_base64",
    [BULWARK_JWT_ERR_HEADER_JSON] = "header_json",
    [BULWARK_JWT_ERR_ALG_MISSING] = "alg_missing",
    [BULWARK_JWT_ERR_ALG_NOT_ALLOWED] = "alg_not_allowed",
    [BULWARK_JWT_ERR_EMBEDDED_KEY] = "embedded_key",
    [BULWARK_JWT_ERR_CRIT] = "crit",
    [BULWARK_JWT_ERR_TYP] = "typ",
    [BULWARK_JWT_ERR_KID_MALFORMED] = "kid_malformed",
    [BULWARK_JWT_ERR_KID_UNKNOWN] = "kid_unknown",
    [BULWARK_JWT_ERR_KID_REQUIRED] = "kid_required",
    [BULWARK_JWT_ERR_PAYLOAD_BASE64] = "payload_base64",
    [BULWARK_JWT_ERR_SIG_BASE64] = "sig_base64",
    [BULWARK_JWT_ERR_SIG_LENGTH] = "sig_length",
    [BULWARK_JWT_ERR_SIG_RANGE] = "sig_range",
    [BULWARK_JWT_ERR_SIG_INVALID] = "sig_invalid",
    [BULWARK_JWT_ERR_CLAIMS_JSON] = "claims_json",
    [BULWARK_JWT_ERR_EXP_MISSING] = "exp_missing",
    [BULWARK_JWT_ERR_EXP_MALFORMED] = "exp_malformed",
    [BULWARK_JWT_ERR_EXPIRED] = "expired",
    [BULWARK_JWT_ERR_NBF_MALFORMED] = "nbf_malformed",
    [BULWARK_JWT_ERR_NOT_YET_VALID] = "not_yet_valid",
    [BULWARK_JWT_ERR_IAT_MALFORMED] = "iat_malformed",
    [BULWARK_JWT_ERR_IAT_FUTURE] = "iat_future",
    [BULWARK_JWT_ERR_ISS] = "iss",
    [BULWARK_JWT_ERR_AUD] = "aud",
    [BULWARK_JWT_ERR_SUB] = "sub",
    [BULWARK_JWT_ERR_SCOPE] = "scope",
    [BULWARK_JWT_ERR_JTI] = "jti",
    [BULWARK_JWT_ERR_INTERNAL] = "internal",
};

const char *bulwark_jwt_reason_name(bulwark_jwt_reason_t reason)
{
    if ((unsigned)reason >= BULWARK_JWT_REASON_COUNT_ || reason_names[reason] == NULL)
        return "unknown";
    return reason_names[reason];
}

typedef struct st_segments_t {
    const char *header, *payload, *sig;
    size_t header_len, payload_len, sig_len;
} segments_t;

/* ---- shape ----------------------------------------------------------------- */

static bulwark_jwt_reason_t check_expect(const bulwark_jwt_keyset_t *keys, const bulwark_jwt_expect_t *e)
{
    if (keys == NULL || keys->count == 0 || e == NULL)
        return BULWARK_JWT_ERR_CONFIG;
    if (e->iss == NULL || e->iss[0] == '\0' || e->aud == NULL || e->aud[0] == '\0')
        return BULWARK_JWT_ERR_CONFIG;
    if (e->leeway_s > BULWARK_JWT_LEEWAY_MAX || (e->allowed_algs & ~(unsigned)KNOWN_ALG_FLAGS) != 0)
        return BULWARK_JWT_ERR_CONFIG;
    return BULWARK_JWT_OK;
}

static size_t token_limit(const bulwark_jwt_expect_t *e)
{
    if (e->max_token_bytes == 0 || e->max_token_bytes > BULWARK_JWT_TOKEN_MAX)
        return BULWARK_JWT_TOKEN_MAX;
    return e->max_token_bytes;
}

/* RFC 7515 §7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(sig) */
static bulwark_jwt_reason_t split(const char *token, size_t len, segments_t *s)
{
    const char *dot1 = memchr(token, '.', len), *dot2;

    if (dot1 == NULL)
        return BULWARK_JWT_ERR_SEGMENTS;
    dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        return BULWARK_JWT_ERR_SEGMENTS;
    s->header = token;
    s->header_len = (size_t)(dot1 - token);
    s->payload = dot1 + 1;
    s->payload_len = (size_t)(dot2 - s->payload);
    s->sig = dot2 + 1;
    s->sig_len = len - (size_t)(s->sig - token);
    return BULWARK_JWT_OK;
}

/* Nesting depth of JSON text, counting brackets outside strings; jansson
 * validates the text itself afterwards. */
static int json_depth_ok(const uint8_t *s, size_t len)
{
    int depth = 0, in_string = 0, escaped = 0;

    for (size_t i = 0; i < len; ++i) {
        uint8_t c = s[i];
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > BULWARK_JWT_JSON_DEPTH_MAX)
                return 0;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return 1;
}

/* A JSON object with unique member names (RFC 7515 §4, RFC 7519 §4: a
 * duplicate must be rejected or one of them silently wins, and two parsers
 * may pick differently), or NULL. */
static json_t *parse_object(const uint8_t *s, size_t len)
{
    json_error_t error;
    json_t *v;

    if (!json_depth_ok(s, len))
        return NULL;
    v = json_loadb((const char *)s, len, JSON_REJECT_DUPLICATES, &error);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* ---- header ---------------------------------------------------------------- */

static bulwark_jwt_reason_t check_alg(const json_t *hdr, unsigned allowed)
{
    const json_t *alg = json_object_get(hdr, "alg");

    if (!json_is_string(alg))
        return BULWARK_JWT_ERR_ALG_MISSING;
    /* RFC 7515 §4.1.1: case-sensitive; "none", "HS256", "es256" all fail here */
    for (size_t i = 0; i < sizeof(allowed_algs) / sizeof(allowed_algs[0]); ++i)
        if ((allowed & allowed_algs[i].flag) && strcmp(json_string_value(alg), allowed_algs[i].name) == 0)
            return BULWARK_JWT_OK;
    return BULWARK_JWT_ERR_ALG_NOT_ALLOWED;
}

static bulwark_jwt_reason_t check_members(const json_t *hdr)
{
    for (size_t i = 0; i < sizeof(embedded_key_members) / sizeof(embedded_key_members[0]); ++i)
        if (json_object_get(hdr, embedded_key_members[i]) != NULL)
            return BULWARK_JWT_ERR_EMBEDDED_KEY;
    /* RFC 7515 §4.1.11: every listed extension must be understood; we
     * understand none, and an empty or malformed crit is itself invalid. */
    if (json_object_get(hdr, "crit") != NULL)
        return BULWARK_JWT_ERR_CRIT;
    return BULWARK_JWT_OK;
}

/* RFC 7515 §4.1.9: media types compare case-insensitively, and a value
 * without '/' means "application/" + value. Returns the subtype of an
 * application/ type, or NULL for any other top-level type. */
static const char *application_subtype(const char *typ)
{
    size_t plen = strlen(APPLICATION_PREFIX);

    if (strncasecmp(typ, APPLICATION_PREFIX, plen) == 0)
        typ += plen;
    return strchr(typ, '/') == NULL ? typ : NULL;
}

static int typ_matches(const char *got, const char *want)
{
    const char *g = application_subtype(got), *w = application_subtype(want);

    return g != NULL && w != NULL && strcasecmp(g, w) == 0;
}

static bulwark_jwt_reason_t check_typ(const json_t *hdr, const bulwark_jwt_expect_t *e)
{
    const json_t *typ = json_object_get(hdr, "typ");
    const char *got;

    if (typ == NULL)
        return e->typ_required ? BULWARK_JWT_ERR_TYP : BULWARK_JWT_OK;
    if (!json_is_string(typ))
        return BULWARK_JWT_ERR_TYP;
    got = json_string_value(typ);
    if (e->typ != NULL)
        return typ_matches(got, e->typ) ? BULWARK_JWT_OK : BULWARK_JWT_ERR_TYP;
    /* RFC 7519 §5.1 "JWT"; RFC 9068 §2.1 "at+jwt" for access tokens */
    return typ_matches(got, "JWT") || typ_matches(got, "at+jwt") ? BULWARK_JWT_OK : BULWARK_JWT_ERR_TYP;
}

/* RFC 8725 §3.10: the kid only selects among configured keys. */
static bulwark_jwt_reason_t select_key(const json_t *hdr, const bulwark_jwt_keyset_t *keys,
                                       const bulwark_jwt_keyslot_t **key)
{
    const json_t *kid = json_object_get(hdr, "kid");

    if (kid == NULL) {
        if (keys->count != 1)
            return BULWARK_JWT_ERR_KID_REQUIRED;
        *key = &keys->keys[0];
        return BULWARK_JWT_OK;
    }
    if (!json_is_string(kid) || json_string_length(kid) > BULWARK_JWT_KID_MAX)
        return BULWARK_JWT_ERR_KID_MALFORMED;
    *key = bulwark_jwt_keyset_find(keys, json_string_value(kid), json_string_length(kid));
    return *key != NULL ? BULWARK_JWT_OK : BULWARK_JWT_ERR_KID_UNKNOWN;
}

static bulwark_jwt_reason_t check_header(const segments_t *s, const bulwark_jwt_keyset_t *keys,
                                         const bulwark_jwt_expect_t *e, const bulwark_jwt_keyslot_t **key)
{
    uint8_t buf[BULWARK_JWT_HEADER_MAX];
    size_t len;
    json_t *hdr;
    bulwark_jwt_reason_t r;

    if (s->header_len > BULWARK_BASE64URL_LEN(BULWARK_JWT_HEADER_MAX))
        return BULWARK_JWT_ERR_HEADER_TOO_LARGE;
    if (bulwark_base64url_decode(buf, sizeof(buf), &len, s->header, s->header_len) != 0)
        return BULWARK_JWT_ERR_HEADER_BASE64;
    if ((hdr = parse_object(buf, len)) == NULL)
        return BULWARK_JWT_ERR_HEADER_JSON;
    if ((r = check_alg(hdr, e->allowed_algs ? e->allowed_algs : BULWARK_JWT_ALLOW_ES256)) == BULWARK_JWT_OK &&
        (r = check_members(hdr)) == BULWARK_JWT_OK && (r = check_typ(hdr, e)) == BULWARK_JWT_OK)
        r = select_key(hdr, keys, key);
    json_decref(hdr);
    return r;
}

/* ---- signature --------------------------------------------------------------- */

/* 1 <= v <= n-1, as ECDSA verification requires (SEC 1 §4.1.4 step 1).
 * Big-endian fixed-width values compare like byte strings. */
static int scalar_in_range(const uint8_t v[ES256_SCALAR_LEN])
{
    static const uint8_t zero[ES256_SCALAR_LEN];

    return memcmp(v, zero, ES256_SCALAR_LEN) != 0 && memcmp(v, p256_order, ES256_SCALAR_LEN) < 0;
}

/* RFC 7518 §3.4: R and S as 32-byte big-endian integers, concatenated. */
static bulwark_jwt_reason_t decode_signature(const segments_t *s, uint8_t sig[ES256_SIG_LEN])
{
    uint8_t buf[BULWARK_BASE64_DECODED_MAX(SIG_SEGMENT_MAX)];
    size_t len;

    if (s->sig_len > SIG_SEGMENT_MAX)
        return BULWARK_JWT_ERR_SIG_LENGTH;
    if (bulwark_base64url_decode(buf, sizeof(buf), &len, s->sig, s->sig_len) != 0)
        return BULWARK_JWT_ERR_SIG_BASE64;
    if (len != ES256_SIG_LEN)
        return BULWARK_JWT_ERR_SIG_LENGTH;
    if (!scalar_in_range(buf) || !scalar_in_range(buf + ES256_SCALAR_LEN))
        return BULWARK_JWT_ERR_SIG_RANGE;
    memcpy(sig, buf, ES256_SIG_LEN);
    return BULWARK_JWT_OK;
}

/* ---- verified-signature cache ------------------------------------------------- */

/* An ES256 verification is the costliest step of a request (~1-2 ms of
 * mbedTLS's portable P-256 arithmetic); clients send the same token many
 * times.  The cache remembers signatures that verified: the exact SHA-256
 * of the signing input, the exact signature and the key.  Only that step
 * is skipped on a hit; the header, every claim and the times are checked
 * again on every request, so expiry still applies to the second.  Only
 * successes are stored.  Fixed size (SIG_CACHE_SLOTS entries, direct-mapped
 * by digest: a colliding token evicts, which costs a verification, never
 * correctness); one lock per shard of slots. */
#define SIG_CACHE_SLOTS 4096
#define SIG_CACHE_SHARDS 16

struct sig_cache_entry {
    uint8_t digest[PSA_HASH_LENGTH(PSA_ALG_SHA_256)];
    uint8_t sig[ES256_SIG_LEN];
    psa_key_id_t key;
    uint8_t used;
};

static struct {
    pthread_mutex_t locks[SIG_CACHE_SHARDS];
    struct sig_cache_entry slots[SIG_CACHE_SLOTS];
    atomic_ulong hits;
} sig_cache = {.locks = {[0 ... SIG_CACHE_SHARDS - 1] = PTHREAD_MUTEX_INITIALIZER}};

static size_t sig_cache_slot(const uint8_t *digest)
{
    return ((size_t)digest[0] | (size_t)digest[1] << 8) % SIG_CACHE_SLOTS;
}

static int sig_cache_has(psa_key_id_t key, const uint8_t *digest, const uint8_t *sig)
{
    size_t i = sig_cache_slot(digest);
    const struct sig_cache_entry *e = &sig_cache.slots[i];
    int hit;

    pthread_mutex_lock(&sig_cache.locks[i % SIG_CACHE_SHARDS]);
    hit = e->used && e->key == key && memcmp(e->digest, digest, sizeof(e->digest)) == 0 &&
          memcmp(e->sig, sig, sizeof(e->sig)) == 0;
    pthread_mutex_unlock(&sig_cache.locks[i % SIG_CACHE_SHARDS]);
    if (hit)
        atomic_fetch_add(&sig_cache.hits, 1);
    return hit;
}

static void sig_cache_put(psa_key_id_t key, const uint8_t *digest, const uint8_t *sig)
{
    size_t i = sig_cache_slot(digest);
    struct sig_cache_entry *e = &sig_cache.slots[i];

    pthread_mutex_lock(&sig_cache.locks[i % SIG_CACHE_SHARDS]);
    memcpy(e->digest, digest, sizeof(e->digest));
    memcpy(e->sig, sig, sizeof(e->sig));
    e->key = key;
    e->used = 1;
    pthread_mutex_unlock(&sig_cache.locks[i % SIG_CACHE_SHARDS]);
}

unsigned long bulwark_jwt_sig_cache_hits(void)
{
    return atomic_load(&sig_cache.hits);
}

/* The JWS Signing Input is the ASCII of header '.' payload, as received. */
static bulwark_jwt_reason_t verify_signature(const bulwark_jwt_keyslot_t *key, const segments_t *s,
                                             const uint8_t sig[ES256_SIG_LEN])
{
    uint8_t digest[PSA_HASH_LENGTH(PSA_ALG_SHA_256)];
    size_t digest_len, input_len = s->header_len + 1 + s->payload_len;
    psa_status_t st;

    if (psa_hash_compute(PSA_ALG_SHA_256, (const uint8_t *)s->header, input_len, digest, sizeof(digest),
                         &digest_len) != PSA_SUCCESS)
        return BULWARK_JWT_ERR_INTERNAL;
    if (digest_len == sizeof(digest) && sig_cache_has(key->id, digest, sig))
        return BULWARK_JWT_OK;
    st = psa_verify_hash(key->id, VERIFY_ALG, digest, digest_len, sig, ES256_SIG_LEN);
    if (st == PSA_SUCCESS) {
        if (digest_len == sizeof(digest))
            sig_cache_put(key->id, digest, sig);
        return BULWARK_JWT_OK;
    }
    return st == PSA_ERROR_INVALID_SIGNATURE ? BULWARK_JWT_ERR_SIG_INVALID : BULWARK_JWT_ERR_INTERNAL;
}

/* ---- claims ------------------------------------------------------------------- */

/* RFC 7519 §2 NumericDate: integer or fraction, here finite and in range. */
static int numeric_date(const json_t *v, double *out)
{
    double d;

    if (!json_is_number(v))
        return -1;
    d = json_number_value(v);
    if (!isfinite(d) || d < 0 || d > BULWARK_JWT_NUMERICDATE_MAX)
        return -1;
    *out = d;
    return 0;
}

/* RFC 7519 §4.1.4: the token must not be accepted on or after exp;
 * §4.1.5: nor before nbf; a token issued in the future is a clock or
 * issuer fault. Each comparison allows leeway for clock skew. */
static bulwark_jwt_reason_t check_times(const json_t *c, const bulwark_jwt_expect_t *e, bulwark_jwt_claims_t *out)
{
    const json_t *v;
    double now = (double)e->now, leeway = (double)e->leeway_s, d;

    if ((v = json_object_get(c, "exp")) == NULL)
        return BULWARK_JWT_ERR_EXP_MISSING;
    if (numeric_date(v, &d) != 0)
        return BULWARK_JWT_ERR_EXP_MALFORMED;
    if (now >= d + leeway)
        return BULWARK_JWT_ERR_EXPIRED;
    out->exp = (int64_t)d;
    if ((v = json_object_get(c, "nbf")) != NULL) {
        if (numeric_date(v, &d) != 0)
            return BULWARK_JWT_ERR_NBF_MALFORMED;
        if (now + leeway < d)
            return BULWARK_JWT_ERR_NOT_YET_VALID;
        out->nbf = (int64_t)d;
        out->has_nbf = 1;
    }
    if ((v = json_object_get(c, "iat")) != NULL) {
        if (numeric_date(v, &d) != 0)
            return BULWARK_JWT_ERR_IAT_MALFORMED;
        if (now + leeway < d)
            return BULWARK_JWT_ERR_IAT_FUTURE;
        out->iat = (int64_t)d;
        out->has_iat = 1;
    }
    return BULWARK_JWT_OK;
}

static int string_equals(const json_t *v, const char *want)
{
    return json_is_string(v) && json_string_length(v) == strlen(want) && strcmp(json_string_value(v), want) == 0;
}

/* RFC 7519 §4.1.3: a string, or an array of strings one of which is ours. */
static bulwark_jwt_reason_t check_aud(const json_t *aud, const char *want)
{
    size_t i;
    const json_t *item;
    int found = 0;

    if (json_is_string(aud))
        return string_equals(aud, want) ? BULWARK_JWT_OK : BULWARK_JWT_ERR_AUD;
    if (!json_is_array(aud) || json_array_size(aud) == 0)
        return BULWARK_JWT_ERR_AUD;
    json_array_foreach(aud, i, item) {
        if (!json_is_string(item))
            return BULWARK_JWT_ERR_AUD;
        found |= string_equals(item, want);
    }
    return found ? BULWARK_JWT_OK : BULWARK_JWT_ERR_AUD;
}

static int is_vchar(const char *s, size_t len)
{
    for (size_t i = 0; i < len; ++i)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* Copies a VCHAR string claim of 1..max bytes; absent is allowed when
 * optional (dst is then ""). */
static int copy_vchar_claim(const json_t *v, char *dst, size_t max, int optional)
{
    size_t len;

    dst[0] = '\0';
    if (v == NULL)
        return optional ? 0 : -1;
    if (!json_is_string(v))
        return -1;
    len = json_string_length(v);
    if (len == 0 || len > max || !is_vchar(json_string_value(v), len))
        return -1;
    memcpy(dst, json_string_value(v), len + 1);
    return 0;
}

/* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
static int is_scope_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* Splits scope-tokens separated by single spaces; offsets and lengths go
 * to off/lens when given. Returns the number of tokens, or -1. */
static int split_scope(const char *s, size_t len, uint16_t *off, uint16_t *lens)
{
    size_t start = 0;
    int n = 0;

    if (len == 0 || len > BULWARK_JWT_SCOPE_MAX)
        return -1;
    for (size_t i = 0; i <= len; ++i) {
        if (i < len && is_scope_char((unsigned char)s[i]))
            continue;
        if ((i < len && s[i] != ' ') || i == start || n == BULWARK_JWT_SCOPES_MAX)
            return -1;
        if (off != NULL) {
            off[n] = (uint16_t)start;
            lens[n] = (uint16_t)(i - start);
        }
        ++n;
        start = i + 1;
    }
    return n;
}

int bulwark_jwt_scope_is_valid(const char *scope, size_t len)
{
    return split_scope(scope, len, NULL, NULL) > 0;
}

int bulwark_jwt_sub_is_valid(const char *sub, size_t len)
{
    return len > 0 && len <= BULWARK_JWT_SUB_MAX && is_vchar(sub, len);
}

/* RFC 8693 §4.2 / RFC 9068 §2.2.3: `scope` is one string of scope-tokens
 * separated by single spaces. */
static bulwark_jwt_reason_t parse_scope(const json_t *v, bulwark_jwt_claims_t *out)
{
    int n;

    if (v == NULL)
        return BULWARK_JWT_OK;
    if (!json_is_string(v))
        return BULWARK_JWT_ERR_SCOPE;
    n = split_scope(json_string_value(v), json_string_length(v), out->scope_off, out->scope_len);
    if (n < 0)
        return BULWARK_JWT_ERR_SCOPE;
    out->num_scopes = (size_t)n;
    memcpy(out->scope, json_string_value(v), json_string_length(v) + 1);
    return BULWARK_JWT_OK;
}

static bulwark_jwt_reason_t check_claims(const json_t *c, const bulwark_jwt_expect_t *e, bulwark_jwt_claims_t *out)
{
    bulwark_jwt_reason_t r;

    if ((r = check_times(c, e, out)) != BULWARK_JWT_OK)
        return r;
    if (!string_equals(json_object_get(c, "iss"), e->iss))
        return BULWARK_JWT_ERR_ISS;
    if ((r = check_aud(json_object_get(c, "aud"), e->aud)) != BULWARK_JWT_OK)
        return r;
    if (copy_vchar_claim(json_object_get(c, "sub"), out->sub, BULWARK_JWT_SUB_MAX, 0) != 0)
        return BULWARK_JWT_ERR_SUB;
    if ((r = parse_scope(json_object_get(c, "scope"), out)) != BULWARK_JWT_OK)
        return r;
    if (copy_vchar_claim(json_object_get(c, "jti"), out->jti, BULWARK_JWT_JTI_MAX, 1) != 0)
        return BULWARK_JWT_ERR_JTI;
    return BULWARK_JWT_OK;
}

/* ---- the whole -------------------------------------------------------------- */

static bulwark_jwt_reason_t verify_payload(const segments_t *s, const bulwark_jwt_keyslot_t *key,
                                           const uint8_t sig[ES256_SIG_LEN], const bulwark_jwt_expect_t *e,
                                           bulwark_jwt_claims_t *out)
{
    uint8_t buf[BULWARK_BASE64_DECODED_MAX(BULWARK_JWT_TOKEN_MAX)];
    size_t len;
    json_t *claims;
    bulwark_jwt_reason_t r;

    if (bulwark_base64url_decode(buf, sizeof(buf), &len, s->payload, s->payload_len) != 0)
        return BULWARK_JWT_ERR_PAYLOAD_BASE64;
    if ((r = verify_signature(key, s, sig)) != BULWARK_JWT_OK)
        return r;
    if ((claims = parse_object(buf, len)) == NULL)
        return BULWARK_JWT_ERR_CLAIMS_JSON;
    if ((r = check_claims(claims, e, out)) != BULWARK_JWT_OK) {
        json_decref(claims);
        return r;
    }
    out->payload = claims;
    return BULWARK_JWT_OK;
}

bulwark_jwt_reason_t bulwark_jwt_verify(const char *token, size_t len, const bulwark_jwt_keyset_t *keys,
                                        const bulwark_jwt_expect_t *expect, bulwark_jwt_claims_t *claims)
{
    const bulwark_jwt_keyslot_t *key = NULL;
    uint8_t sig[ES256_SIG_LEN];
    segments_t s;
    bulwark_jwt_reason_t r;

    memset(claims, 0, sizeof(*claims));
    if ((r = check_expect(keys, expect)) != BULWARK_JWT_OK)
        return r;
    if (token == NULL)
        return BULWARK_JWT_ERR_SEGMENTS;
    if (len > token_limit(expect))
        return BULWARK_JWT_ERR_TOO_LARGE;
    if ((r = split(token, len, &s)) != BULWARK_JWT_OK || (r = check_header(&s, keys, expect, &key)) != BULWARK_JWT_OK ||
        (r = decode_signature(&s, sig)) != BULWARK_JWT_OK ||
        (r = verify_payload(&s, key, sig, expect, claims)) != BULWARK_JWT_OK) {
        bulwark_jwt_claims_free(claims);
        return r;
    }
    memcpy(claims->kid, key->kid, strlen(key->kid) + 1); /* a key's kid is at most BULWARK_JWT_KID_MAX */
    return BULWARK_JWT_OK;
}

void bulwark_jwt_claims_free(bulwark_jwt_claims_t *claims)
{
    json_decref(claims->payload);
    memset(claims, 0, sizeof(*claims));
}

int bulwark_jwt_has_scope(const bulwark_jwt_claims_t *claims, const char *name, size_t len)
{
    for (size_t i = 0; i < claims->num_scopes; ++i)
        if (claims->scope_len[i] == len && memcmp(claims->scope + claims->scope_off[i], name, len) == 0)
            return 1;
    return 0;
}

const char *bulwark_jwt_claim_string(const bulwark_jwt_claims_t *claims, const char *name, size_t *len)
{
    const json_t *v = claims->payload != NULL ? json_object_get(claims->payload, name) : NULL;

    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}
