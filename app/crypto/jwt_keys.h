/*
 * JWT keys: the verification key set (public EC P-256 keys, each with a
 * `kid`), its JWKS export, and the ES256 signing key of the builtin login.
 *
 * Keys come only from configuration (PEM files on the secrets volume),
 * never from a token (RFC 8725 §3.10). Each key lives in PSA as a volatile
 * key restricted to one usage and one algorithm: verification keys are
 * imported public-only (VERIFY_HASH, ECDSA with SHA-256), even when the
 * PEM holds the private key, so the key set never holds private material;
 * the signer's key allows SIGN_HASH with deterministic ECDSA (RFC 6979)
 * only.
 *
 * Loading errors are for the operator: `err` receives one line saying
 * what is wrong (with the file name for the *_file functions), never key
 * material.
 */
#ifndef BULWARK_CRYPTO_JWT_KEYS_H
#define BULWARK_CRYPTO_JWT_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <psa/crypto.h>

/* Rotation needs two keys (old and new); a handful more covers several
 * issuers. A bound keeps the lookup a short linear scan. */
#define BULWARK_JWT_KEYS_MAX 8
/* RFC 7638 thumbprints are 43 characters; operator-chosen ids get room. */
#define BULWARK_JWT_KID_MAX 128
/* SEC 1 §2.3.3 uncompressed point: 0x04 || X || Y */
#define BULWARK_P256_COORD_LEN 32
#define BULWARK_P256_POINT_LEN (1 + 2 * BULWARK_P256_COORD_LEN)
/* A PEM EC key is under 300 bytes; anything this large is not one. */
#define BULWARK_KEY_FILE_MAX 16384
/* room for an operator message */
#define BULWARK_KEY_ERR_MAX 256

typedef struct st_bulwark_jwt_keyslot_t {
    char kid[BULWARK_JWT_KID_MAX + 1];
    psa_key_id_t id;
    uint8_t point[BULWARK_P256_POINT_LEN];
} bulwark_jwt_keyslot_t;

typedef struct st_bulwark_jwt_keyset_t {
    bulwark_jwt_keyslot_t keys[BULWARK_JWT_KEYS_MAX];
    size_t count;
} bulwark_jwt_keyset_t;

typedef struct st_bulwark_jwt_signer_t {
    char kid[BULWARK_JWT_KID_MAX + 1];
    psa_key_id_t id;
    uint8_t point[BULWARK_P256_POINT_LEN];
} bulwark_jwt_signer_t;

void bulwark_jwt_keyset_init(bulwark_jwt_keyset_t *ks);
/* Destroys the PSA keys; the set is empty (and reusable) afterwards. */
void bulwark_jwt_keyset_free(bulwark_jwt_keyset_t *ks);

/* Adds the public key of a PEM EC P-256 key (SubjectPublicKeyInfo, SEC 1
 * or PKCS#8 private key; not encrypted). kid NULL: the RFC 7638 thumbprint.
 * A kid must be 1..BULWARK_JWT_KID_MAX printable ASCII characters without
 * space, quote or backslash, and unique in the set; so must the key.
 * Returns 0, or -1 with err filled. */
int bulwark_jwt_keyset_add_pem(bulwark_jwt_keyset_t *ks, const char *pem, size_t len, const char *kid, char *err,
                               size_t errcap);
int bulwark_jwt_keyset_add_file(bulwark_jwt_keyset_t *ks, const char *path, const char *kid, char *err,
                                size_t errcap);
/* Adds the signer's public key under the signer's kid, so that tokens of
 * the builtin login verify without naming the key file twice. */
int bulwark_jwt_keyset_add_signer(bulwark_jwt_keyset_t *ks, const bulwark_jwt_signer_t *signer, char *err,
                                  size_t errcap);

/* the key named kid, or NULL */
const bulwark_jwt_keyslot_t *bulwark_jwt_keyset_find(const bulwark_jwt_keyset_t *ks, const char *kid, size_t len);

/* The JWKS document (RFC 7517 §5) of the set's public keys, compact JSON:
 * {"keys":[{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,"alg":"ES256",
 * "use":"sig"}]}. Returns a malloc'd NUL-terminated string (free()), or
 * NULL when out of memory. */
char *bulwark_jwt_keyset_jwks(const bulwark_jwt_keyset_t *ks);

/* Loads a PEM EC P-256 private key (SEC 1 or PKCS#8, not encrypted).
 * kid NULL: the RFC 7638 thumbprint of its public key. Returns 0, or -1
 * with err filled. */
int bulwark_jwt_signer_load_pem(bulwark_jwt_signer_t *signer, const char *pem, size_t len, const char *kid,
                                char *err, size_t errcap);
int bulwark_jwt_signer_load_file(bulwark_jwt_signer_t *signer, const char *path, const char *kid, char *err,
                                 size_t errcap);
void bulwark_jwt_signer_free(bulwark_jwt_signer_t *signer);

/* RFC 7638 JWK thumbprint (SHA-256, base64url: 43 characters and a NUL) of
 * an uncompressed P-256 point. Returns 0 or -1. */
#define BULWARK_JWK_THUMBPRINT_LEN 43
int bulwark_jwk_thumbprint(const uint8_t point[BULWARK_P256_POINT_LEN], char out[BULWARK_JWK_THUMBPRINT_LEN + 1]);

#endif
