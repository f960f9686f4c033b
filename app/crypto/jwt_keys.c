/*
 * JWT keys: loading, key set, JWKS; see jwt_keys.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/psa_util.h>
#include "base64.h"
#include "jwt_keys.h"
#include "secrets.h"

#define P256_BITS 256
#define COORD_B64_LEN BULWARK_BASE64URL_LEN(BULWARK_P256_COORD_LEN)
#define PEM_MARKER "-----BEGIN "

/* The only key policies this module creates: ES256 (RFC 7518 §3.4). */
#define VERIFY_ALG PSA_ALG_ECDSA(PSA_ALG_SHA_256)
#define SIGN_ALG PSA_ALG_DETERMINISTIC_ECDSA(PSA_ALG_SHA_256)

static int fail(char *err, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;

    if (errcap == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap); /* Flawfinder: ignore (fmt is checked at each caller: format attribute) */
    va_end(ap);
    return -1;
}

/* Same alphabet as the policy loader's key ids: it is printed into JSON and
 * log lines, and compared byte for byte with a token's `kid`. */
static int kid_is_valid(const char *kid)
{
    size_t len = strlen(kid);

    if (len == 0 || len > BULWARK_JWT_KID_MAX)
        return 0;
    for (size_t i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)kid[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

/* ---- PEM parsing ---------------------------------------------------------- */

/* mbedTLS reads PEM only from a NUL-terminated buffer whose length counts the
 * NUL, so the input is copied; the copy may hold a private key and is wiped. */
static int parse_pem(mbedtls_pk_context *pk, const char *pem, size_t len, int private_only, char *err,
                     size_t errcap)
{
    unsigned char *buf;
    int ret;

    if (len > BULWARK_KEY_FILE_MAX)
        return fail(err, errcap, "larger than %d bytes: not a PEM key", BULWARK_KEY_FILE_MAX);
    if (memmem(pem, len, PEM_MARKER, strlen(PEM_MARKER)) == NULL)
        return fail(err, errcap, "no PEM block (\"-----BEGIN ...\")");
    if ((buf = malloc(len + 1)) == NULL)
        return fail(err, errcap, "out of memory");
    memcpy(buf, pem, len);
    buf[len] = '\0';
    ret = mbedtls_pk_parse_key(pk, buf, len + 1, NULL, 0, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
    if (ret != 0 && !private_only && ret != MBEDTLS_ERR_PK_PASSWORD_REQUIRED) {
        mbedtls_pk_free(pk);
        mbedtls_pk_init(pk);
        ret = mbedtls_pk_parse_public_key(pk, buf, len + 1);
    }
    mbedtls_platform_zeroize(buf, len + 1);
    free(buf);
    if (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED)
        return fail(err, errcap, "the key is encrypted: give it unencrypted (the secrets volume protects it)");
    if (ret != 0)
        return fail(err, errcap, private_only ? "not a PEM EC private key (SEC 1 or PKCS#8)"
                                              : "not a PEM EC key (public key, SEC 1 or PKCS#8 private key)");
    return 0;
}

/* PSA attributes for pk restricted to ES256 and one usage, or -1 when pk is
 * not an EC P-256 key of the kind the usage needs. */
static int es256_attributes(const mbedtls_pk_context *pk, psa_key_usage_t usage, psa_key_attributes_t *attr,
                            char *err, size_t errcap)
{
    psa_key_type_t type;

    if (mbedtls_pk_get_psa_attributes(pk, usage, attr) != 0)
        return fail(err, errcap, "not an EC P-256 %s", usage == PSA_KEY_USAGE_SIGN_HASH ? "private key" : "key");
    type = psa_get_key_type(attr);
    if (!PSA_KEY_TYPE_IS_ECC(type) || PSA_KEY_TYPE_ECC_GET_FAMILY(type) != PSA_ECC_FAMILY_SECP_R1 ||
        psa_get_key_bits(attr) != P256_BITS)
        return fail(err, errcap, "not an EC P-256 key (ES256 needs the NIST P-256 curve): found a %u-bit %s key",
                    (unsigned)psa_get_key_bits(attr), PSA_KEY_TYPE_IS_RSA(type) ? "RSA" : "other");
    psa_set_key_usage_flags(attr, usage);
    psa_set_key_algorithm(attr, usage == PSA_KEY_USAGE_SIGN_HASH ? SIGN_ALG : VERIFY_ALG);
    return 0;
}

/* Imports pk into PSA for one usage and exports its public point. */
static int import_pk(const mbedtls_pk_context *pk, psa_key_usage_t usage, psa_key_id_t *id,
                     uint8_t point[BULWARK_P256_POINT_LEN], char *err, size_t errcap)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    size_t point_len = 0;

    if (es256_attributes(pk, usage, &attr, err, errcap) != 0)
        return -1;
    if (mbedtls_pk_import_into_psa(pk, &attr, id) != 0)
        return fail(err, errcap, "the key could not be imported into PSA");
    if (psa_export_public_key(*id, point, BULWARK_P256_POINT_LEN, &point_len) != PSA_SUCCESS ||
        point_len != BULWARK_P256_POINT_LEN) {
        psa_destroy_key(*id);
        *id = PSA_KEY_ID_NULL;
        return fail(err, errcap, "the public key could not be exported");
    }
    return 0;
}

static int load_pem(const char *pem, size_t len, psa_key_usage_t usage, psa_key_id_t *id,
                    uint8_t point[BULWARK_P256_POINT_LEN], char *err, size_t errcap)
{
    mbedtls_pk_context pk;
    int ret;

    mbedtls_pk_init(&pk);
    ret = parse_pem(&pk, pem, len, usage == PSA_KEY_USAGE_SIGN_HASH, err, errcap);
    if (ret == 0)
        ret = import_pk(&pk, usage, id, point, err, errcap);
    mbedtls_pk_free(&pk);
    return ret;
}

/* Reads a whole key file (bounded; the bytes are wiped by bulwark_secret_free). */
static int read_key_file(const char *path, bulwark_secret_t *out, char *err, size_t errcap)
{
    int ret = bulwark_secret_read(path, BULWARK_KEY_FILE_MAX, out);

    if (ret == EFBIG)
        return fail(err, errcap, "%s: larger than %d bytes: not a PEM key", path, BULWARK_KEY_FILE_MAX);
    if (ret != 0)
        return fail(err, errcap, "%s: %s", path, bulwark_secret_error(ret));
    return 0;
}

/* Prefixes err with the file name: "PATH: what is wrong". */
static int fail_in_file(const char *path, const char *inner, char *err, size_t errcap)
{
    return fail(err, errcap, "%s: %s", path, inner);
}

/* ---- thumbprints and kids ------------------------------------------------- */

static int point_coords_b64(const uint8_t point[BULWARK_P256_POINT_LEN], char x[COORD_B64_LEN + 1],
                            char y[COORD_B64_LEN + 1])
{
    size_t n;

    if (bulwark_base64url_encode(x, COORD_B64_LEN + 1, &n, point + 1, BULWARK_P256_COORD_LEN) != 0)
        return -1;
    return bulwark_base64url_encode(y, COORD_B64_LEN + 1, &n, point + 1 + BULWARK_P256_COORD_LEN,
                                    BULWARK_P256_COORD_LEN);
}

/* RFC 7638 §3.2-3.3: the required members of an EC JWK (crv, kty, x, y) in
 * lexicographic order, no whitespace, hashed with SHA-256. */
int bulwark_jwk_thumbprint(const uint8_t point[BULWARK_P256_POINT_LEN], char out[BULWARK_JWK_THUMBPRINT_LEN + 1])
{
    char x[COORD_B64_LEN + 1], y[COORD_B64_LEN + 1], jwk[160];
    uint8_t digest[PSA_HASH_LENGTH(PSA_ALG_SHA_256)];
    size_t digest_len, n;
    int len;

    out[0] = '\0';
    if (point[0] != 0x04 || point_coords_b64(point, x, y) != 0)
        return -1;
    len = snprintf(jwk, sizeof(jwk), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    if (len < 0 || (size_t)len >= sizeof(jwk))
        return -1;
    if (psa_hash_compute(PSA_ALG_SHA_256, (const uint8_t *)jwk, (size_t)len, digest, sizeof(digest), &digest_len) !=
        PSA_SUCCESS)
        return -1;
    return bulwark_base64url_encode(out, BULWARK_JWK_THUMBPRINT_LEN + 1, &n, digest, digest_len);
}

/* The given kid, checked, or the thumbprint of point when kid is NULL. */
static int choose_kid(char dst[BULWARK_JWT_KID_MAX + 1], const char *kid, const uint8_t point[BULWARK_P256_POINT_LEN],
                      char *err, size_t errcap)
{
    if (kid == NULL) {
        if (bulwark_jwk_thumbprint(point, dst) != 0)
            return fail(err, errcap, "the key's thumbprint could not be computed");
        return 0;
    }
    if (!kid_is_valid(kid))
        return fail(err, errcap, "kid must be 1 to %d printable ASCII characters without space, quote or backslash",
                    BULWARK_JWT_KID_MAX);
    memcpy(dst, kid, strlen(kid) + 1); /* kid_is_valid: at most BULWARK_JWT_KID_MAX */
    return 0;
}

/* ---- the key set ---------------------------------------------------------- */

void bulwark_jwt_keyset_init(bulwark_jwt_keyset_t *ks)
{
    memset(ks, 0, sizeof(*ks));
}

void bulwark_jwt_keyset_free(bulwark_jwt_keyset_t *ks)
{
    for (size_t i = 0; i < ks->count; ++i)
        psa_destroy_key(ks->keys[i].id);
    bulwark_jwt_keyset_init(ks);
}

const bulwark_jwt_keyslot_t *bulwark_jwt_keyset_find(const bulwark_jwt_keyset_t *ks, const char *kid, size_t len)
{
    for (size_t i = 0; i < ks->count; ++i) {
        const bulwark_jwt_keyslot_t *k = &ks->keys[i];
        if (strlen(k->kid) == len && memcmp(k->kid, kid, len) == 0)
            return k;
    }
    return NULL;
}

/* Two entries for one key would make "kid absent, exactly one key" and key
 * rotation ambiguous; two keys under one kid would make the lookup so. */
static int check_unique(const bulwark_jwt_keyset_t *ks, const bulwark_jwt_keyslot_t *slot, char *err, size_t errcap)
{
    for (size_t i = 0; i < ks->count; ++i) {
        if (memcmp(ks->keys[i].point, slot->point, BULWARK_P256_POINT_LEN) == 0)
            return fail(err, errcap, "the same key is already loaded (kid \"%s\")", ks->keys[i].kid);
        if (strcmp(ks->keys[i].kid, slot->kid) == 0)
            return fail(err, errcap, "kid \"%s\" is already used by another key", slot->kid);
    }
    return 0;
}

/* Takes ownership of slot->id: it is destroyed when the slot is refused. */
static int keyset_commit(bulwark_jwt_keyset_t *ks, bulwark_jwt_keyslot_t *slot, const char *kid, char *err,
                         size_t errcap)
{
    if (choose_kid(slot->kid, kid, slot->point, err, errcap) != 0 || check_unique(ks, slot, err, errcap) != 0) {
        psa_destroy_key(slot->id);
        return -1;
    }
    ks->keys[ks->count++] = *slot;
    return 0;
}

int bulwark_jwt_keyset_add_pem(bulwark_jwt_keyset_t *ks, const char *pem, size_t len, const char *kid, char *err,
                               size_t errcap)
{
    bulwark_jwt_keyslot_t slot;

    memset(&slot, 0, sizeof(slot));
    if (ks->count == BULWARK_JWT_KEYS_MAX)
        return fail(err, errcap, "more than %d verification keys", BULWARK_JWT_KEYS_MAX);
    if (load_pem(pem, len, PSA_KEY_USAGE_VERIFY_HASH, &slot.id, slot.point, err, errcap) != 0)
        return -1;
    return keyset_commit(ks, &slot, kid, err, errcap);
}

int bulwark_jwt_keyset_add_file(bulwark_jwt_keyset_t *ks, const char *path, const char *kid, char *err,
                                size_t errcap)
{
    char inner[BULWARK_KEY_ERR_MAX];
    bulwark_secret_t f;
    int ret;

    if (read_key_file(path, &f, err, errcap) != 0)
        return -1;
    ret = bulwark_jwt_keyset_add_pem(ks, (const char *)f.bytes, f.len, kid, inner, sizeof(inner));
    bulwark_secret_free(&f);
    return ret == 0 ? 0 : fail_in_file(path, inner, err, errcap);
}

int bulwark_jwt_keyset_add_signer(bulwark_jwt_keyset_t *ks, const bulwark_jwt_signer_t *signer, char *err,
                                  size_t errcap)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    bulwark_jwt_keyslot_t slot;

    memset(&slot, 0, sizeof(slot));
    if (ks->count == BULWARK_JWT_KEYS_MAX)
        return fail(err, errcap, "more than %d verification keys", BULWARK_JWT_KEYS_MAX);
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&attr, P256_BITS);
    psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_VERIFY_HASH);
    psa_set_key_algorithm(&attr, VERIFY_ALG);
    if (psa_import_key(&attr, signer->point, BULWARK_P256_POINT_LEN, &slot.id) != PSA_SUCCESS)
        return fail(err, errcap, "the signing key's public key could not be imported");
    memcpy(slot.point, signer->point, BULWARK_P256_POINT_LEN);
    return keyset_commit(ks, &slot, signer->kid, err, errcap);
}

/* ---- JWKS ----------------------------------------------------------------- */

static json_t *jwk_of(const bulwark_jwt_keyslot_t *k)
{
    char x[COORD_B64_LEN + 1], y[COORD_B64_LEN + 1];

    if (point_coords_b64(k->point, x, y) != 0)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", x, "y", y, "kid",
                     k->kid, "alg", "ES256", "use", "sig");
}

char *bulwark_jwt_keyset_jwks(const bulwark_jwt_keyset_t *ks)
{
    json_t *keys = json_array(), *doc;
    char *out;

    if (keys == NULL)
        return NULL;
    for (size_t i = 0; i < ks->count; ++i) {
        if (json_array_append_new(keys, jwk_of(&ks->keys[i])) != 0) {
            json_decref(keys);
            return NULL;
        }
    }
    if ((doc = json_pack("{s:o}", "keys", keys)) == NULL)
        return NULL;
    out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return out;
}

/* ---- the signer ----------------------------------------------------------- */

int bulwark_jwt_signer_load_pem(bulwark_jwt_signer_t *signer, const char *pem, size_t len, const char *kid,
                                char *err, size_t errcap)
{
    memset(signer, 0, sizeof(*signer));
    if (load_pem(pem, len, PSA_KEY_USAGE_SIGN_HASH, &signer->id, signer->point, err, errcap) != 0)
        return -1;
    if (choose_kid(signer->kid, kid, signer->point, err, errcap) != 0) {
        bulwark_jwt_signer_free(signer);
        return -1;
    }
    return 0;
}

int bulwark_jwt_signer_load_file(bulwark_jwt_signer_t *signer, const char *path, const char *kid, char *err,
                                 size_t errcap)
{
    char inner[BULWARK_KEY_ERR_MAX];
    bulwark_secret_t f;
    int ret;

    memset(signer, 0, sizeof(*signer));
    if (read_key_file(path, &f, err, errcap) != 0)
        return -1;
    ret = bulwark_jwt_signer_load_pem(signer, (const char *)f.bytes, f.len, kid, inner, sizeof(inner));
    bulwark_secret_free(&f);
    return ret == 0 ? 0 : fail_in_file(path, inner, err, errcap);
}

void bulwark_jwt_signer_free(bulwark_jwt_signer_t *signer)
{
    if (signer->id != PSA_KEY_ID_NULL)
        psa_destroy_key(signer->id);
    memset(signer, 0, sizeof(*signer));
}
