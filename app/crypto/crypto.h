/*
 * The crypto floor of the service: JWT (jwt.h), JWKS and key loading
 * (jwt_keys.h), password hashes (password.h), strict base64 (base64.h).
 * It uses mbedTLS/PSA, jansson and libc, and nothing else in app/.
 *
 * Threads: call bulwark_crypto_init() once, from the main thread, before
 * any other function here and before starting threads. After that every
 * function may be called from any thread: they keep no global mutable
 * state of their own, and PSA's key store and RNG are thread-safe in this
 * build (MBEDTLS_THREADING_C). Loaded key sets and signers are read-only
 * after loading and may be shared between threads.
 */
#ifndef BULWARK_CRYPTO_H
#define BULWARK_CRYPTO_H

/* psa_crypto_init(); returns 0, or -1 (the RNG could not be seeded) */
int bulwark_crypto_init(void);

#endif
