/*
 * Issuing ES256 tokens for the builtin login; see jwt.h.
 */
#include <stdlib.h>
#include <string.h>
#include <psa/crypto.h>
#include "base64.h"
#include "jwt.h"

#define ES256_SIG_LEN 64
/* RFC 6979 deterministic ECDSA: the signature depends on no RNG state. */
#define SIGN_ALG PSA_ALG_DETERMINISTIC_ECDSA(PSA_ALG_SHA_256)

typedef struct st_token_buf_t {
    char *buf;
    size_t cap; /* ends before the bytes kept for the NUL */
    size_t len;
} token_buf_t;

static int append_b64(token_buf_t *t, const uint8_t *src, size_t len)
{
    size_t n;

    if (t->len > t->cap || bulwark_base64url_encode(t->buf + t->len, t->cap - t->len + 1, &n, src, len) != 0)
        return -1;
    t->len += n;
    return 0;
}

static int append_dot(token_buf_t *t)
{
    if (t->len >= t->cap)
        return -1;
    t->buf[t->len++] = '.';
    t->buf[t->len] = '\0';
    return 0;
}

/* Appends the base64url of a JSON value's compact serialisation. */
static int append_json(token_buf_t *t, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    int ret;

    if (text == NULL)
        return -1;
    ret = append_b64(t, (const uint8_t *)text, strlen(text));
    free(text);
    return ret;
}

static int valid_mint(const bulwark_jwt_mint_t *m)
{
    if (m->iss == NULL || m->iss[0] == '\0' || m->aud == NULL || m->aud[0] == '\0' || m->sub == NULL)
        return 0;
    if (!bulwark_jwt_sub_is_valid(m->sub, strlen(m->sub)))
        return 0;
    if (m->scope != NULL && m->scope[0] != '\0' && !bulwark_jwt_scope_is_valid(m->scope, strlen(m->scope)))
        return 0;
    return m->ttl_s > 0 && m->now >= 0 && (double)m->now + m->ttl_s <= BULWARK_JWT_NUMERICDATE_MAX;
}

/* 128 random bits: unique per token without coordination (RFC 7519 §4.1.7) */
static int make_jti(char out[BULWARK_JWT_JTI_MAX + 1])
{
    uint8_t rnd[BULWARK_JWT_JTI_RANDOM];
    size_t n;

    if (psa_generate_random(rnd, sizeof(rnd)) != PSA_SUCCESS)
        return -1;
    return bulwark_base64url_encode(out, BULWARK_JWT_JTI_MAX + 1, &n, rnd, sizeof(rnd));
}

static json_t *claims_of(const bulwark_jwt_mint_t *m, const char *jti)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", m->iss, "aud", m->aud, "sub", m->sub, "iat",
                          (json_int_t)m->now, "nbf", (json_int_t)m->now, "exp", (json_int_t)m->now + m->ttl_s,
                          "jti", jti);

    if (c == NULL || m->scope == NULL || m->scope[0] == '\0')
        return c;
    if (json_object_set_new(c, "scope", json_string(m->scope)) != 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* header '.' payload, both base64url */
static bulwark_jwt_sign_status_t signing_input(const bulwark_jwt_signer_t *signer, const bulwark_jwt_mint_t *m,
                                               token_buf_t *t)
{
    char jti[BULWARK_JWT_JTI_MAX + 1];
    json_t *hdr, *claims;
    int ret;

    if (make_jti(jti) != 0)
        return BULWARK_JWT_SIGN_INTERNAL;
    hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid", signer->kid);
    claims = claims_of(m, jti);
    if (hdr == NULL || claims == NULL) {
        json_decref(hdr);
        json_decref(claims);
        return BULWARK_JWT_SIGN_INTERNAL;
    }
    ret = append_json(t, hdr) != 0 || append_dot(t) != 0 || append_json(t, claims) != 0;
    json_decref(hdr);
    json_decref(claims);
    return ret ? BULWARK_JWT_SIGN_NO_ROOM : BULWARK_JWT_SIGN_OK;
}

static bulwark_jwt_sign_status_t append_signature(const bulwark_jwt_signer_t *signer, token_buf_t *t)
{
    uint8_t digest[PSA_HASH_LENGTH(PSA_ALG_SHA_256)], sig[ES256_SIG_LEN];
    size_t digest_len, sig_len;

    if (psa_hash_compute(PSA_ALG_SHA_256, (const uint8_t *)t->buf, t->len, digest, sizeof(digest), &digest_len) !=
        PSA_SUCCESS)
        return BULWARK_JWT_SIGN_INTERNAL;
    if (psa_sign_hash(signer->id, SIGN_ALG, digest, digest_len, sig, sizeof(sig), &sig_len) != PSA_SUCCESS ||
        sig_len != ES256_SIG_LEN)
        return BULWARK_JWT_SIGN_INTERNAL;
    if (append_dot(t) != 0 || append_b64(t, sig, sig_len) != 0)
        return BULWARK_JWT_SIGN_NO_ROOM;
    return BULWARK_JWT_SIGN_OK;
}

bulwark_jwt_sign_status_t bulwark_jwt_sign(const bulwark_jwt_signer_t *signer, const bulwark_jwt_mint_t *mint,
                                           char *out, size_t cap, size_t *outlen)
{
    token_buf_t t = {out, 0, 0};
    bulwark_jwt_sign_status_t st;

    if (cap == 0)
        return BULWARK_JWT_SIGN_NO_ROOM;
    out[0] = '\0';
    /* never issue what our own verifier would refuse as too large */
    t.cap = cap - 1 < BULWARK_JWT_TOKEN_MAX ? cap - 1 : BULWARK_JWT_TOKEN_MAX;
    if (signer->id == PSA_KEY_ID_NULL || !valid_mint(mint))
        return BULWARK_JWT_SIGN_BAD_CLAIMS;
    if ((st = signing_input(signer, mint, &t)) != BULWARK_JWT_SIGN_OK ||
        (st = append_signature(signer, &t)) != BULWARK_JWT_SIGN_OK) {
        out[0] = '\0';
        return st;
    }
    *outlen = t.len;
    return BULWARK_JWT_SIGN_OK;
}
