/*
 * The server's TLS configuration: one mbedtls_ssl_config, shared read-only by
 * every event-loop thread, built from a certificate chain, its key and the
 * policy's tls section (versions, suites, groups and ALPN in its order; the
 * policy's IANA numbers are mbedTLS's ids).  Session tickets (rotating keys)
 * and a bounded TLS 1.2 session cache.  Needs psa_crypto_init() to have run.
 */
#ifndef BULWARK_TLS_H
#define BULWARK_TLS_H

#include <stddef.h>
#include <mbedtls/ssl.h>
#include "policy/policy.h"

typedef struct st_bulwark_tls_t bulwark_tls_t;

/* Returns NULL and a one-line reason in err (naming the file, never its
 * content) when the files cannot make a server configuration. */
bulwark_tls_t *bulwark_tls_create(const char *cert_file, const char *key_file, const bulwark_policy_tls_t *policy, char *err,
                                  size_t errlen);
mbedtls_ssl_config *bulwark_tls_config(bulwark_tls_t *tls);
void bulwark_tls_destroy(bulwark_tls_t *tls);

/* The client side, for a proxy route's HTTPS upstream: the chain must lead
 * to a CA of ca_file (PEM or DER, on the secrets volume) and the certificate
 * must name the upstream's host; versions, suites and groups are the
 * policy's. Returns NULL and a one-line reason in err. */
typedef struct st_bulwark_tls_client_t bulwark_tls_client_t;
bulwark_tls_client_t *bulwark_tls_client_create(const char *ca_file, const bulwark_policy_tls_t *policy, char *err,
                                                size_t errlen);
mbedtls_ssl_config *bulwark_tls_client_config(bulwark_tls_client_t *c);
void bulwark_tls_client_destroy(bulwark_tls_client_t *c);

#endif
