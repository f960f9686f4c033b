/*
 * Start-up of the crypto floor; see crypto.h.
 */
#include <psa/crypto.h>
#include "crypto.h"

int bulwark_crypto_init(void)
{
    if (psa_crypto_init() != PSA_SUCCESS)
        return -1;
    /* Fresh entropy before every draw: a VM restored twice from one memory
     * snapshot (or a forked process) must not repeat TLS 1.3 ephemeral
     * keys.  Costs a getrandom(2) per draw, a few per handshake. */
    return psa_random_set_prediction_resistance(1) == PSA_SUCCESS ? 0 : -1;
}
