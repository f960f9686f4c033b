/*
 * The fuzz targets' fixed ES256 key; see fuzz_key.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/psa_util.h>
#include <psa/crypto.h>
#include "fuzz_key.h"

static void die(const char *what, int ret)
{
    fprintf(stderr, "fuzz_key: %s failed (%d)\n", what, ret);
    abort();
}

void fuzz_key_pem(char *pem, size_t cap)
{
    unsigned char scalar[32];
    size_t len;
    mbedtls_pk_context pk;
    int ret;

    if ((ret = psa_hash_compute(PSA_ALG_SHA_256, (const uint8_t *)FUZZ_KEY_LABEL, strlen(FUZZ_KEY_LABEL), scalar,
                                sizeof(scalar), &len)) != PSA_SUCCESS)
        die("psa_hash_compute", ret);
    mbedtls_pk_init(&pk);
    if ((ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0)
        die("mbedtls_pk_setup", ret);
    if ((ret = mbedtls_ecp_read_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), scalar, sizeof(scalar))) != 0)
        die("mbedtls_ecp_read_key", ret);
    if ((ret = mbedtls_ecp_keypair_calc_public(mbedtls_pk_ec(pk), mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE)) != 0)
        die("mbedtls_ecp_keypair_calc_public", ret);
    if ((ret = mbedtls_pk_write_key_pem(&pk, (unsigned char *)pem, cap)) != 0)
        die("mbedtls_pk_write_key_pem", ret);
    mbedtls_pk_free(&pk);
}
