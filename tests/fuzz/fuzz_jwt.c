/*
 * libFuzzer target: JWT verification (app/crypto/jwt_verify.c) and what it
 * stands on, the strict base64url codec and issuing (jwt_sign.c).
 *
 * The first byte picks a mode; the rest is its input:
 *   'S'  header JSON, NUL, claims JSON: signed here with the fuzz key
 *        (fuzz_key.h), so that mutations reach the header rules and claim
 *        checks behind the signature
 *   'M'  sub, NUL, scope: issued with bulwark_jwt_sign(); whatever it issues
 *        our verifier must accept with the same sub and scopes
 *   else the bytes are a token, verified against one key and against two
 *        (kid optional / required); and base64url round trips
 *
 * Whatever verifies must hold what the middleware relies on: a valid sub,
 * valid scopes each of which has_scope() finds, an exp not in the past.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <psa/crypto.h>
#include "crypto/base64.h"
#include "crypto/crypto.h"
#include "crypto/jwt.h"
#include "fuzz_key.h"

#define NOW 1700000000
#define LEEWAY_S 30
#define ISSUER "bulwark"
#define AUDIENCE "bulwark-api"
/* header and claims of a signed token, before encoding */
#define SIGNED_PART_MAX 4096

static bulwark_jwt_signer_t signer;
static bulwark_jwt_keyset_t one_key, two_keys;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_jwt: %s\n", what);
    abort();
}

static void load_keys(void)
{
    char pem[FUZZ_KEY_PEM_MAX], err[BULWARK_KEY_ERR_MAX];
    bulwark_jwt_signer_t other;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t id;
    uint8_t point[BULWARK_P256_POINT_LEN];
    size_t len;

    fuzz_key_pem(pem, sizeof(pem));
    if (bulwark_jwt_signer_load_pem(&signer, pem, strlen(pem), FUZZ_KEY_KID, err, sizeof(err)) != 0)
        fail(err);
    bulwark_jwt_keyset_init(&one_key);
    bulwark_jwt_keyset_init(&two_keys);
    if (bulwark_jwt_keyset_add_signer(&one_key, &signer, err, sizeof(err)) != 0 ||
        bulwark_jwt_keyset_add_signer(&two_keys, &signer, err, sizeof(err)) != 0)
        fail(err);
    /* a second, random key: with two keys a token must name its kid */
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&attr, 256);
    psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_SIGN_HASH);
    psa_set_key_algorithm(&attr, PSA_ALG_DETERMINISTIC_ECDSA(PSA_ALG_SHA_256));
    if (psa_generate_key(&attr, &id) != PSA_SUCCESS || psa_export_public_key(id, point, sizeof(point), &len) != PSA_SUCCESS)
        fail("cannot make the second key");
    memset(&other, 0, sizeof(other));
    strcpy(other.kid, "other-1");
    other.id = id;
    memcpy(other.point, point, sizeof(point));
    if (bulwark_jwt_keyset_add_signer(&two_keys, &other, err, sizeof(err)) != 0)
        fail(err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (bulwark_crypto_init() != 0)
        fail("PSA crypto did not start");
    load_keys();
    return 0;
}

static void check_accepted(const bulwark_jwt_claims_t *c)
{
    size_t len;

    if (!bulwark_jwt_sub_is_valid(c->sub, strlen(c->sub)))
        fail("accepted a token whose sub our own rule refuses");
    if (!bulwark_jwt_scope_is_valid(c->scope, strlen(c->scope)) && c->scope[0] != '\0')
        fail("accepted a token whose scope our own rule refuses");
    if (c->num_scopes > BULWARK_JWT_SCOPES_MAX)
        fail("more scopes than the bound");
    for (size_t i = 0; i != c->num_scopes; ++i)
        if (!bulwark_jwt_has_scope(c, c->scope + c->scope_off[i], c->scope_len[i]))
            fail("a listed scope is not found by has_scope");
    if (c->exp + LEEWAY_S < NOW)
        fail("accepted an expired token");
    if (strcmp(c->kid, FUZZ_KEY_KID) != 0)
        fail("accepted a token under a key that did not sign it");
    (void)bulwark_jwt_claim_string(c, "sub", &len);
}

static bulwark_jwt_reason_t verify(const char *token, size_t len, const bulwark_jwt_keyset_t *keys, uint8_t flags,
                                   bulwark_jwt_claims_t *c)
{
    bulwark_jwt_expect_t e = {
        .iss = ISSUER,
        .aud = AUDIENCE,
        .now = NOW,
        .leeway_s = LEEWAY_S,
        .typ = (flags & 1) ? "at+jwt" : NULL,
        .typ_required = (flags & 2) != 0,
    };
    bulwark_jwt_reason_t r = bulwark_jwt_verify(token, len, keys, &e, c);

    if (r == BULWARK_JWT_OK)
        check_accepted(c);
    if (bulwark_jwt_reason_name(r) == NULL)
        fail("a reason without a name");
    return r;
}

static void verify_both(const char *token, size_t len, uint8_t flags)
{
    bulwark_jwt_claims_t c;

    verify(token, len, &one_key, flags, &c);
    bulwark_jwt_claims_free(&c);
    verify(token, len, &two_keys, flags, &c);
    bulwark_jwt_claims_free(&c);
}

/* base64url: what decodes re-encodes to the same text (one spelling only) */
static void check_base64url(const uint8_t *data, size_t size)
{
    static uint8_t bytes[BULWARK_BASE64_DECODED_MAX(BULWARK_JWT_TOKEN_MAX)];
    static char text[BULWARK_JWT_TOKEN_MAX + 4];
    size_t n, m;

    if (size > BULWARK_JWT_TOKEN_MAX)
        return;
    if (bulwark_base64url_decode(bytes, sizeof(bytes), &n, (const char *)data, size) != 0)
        return;
    if (bulwark_base64url_encode(text, sizeof(text), &m, bytes, n) != 0 || m != size || memcmp(text, data, size) != 0)
        fail("base64url: a decodable text has a second spelling");
}

/* "b64(header).b64(claims).b64(sig)" signed with the fuzz key */
static size_t sign_token(char *tok, size_t cap, const uint8_t *header, size_t hlen, const uint8_t *claims, size_t clen)
{
    uint8_t digest[32], sig[64];
    size_t n, pos, len;

    if (bulwark_base64url_encode(tok, cap, &n, header, hlen) != 0)
        return 0;
    pos = n;
    tok[pos++] = '.';
    if (bulwark_base64url_encode(tok + pos, cap - pos, &n, claims, clen) != 0)
        return 0;
    pos += n;
    if (psa_hash_compute(PSA_ALG_SHA_256, (const uint8_t *)tok, pos, digest, sizeof(digest), &len) != PSA_SUCCESS ||
        psa_sign_hash(signer.id, PSA_ALG_DETERMINISTIC_ECDSA(PSA_ALG_SHA_256), digest, sizeof(digest), sig, sizeof(sig),
                      &len) != PSA_SUCCESS)
        fail("cannot sign");
    tok[pos++] = '.';
    if (bulwark_base64url_encode(tok + pos, cap - pos, &n, sig, sizeof(sig)) != 0)
        return 0;
    return pos + n;
}

static void fuzz_signed(const uint8_t *data, size_t size, uint8_t flags)
{
    static char tok[2 * BULWARK_JWT_TOKEN_MAX];
    const uint8_t *nul = memchr(data, '\0', size);
    size_t len;

    if (nul == NULL || size > SIGNED_PART_MAX)
        return;
    if ((len = sign_token(tok, sizeof(tok), data, (size_t)(nul - data), nul + 1, size - (size_t)(nul - data) - 1)) != 0)
        verify_both(tok, len, flags);
}

static void fuzz_mint(const uint8_t *data, size_t size)
{
    char sub[BULWARK_JWT_SUB_MAX + 2], scope[BULWARK_JWT_SCOPE_MAX + 2], tok[BULWARK_JWT_TOKEN_MAX + 1];
    const uint8_t *nul = memchr(data, '\0', size);
    size_t sub_len, scope_len, len;
    bulwark_jwt_claims_t c;

    if (nul == NULL)
        return;
    sub_len = (size_t)(nul - data);
    scope_len = size - sub_len - 1;
    if (sub_len >= sizeof(sub) || scope_len >= sizeof(scope) || memchr(nul + 1, '\0', scope_len) != NULL)
        return;
    memcpy(sub, data, sub_len), sub[sub_len] = '\0';
    memcpy(scope, nul + 1, scope_len), scope[scope_len] = '\0';
    bulwark_jwt_mint_t mint = {.iss = ISSUER, .aud = AUDIENCE, .sub = sub, .scope = scope, .now = NOW, .ttl_s = 900};
    if (bulwark_jwt_sign(&signer, &mint, tok, sizeof(tok), &len) != BULWARK_JWT_SIGN_OK)
        return;
    if (len != strlen(tok))
        fail("issued token length differs from its text");
    if (verify(tok, len, &one_key, 0, &c) != BULWARK_JWT_OK)
        fail("our verifier refuses a token we issued");
    if (strcmp(c.sub, sub) != 0 || strcmp(c.scope, scope) != 0)
        fail("an issued token verifies with other claims");
    bulwark_jwt_claims_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t flags = size > 1 ? data[1] : 0;

    if (size >= 2 && data[0] == 'S') {
        fuzz_signed(data + 2, size - 2, flags);
    } else if (size >= 1 && data[0] == 'M') {
        fuzz_mint(data + 1, size - 1);
    } else {
        check_base64url(data, size);
        verify_both((const char *)data, size, size > 0 ? data[size - 1] : 0);
    }
    return 0;
}
