/*
 * PBKDF2-SHA256 password hashes; see password.h.
 */
#include <stdio.h>
#include <string.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <psa/crypto.h>
#include "base64.h"
#include "password.h"

#define FIELD_SEP '$'
/* decimal digits of BULWARK_PASSWORD_MAX_ITERATIONS: any longer number is
 * above it */
#define ITERATIONS_DIGITS_MAX 8

/* the salt of bulwark_password_dummy_verify(): any fixed value will do, it
 * protects nothing */
static const uint8_t dummy_salt[BULWARK_PASSWORD_SALT_LEN] = {
    'b', 'u', 'l', 'w', 'a', 'r', 'k', '-', 'n', 'o', '-', 'u', 's', 'e', 'r', '!',
};
static const uint8_t dummy_hash[BULWARK_PASSWORD_HASH_LEN];

static const char *const status_names[BULWARK_PASSWORD_STATUS_COUNT_] = {
    [BULWARK_PASSWORD_OK] = "ok",
    [BULWARK_PASSWORD_MISMATCH] = "mismatch",
    [BULWARK_PASSWORD_ERR_FORMAT] = "format",
    [BULWARK_PASSWORD_ERR_ITERATIONS] = "iterations",
    [BULWARK_PASSWORD_ERR_ITERATIONS_LOW] = "iterations_low",
    [BULWARK_PASSWORD_ERR_ITERATIONS_HIGH] = "iterations_high",
    [BULWARK_PASSWORD_ERR_SALT] = "salt",
    [BULWARK_PASSWORD_ERR_SALT_LENGTH] = "salt_length",
    [BULWARK_PASSWORD_ERR_HASH] = "hash",
    [BULWARK_PASSWORD_ERR_HASH_LENGTH] = "hash_length",
    [BULWARK_PASSWORD_ERR_TOO_LONG] = "too_long",
    [BULWARK_PASSWORD_ERR_INTERNAL] = "internal",
};

const char *bulwark_password_status_name(bulwark_password_status_t status)
{
    if ((unsigned)status >= BULWARK_PASSWORD_STATUS_COUNT_ || status_names[status] == NULL)
        return "unknown";
    return status_names[status];
}

/* ---- parsing ----------------------------------------------------------------- */

static bulwark_password_status_t iterations_in_range(uint64_t n)
{
    if (n < BULWARK_PASSWORD_MIN_ITERATIONS)
        return BULWARK_PASSWORD_ERR_ITERATIONS_LOW;
    if (n > BULWARK_PASSWORD_MAX_ITERATIONS)
        return BULWARK_PASSWORD_ERR_ITERATIONS_HIGH;
    return BULWARK_PASSWORD_OK;
}

/* Canonical decimal: digits only, no sign, no leading zero. */
static bulwark_password_status_t parse_iterations(const char *s, size_t len, uint32_t *out)
{
    uint64_t n = 0;

    if (len == 0 || (s[0] == '0' && len > 1))
        return BULWARK_PASSWORD_ERR_ITERATIONS;
    for (size_t i = 0; i < len; ++i)
        if (s[i] < '0' || s[i] > '9')
            return BULWARK_PASSWORD_ERR_ITERATIONS;
    if (len > ITERATIONS_DIGITS_MAX)
        return BULWARK_PASSWORD_ERR_ITERATIONS_HIGH;
    for (size_t i = 0; i < len; ++i)
        n = n * 10 + (uint64_t)(s[i] - '0');
    *out = (uint32_t)n;
    return iterations_in_range(n);
}

/* Decodes a padded base64 field of min..max bytes. Returns 0, -1 (not
 * base64) or -2 (wrong length). */
static int decode_field(const char *s, size_t len, uint8_t *dst, size_t min, size_t max, size_t *outlen)
{
    uint8_t buf[BULWARK_BASE64_DECODED_MAX(BULWARK_PASSWORD_ENCODED_MAX)];
    size_t n;

    if (bulwark_base64_decode(buf, sizeof(buf), &n, s, len) != 0)
        return -1;
    if (n < min || n > max) {
        mbedtls_platform_zeroize(buf, sizeof(buf));
        return -2;
    }
    memcpy(dst, buf, n);
    mbedtls_platform_zeroize(buf, sizeof(buf));
    *outlen = n;
    return 0;
}

/* Splits "N$SALT$HASH" into its three fields. */
static int split_fields(const char *s, const char *field[3], size_t flen[3])
{
    for (int i = 0; i < 3; ++i) {
        const char *end = strchr(s, FIELD_SEP);
        if ((end == NULL) != (i == 2))
            return -1;
        if (end == NULL)
            end = s + strlen(s);
        field[i] = s;
        flen[i] = (size_t)(end - s);
        s = end + 1;
    }
    return 0;
}

bulwark_password_status_t bulwark_password_parse(const char *encoded, bulwark_password_hash_t *out)
{
    static const char prefix[] = BULWARK_PASSWORD_SCHEME "$";
    const char *field[3];
    size_t flen[3], hash_len;
    bulwark_password_status_t st;
    int ret;

    memset(out, 0, sizeof(*out));
    if (strnlen(encoded, BULWARK_PASSWORD_ENCODED_MAX + 1) > BULWARK_PASSWORD_ENCODED_MAX ||
        strncmp(encoded, prefix, sizeof(prefix) - 1) != 0 ||
        split_fields(encoded + sizeof(prefix) - 1, field, flen) != 0)
        return BULWARK_PASSWORD_ERR_FORMAT;
    if ((st = parse_iterations(field[0], flen[0], &out->iterations)) != BULWARK_PASSWORD_OK)
        return st;
    ret = decode_field(field[1], flen[1], out->salt, BULWARK_PASSWORD_SALT_MIN, BULWARK_PASSWORD_SALT_MAX,
                       &out->salt_len);
    if (ret != 0)
        return ret == -1 ? BULWARK_PASSWORD_ERR_SALT : BULWARK_PASSWORD_ERR_SALT_LENGTH;
    ret = decode_field(field[2], flen[2], out->hash, BULWARK_PASSWORD_HASH_LEN, BULWARK_PASSWORD_HASH_LEN, &hash_len);
    if (ret != 0)
        return ret == -1 ? BULWARK_PASSWORD_ERR_HASH : BULWARK_PASSWORD_ERR_HASH_LENGTH;
    return BULWARK_PASSWORD_OK;
}

/* ---- verifying ----------------------------------------------------------------- */

static int pbkdf2(const char *password, size_t len, const uint8_t *salt, size_t salt_len, uint32_t iterations,
                  uint8_t out[BULWARK_PASSWORD_HASH_LEN])
{
    return mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256, (const unsigned char *)password, len, salt, salt_len,
                                         iterations, BULWARK_PASSWORD_HASH_LEN, out);
}

bulwark_password_status_t bulwark_password_check(const bulwark_password_hash_t *stored, const char *password,
                                                 size_t len)
{
    uint8_t derived[BULWARK_PASSWORD_HASH_LEN];
    bulwark_password_status_t st = BULWARK_PASSWORD_MISMATCH;

    if (len > BULWARK_PASSWORD_MAX_LEN)
        return BULWARK_PASSWORD_ERR_TOO_LONG;
    /* a hand-filled record must not make us spend unbounded time */
    if ((st = iterations_in_range(stored->iterations)) != BULWARK_PASSWORD_OK)
        return st;
    st = BULWARK_PASSWORD_MISMATCH;
    if (pbkdf2(password, len, stored->salt, stored->salt_len, stored->iterations, derived) != 0)
        st = BULWARK_PASSWORD_ERR_INTERNAL;
    else if (mbedtls_ct_memcmp(derived, stored->hash, BULWARK_PASSWORD_HASH_LEN) == 0)
        st = BULWARK_PASSWORD_OK;
    mbedtls_platform_zeroize(derived, sizeof(derived));
    return st;
}

bulwark_password_status_t bulwark_password_verify(const char *encoded, const char *password, size_t len)
{
    bulwark_password_hash_t stored;
    bulwark_password_status_t st = bulwark_password_parse(encoded, &stored);

    if (st == BULWARK_PASSWORD_OK)
        st = bulwark_password_check(&stored, password, len);
    mbedtls_platform_zeroize(&stored, sizeof(stored));
    return st;
}

/* The same work as bulwark_password_check(): PBKDF2 with the same cost and
 * output length, and the same constant-time comparison. */
void bulwark_password_dummy_verify(uint32_t iterations, const char *password, size_t len)
{
    uint8_t derived[BULWARK_PASSWORD_HASH_LEN];
    volatile int sink = 0;

    if (len > BULWARK_PASSWORD_MAX_LEN)
        return;
    if (iterations == 0 || iterations_in_range(iterations) != BULWARK_PASSWORD_OK)
        iterations = BULWARK_PASSWORD_MIN_ITERATIONS;
    if (pbkdf2(password, len, dummy_salt, sizeof(dummy_salt), iterations, derived) == 0)
        sink = mbedtls_ct_memcmp(derived, dummy_hash, sizeof(dummy_hash));
    (void)sink;
    mbedtls_platform_zeroize(derived, sizeof(derived));
}

/* ---- hashing --------------------------------------------------------------- */

static bulwark_password_status_t encode_hash(uint32_t iterations, const uint8_t *salt, const uint8_t *hash, char *out,
                                             size_t cap)
{
    char salt64[BULWARK_BASE64_LEN(BULWARK_PASSWORD_SALT_LEN) + 1];
    char hash64[BULWARK_BASE64_LEN(BULWARK_PASSWORD_HASH_LEN) + 1];
    size_t n;
    int len;

    if (bulwark_base64_encode(salt64, sizeof(salt64), &n, salt, BULWARK_PASSWORD_SALT_LEN) != 0 ||
        bulwark_base64_encode(hash64, sizeof(hash64), &n, hash, BULWARK_PASSWORD_HASH_LEN) != 0)
        return BULWARK_PASSWORD_ERR_INTERNAL;
    len = snprintf(out, cap, "%s$%u$%s$%s", BULWARK_PASSWORD_SCHEME, (unsigned)iterations, salt64, hash64);
    if (len < 0 || (size_t)len >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return BULWARK_PASSWORD_ERR_FORMAT;
    }
    return BULWARK_PASSWORD_OK;
}

bulwark_password_status_t bulwark_password_hash(uint32_t iterations, const char *password, size_t len, char *out,
                                                size_t cap)
{
    uint8_t salt[BULWARK_PASSWORD_SALT_LEN], derived[BULWARK_PASSWORD_HASH_LEN];
    bulwark_password_status_t st;

    if ((st = iterations_in_range(iterations)) != BULWARK_PASSWORD_OK)
        return st;
    if (len > BULWARK_PASSWORD_MAX_LEN)
        return BULWARK_PASSWORD_ERR_TOO_LONG;
    if (psa_generate_random(salt, sizeof(salt)) != PSA_SUCCESS)
        return BULWARK_PASSWORD_ERR_INTERNAL;
    if (pbkdf2(password, len, salt, sizeof(salt), iterations, derived) != 0)
        st = BULWARK_PASSWORD_ERR_INTERNAL;
    else
        st = encode_hash(iterations, salt, derived, out, cap);
    mbedtls_platform_zeroize(derived, sizeof(derived));
    return st;
}
