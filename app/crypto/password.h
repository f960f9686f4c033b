/*
 * Password hashes: "pbkdf2-sha256$ITERATIONS$SALT$HASH" with SALT and HASH
 * in standard base64 with padding (RFC 4648 §4), PBKDF2-HMAC-SHA256
 * (RFC 8018 §5.2) verified with a constant-time comparison.
 *
 * Cost: one verification at 310,000 iterations takes on the order of
 * 100 ms of CPU. Never call these functions on an event-loop thread: run
 * them on a worker thread. Every function here may be called from any
 * thread at the same time (no shared mutable state; PSA's RNG, used by
 * bulwark_password_hash(), is thread-safe in this build).
 *
 * Unknown users: call bulwark_password_dummy_verify() with the iteration
 * count of the stored hashes, so that "no such user" costs what "wrong
 * password" costs (DEFAULT-POLICY.md: same answer, similar time).
 *
 * Parse stored hashes once at load time (bulwark_password_parse) and
 * report a malformed one to the operator there: a malformed hash at login
 * time answers at once, without the PBKDF2 cost.
 */
#ifndef BULWARK_CRYPTO_PASSWORD_H
#define BULWARK_CRYPTO_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#define BULWARK_PASSWORD_SCHEME "pbkdf2-sha256"
/* OWASP Password Storage Cheat Sheet (2023): PBKDF2-HMAC-SHA256 needs at
 * least 310,000 iterations. */
#define BULWARK_PASSWORD_MIN_ITERATIONS 310000u
/* About 3 s of CPU per attempt: beyond it a login costs more than any
 * attacker's guess is worth defending, and a typo could stall the workers. */
#define BULWARK_PASSWORD_MAX_ITERATIONS 10000000u
/* NIST SP 800-132 §5.1: at least 128 bits of salt */
#define BULWARK_PASSWORD_SALT_MIN 16
#define BULWARK_PASSWORD_SALT_MAX 64
/* what bulwark_password_hash() draws */
#define BULWARK_PASSWORD_SALT_LEN 16
/* PBKDF2 output = one SHA-256 block: more would multiply the defender's
 * work, not the attacker's (RFC 8018 §5.2, one block per 32 bytes). */
#define BULWARK_PASSWORD_HASH_LEN 32
/* Long enough for any passphrase; bounds the work per attempt. */
#define BULWARK_PASSWORD_MAX_LEN 1024
/* "pbkdf2-sha256$10000000$<88 chars>$<44 chars>" fits */
#define BULWARK_PASSWORD_ENCODED_MAX 256

typedef enum en_bulwark_password_status_t {
    BULWARK_PASSWORD_OK = 0,
    BULWARK_PASSWORD_MISMATCH,            /* well-formed, wrong password */
    BULWARK_PASSWORD_ERR_FORMAT,          /* not "pbkdf2-sha256$N$SALT$HASH" (or too long) */
    BULWARK_PASSWORD_ERR_ITERATIONS,      /* not a canonical decimal number */
    BULWARK_PASSWORD_ERR_ITERATIONS_LOW,  /* below BULWARK_PASSWORD_MIN_ITERATIONS */
    BULWARK_PASSWORD_ERR_ITERATIONS_HIGH, /* above BULWARK_PASSWORD_MAX_ITERATIONS */
    BULWARK_PASSWORD_ERR_SALT,            /* not strict padded base64 */
    BULWARK_PASSWORD_ERR_SALT_LENGTH,     /* outside SALT_MIN..SALT_MAX bytes */
    BULWARK_PASSWORD_ERR_HASH,            /* not strict padded base64 */
    BULWARK_PASSWORD_ERR_HASH_LENGTH,     /* not BULWARK_PASSWORD_HASH_LEN bytes */
    BULWARK_PASSWORD_ERR_TOO_LONG,        /* the password is over BULWARK_PASSWORD_MAX_LEN */
    BULWARK_PASSWORD_ERR_INTERNAL,        /* mbedTLS or PSA failure */
    BULWARK_PASSWORD_STATUS_COUNT_
} bulwark_password_status_t;

/* "mismatch", "iterations_low", ...: stable names for logs and tests */
const char *bulwark_password_status_name(bulwark_password_status_t status);

typedef struct st_bulwark_password_hash_t {
    uint32_t iterations;
    uint8_t salt[BULWARK_PASSWORD_SALT_MAX];
    size_t salt_len;
    uint8_t hash[BULWARK_PASSWORD_HASH_LEN];
} bulwark_password_hash_t;

/* Parses a NUL-terminated encoded hash. */
bulwark_password_status_t bulwark_password_parse(const char *encoded, bulwark_password_hash_t *out);
/* BULWARK_PASSWORD_OK or MISMATCH (or TOO_LONG, INTERNAL). */
bulwark_password_status_t bulwark_password_check(const bulwark_password_hash_t *stored, const char *password,
                                                 size_t len);
/* parse + check */
bulwark_password_status_t bulwark_password_verify(const char *encoded, const char *password, size_t len);

/* Spends what bulwark_password_check() spends for a stored hash of this
 * many iterations (0: BULWARK_PASSWORD_MIN_ITERATIONS), and matches nothing. */
void bulwark_password_dummy_verify(uint32_t iterations, const char *password, size_t len);

/* Hashes password with a fresh random salt into out (NUL-terminated).
 * Returns OK, ITERATIONS_LOW/HIGH, TOO_LONG, ERR_FORMAT (out too small)
 * or INTERNAL. */
bulwark_password_status_t bulwark_password_hash(uint32_t iterations, const char *password, size_t len, char *out,
                                                size_t cap);

#endif
