/*
 * The fuzz targets' ES256 key: a fixed P-256 key whose private scalar is
 * SHA-256 of FUZZ_KEY_LABEL. It is public by construction (a test key, never
 * a secret of anything) so that tests/fuzz/make-corpus.py can sign seed
 * tokens the targets accept: mutations then start from inputs that get past
 * the signature to the claim checks and the authenticated routes.
 */
#ifndef BULWARK_FUZZ_KEY_H
#define BULWARK_FUZZ_KEY_H

#include <stddef.h>

#define FUZZ_KEY_LABEL "bulwark fuzz signing key: public, for tests only"
/* the kid the fuzz policy and the seed tokens name */
#define FUZZ_KEY_KID "fuzz-1"
/* a PEM SEC 1 P-256 private key is about 230 bytes */
#define FUZZ_KEY_PEM_MAX 1024

/* Writes the key as PEM (NUL-terminated) into pem; aborts on failure (the
 * target cannot run without it). Needs bulwark_crypto_init() first. */
void fuzz_key_pem(char *pem, size_t cap);

#endif
