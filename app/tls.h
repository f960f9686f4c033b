/*
 * The server's TLS configuration: one mbedtls_ssl_config, shared read-only by
 * every event-loop thread, built from a certificate chain and its key.
 *
 * TLS 1.2 and 1.3 only; ECDHE with AEAD ciphers only; groups X25519, P-256,
 * P-384; ALPN h2 and http/1.1; session tickets (rotating keys) and a bounded
 * TLS 1.2 session cache.  Needs psa_crypto_init() to have run.
 */
#ifndef BULWARK_TLS_H
#define BULWARK_TLS_H

#include <stddef.h>
#include <mbedtls/ssl.h>

typedef struct st_bulwark_tls_t bulwark_tls_t;

/* Returns NULL and a one-line reason in err (naming the file, never its
 * content) when the files cannot make a server configuration. */
bulwark_tls_t *bulwark_tls_create(const char *cert_file, const char *key_file, char *err, size_t errlen);
mbedtls_ssl_config *bulwark_tls_config(bulwark_tls_t *tls);
void bulwark_tls_destroy(bulwark_tls_t *tls);

#endif
