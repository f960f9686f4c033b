/*
 * Start-up of the crypto floor; see crypto.h.
 */
#include <psa/crypto.h>
#include "crypto.h"

int bulwark_crypto_init(void)
{
    return psa_crypto_init() == PSA_SUCCESS ? 0 : -1;
}
