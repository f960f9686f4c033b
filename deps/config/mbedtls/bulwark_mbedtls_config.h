/*
 * Bulwark's mbedTLS 3.6 configuration: everything the appliance needs and
 * nothing else. Selected with -DMBEDTLS_CONFIG_FILE="bulwark_mbedtls_config.h"
 * in place of mbedTLS's default include/mbedtls/mbedtls_config.h.
 *
 * Policy: TLS 1.2 and 1.3, ECDHE key exchange with AEAD ciphers only
 * (AES-GCM, ChaCha20-Poly1305), groups X25519, P-256 and P-384, ECDSA and
 * RSA certificates. Anything not listed here is off: CBC, CCM, static RSA
 * key exchange, finite-field DHE, PSK-only, DTLS, renegotiation, SSLv3-era
 * compatibility, compression, debug output.
 */
#ifndef BULWARK_MBEDTLS_CONFIG_H
#define BULWARK_MBEDTLS_CONFIG_H

/* --- System support ------------------------------------------------------ */
#define MBEDTLS_HAVE_ASM            /* inline asm for bignum multiply (x86-64) */
#define MBEDTLS_HAVE_SSE2           /* SSE2 bignum paths; every x86-64 CPU has it */
#define MBEDTLS_HAVE_TIME           /* ticket lifetimes and session cache expiry */
#define MBEDTLS_HAVE_TIME_DATE      /* certificate validity checks (gmtime_r) */
#define MBEDTLS_PLATFORM_C          /* calloc/free indirection used throughout */
#define MBEDTLS_FS_IO               /* load certificates and keys from files (the secrets volume) */
#define MBEDTLS_THREADING_C         /* one event loop per core shares the ticket key, cache and PSA */
#define MBEDTLS_THREADING_PTHREAD   /* ... through musl's pthread mutexes */
#define MBEDTLS_DEPRECATED_REMOVED  /* no deprecated API may be used by our code or patches */

/* --- Entropy and random numbers ------------------------------------------ */
#define MBEDTLS_ENTROPY_C           /* entropy pool fed by getrandom(2) (entropy_poll.c) */
#define MBEDTLS_CTR_DRBG_C          /* the DRBG behind PSA and our handshakes (AES-256 based) */
#define MBEDTLS_HMAC_DRBG_C         /* deterministic ECDSA nonces (RFC 6979) */
#define MBEDTLS_ECDSA_DETERMINISTIC /* RFC 6979: no signature depends on RNG quality */

/* --- Symmetric ciphers: AEAD only ---------------------------------------- */
#define MBEDTLS_AES_C               /* AES-GCM */
#define MBEDTLS_AESNI_C             /* AES-NI and PCLMULQDQ when the CPU has them */
#define MBEDTLS_GCM_C               /* TLS_*_AES_*_GCM_* */
#define MBEDTLS_CHACHA20_C          /* TLS_*_CHACHA20_POLY1305_* */
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C            /* generic cipher layer the TLS record code uses */

/* --- Hashes --------------------------------------------------------------- */
#define MBEDTLS_MD_C                /* generic digest layer (HKDF, HMAC, signatures) */
#define MBEDTLS_SHA1_C              /* only for h2o's HTTP/2 casper cookie digest and legacy cert chains */
#define MBEDTLS_SHA224_C            /* required alongside SHA-256 by mbedTLS */
#define MBEDTLS_SHA256_C            /* TLS 1.3 suites, ES256 JWT, PBKDF2-SHA256, cache digests */
#define MBEDTLS_SHA384_C            /* TLS_AES_256_GCM_SHA384, P-384 signatures */
#define MBEDTLS_SHA512_C            /* required by SHA-384 */
#define MBEDTLS_HKDF_C              /* TLS 1.3 key schedule */
#define MBEDTLS_PKCS5_C             /* PBKDF2-SHA256 password hashes (demo users) */

/* --- Public key ------------------------------------------------------------ */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_NIST_OPTIM      /* fast reduction for NIST curves: much faster P-256/P-384 */
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED /* P-256: group and ECDSA certificates */
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED /* P-384 */
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED /* X25519 key exchange */
#define MBEDTLS_ECDH_C              /* ECDHE */
#define MBEDTLS_ECDSA_C             /* ECDSA certificates, ES256 tokens */
#define MBEDTLS_RSA_C               /* RSA certificates (operators may bring one) */
#define MBEDTLS_PKCS1_V15           /* RSA signatures in TLS 1.2 and in certificate chains */
#define MBEDTLS_PKCS1_V21           /* RSA-PSS, mandatory for RSA in TLS 1.3 */
#define MBEDTLS_GENPRIME            /* RSA key generation in tests; small code */
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C          /* load keys from PEM/DER */
#define MBEDTLS_PK_WRITE_C          /* write demo keys; export the JWKS public key */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C            /* PEM and JWT base64url */
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PEM_WRITE_C         /* demo identity tool writes PEM */

/* --- X.509 ------------------------------------------------------------------ */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C    /* server chains and upstream CAs */
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT
#define MBEDTLS_X509_CREATE_C       /* demo CA and server certificate at build time */
#define MBEDTLS_X509_CRT_WRITE_C

/* --- PSA crypto (TLS 1.3 requires it) --------------------------------------- */
#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_USE_PSA_CRYPTO      /* TLS and X.509 go through PSA: one code path */
/* Every TLS connection holds several PSA key slots (record keys, ephemeral
 * ECDHE keys during the handshake). The static store has 32 slots, which
 * caps the server at about 14 concurrent connections; the dynamic store
 * grows with the number of connections. */
#define MBEDTLS_PSA_KEY_STORE_DYNAMIC
/* PSA functions work on the caller's buffers directly instead of copying
 * each input and output to the heap first. The copies protect a PSA service
 * whose callers share memory with it across a trust boundary; here PSA is a
 * library inside the one process, and every buffer it is given is that
 * process's own. Without this, every TLS record costs a calloc of the whole
 * remaining record buffer (~16 KiB), a copy of it back and a free, in both
 * directions (tests/bench/binaries.sh, tests/bench/README.md). The record
 * layer encrypts in place (input == output), which GCM and ChaCha20-Poly1305
 * support; partially overlapping buffers would not be, and nothing passes
 * them. */
#define MBEDTLS_PSA_ASSUME_EXCLUSIVE_BUFFERS

/* --- TLS ---------------------------------------------------------------------- */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C           /* the appliance */
#define MBEDTLS_SSL_CLI_C           /* HTTPS upstreams of proxy routes */
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED /* TLS 1.2: ECDHE with ECDSA certs */
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED   /* TLS 1.2: ECDHE with RSA certs */
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED     /* full TLS 1.3 handshakes */
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED /* TLS 1.3 resumption, still (EC)DHE */
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE /* RFC 8446 D.4: middlebox compatibility */
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET /* RFC 7627 for TLS 1.2 */
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_ALPN            /* h2 and http/1.1 */
#define MBEDTLS_SSL_SESSION_TICKETS /* stateless resumption, 1.2 and 1.3 */
#define MBEDTLS_SSL_TICKET_C        /* rotating ticket keys (AES-256-GCM) */
#define MBEDTLS_SSL_CACHE_C         /* TLS 1.2 session-id resumption */
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE /* upstream certificate checks after handshake */
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH   /* RFC 6066 for small-memory clients */
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES    /* tell peers why a handshake failed */

#define MBEDTLS_ERROR_C             /* mbedtls_strerror for operator-facing start-up errors */
#define MBEDTLS_VERSION_C

/* --- Sizes -------------------------------------------------------------------- */
/* RSA up to 4096 bits is enough for any certificate we accept. */
#define MBEDTLS_MPI_MAX_SIZE 512
/* Window 4 with fixed-point comb tables: the fastest ECP setting for a
 * server that signs and derives on the same curves all day. */
#define MBEDTLS_ECP_WINDOW_SIZE 4
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 1
/* TLS 1.3 session tickets issued after a handshake. */
#define MBEDTLS_SSL_TLS1_3_DEFAULT_NEW_SESSION_TICKETS 1

#endif
