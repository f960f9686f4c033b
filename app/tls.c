/*
 * The server's TLS configuration; see tls.h.
 *
 * One mbedtls_ssl_config serves every thread.  What it points at is either
 * read-only after set-up (certificates, key, cipher and group lists) or
 * locked inside mbedTLS when MBEDTLS_THREADING_C is on (checked in 3.6):
 * mbedtls_ctr_drbg_random takes the DRBG's mutex, the ticket context and the
 * session cache take their own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#include "h2o.h"
#include "secrets.h"
#include "tls.h"

/* A chain of a few certificates is a few KiB; the bound keeps a wrong path
 * (a device, a huge file) from being read into memory. */
#define CERT_FILE_MAX (1024 * 1024)
/* an RSA-8192 key in PEM is under 7 KiB */
#define KEY_FILE_MAX (64 * 1024)

/* Ticket lifetime, which is also how often mbedTLS rotates the ticket key:
 * 12 h bounds how long a stolen ticket key decrypts recorded sessions
 * (forward secrecy) while most clients still resume within a working day. */
#define TICKET_LIFETIME_SECONDS (12 * 60 * 60)

/* mbedtls_ssl_cache is a list searched under a mutex: a few thousand entries
 * cost microseconds per TLS 1.2 resumption and about 1 MiB at most. */
#define SESSION_CACHE_MAX_ENTRIES 4096
#define SESSION_CACHE_TIMEOUT_SECONDS (2 * 60 * 60)

#define DRBG_PERSONALIZATION "bulwark tls drbg"

/* the policy loader allows at most 16 suites, 3 groups and 2 protocols */
#define CIPHERSUITES_MAX 16
#define GROUPS_MAX 3
#define ALPN_MAX 2

struct st_bulwark_tls_t {
    mbedtls_ssl_config conf;
    /* what conf points at: zero-terminated lists, as mbedTLS wants them */
    int ciphersuites[CIPHERSUITES_MAX + 1];
    uint16_t groups[GROUPS_MAX + 1];
    h2o_iovec_t alpn[ALPN_MAX + 1];
    mbedtls_x509_crt chain;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_ticket_context tickets;
    mbedtls_ssl_cache_context cache;
};

static void say(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap); /* Flawfinder: ignore (fmt is checked at each caller: format attribute) */
    va_end(ap);
}

static void mbedtls_reason(int ret, char *buf, size_t len)
{
    mbedtls_strerror(ret, buf, len);
}

static int is_pem(const bulwark_secret_t *f)
{
    return f->bytes != NULL && strstr((const char *)f->bytes, "-----BEGIN ") != NULL;
}

/* PEM is parsed with its terminating NUL, DER without */
static size_t parse_len(const bulwark_secret_t *f)
{
    return is_pem(f) ? f->len + 1 : f->len;
}

static int load_chain(mbedtls_x509_crt *chain, const char *path, char *err, size_t errlen)
{
    bulwark_secret_t f = {NULL, 0};
    char why[128];
    int ret;

    if ((ret = bulwark_secret_read(path, CERT_FILE_MAX, &f)) != 0) {
        say(err, errlen, "cannot read certificate %s: %s", path, bulwark_secret_error(ret));
        return -1;
    }
    ret = mbedtls_x509_crt_parse(chain, f.bytes, parse_len(&f));
    bulwark_secret_free(&f);
    if (ret < 0) {
        mbedtls_reason(ret, why, sizeof(why));
        say(err, errlen, "certificate %s is not a PEM or DER X.509 certificate (%s)", path, why);
        return -1;
    }
    if (ret > 0) {
        say(err, errlen, "certificate %s: %d of the certificates in it cannot be parsed", path, ret);
        return -1;
    }
    return 0;
}

static int is_encrypted_key_error(int ret, const bulwark_secret_t *f)
{
    if (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED || ret == MBEDTLS_ERR_PK_PASSWORD_MISMATCH)
        return 1;
    /* legacy "Proc-Type: 4,ENCRYPTED" PEM and PKCS#8 "ENCRYPTED PRIVATE KEY"
     * fail earlier when the cipher they name is not built in */
    const char *text = (const char *)f->bytes;
    return text != NULL && (strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL ||
                            strstr(text, "Proc-Type: 4,ENCRYPTED") != NULL);
}

static int load_key(bulwark_tls_t *tls, const char *path, char *err, size_t errlen)
{
    bulwark_secret_t f = {NULL, 0};
    char why[128];
    int ret;

    if ((ret = bulwark_secret_read(path, KEY_FILE_MAX, &f)) != 0) {
        say(err, errlen, "cannot read key %s: %s", path, bulwark_secret_error(ret));
        return -1;
    }
    ret = mbedtls_pk_parse_key(&tls->key, f.bytes, parse_len(&f), NULL, 0, mbedtls_ctr_drbg_random, &tls->drbg);
    if (ret != 0) {
        if (is_encrypted_key_error(ret, &f)) {
            say(err, errlen, "key %s is encrypted; Bulwark needs an unencrypted key on the secrets volume", path);
        } else {
            mbedtls_reason(ret, why, sizeof(why));
            say(err, errlen, "key %s is not a PEM or DER private key (%s)", path, why);
        }
        bulwark_secret_free(&f);
        return -1;
    }
    bulwark_secret_free(&f);
    return 0;
}

static int check_pair(bulwark_tls_t *tls, const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    if (mbedtls_pk_check_pair(&tls->chain.pk, &tls->key, mbedtls_ctr_drbg_random, &tls->drbg) != 0) {
        say(err, errlen, "key %s does not match the certificate in %s", key_file, cert_file);
        return -1;
    }
    return 0;
}

static int seed_drbg(mbedtls_ctr_drbg_context *drbg, mbedtls_entropy_context *entropy, char *err, size_t errlen)
{
    int ret = mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, entropy,
                                    (const unsigned char *)DRBG_PERSONALIZATION, sizeof(DRBG_PERSONALIZATION) - 1);
    if (ret != 0) {
        char why[128];
        mbedtls_reason(ret, why, sizeof(why));
        say(err, errlen, "cannot seed the random generator: %s", why);
        return -1;
    }
    /* reseeded from the kernel before every draw (TLS 1.2 key exchange,
     * randoms, ticket keys): a cloned VM or process does not repeat them */
    mbedtls_ctr_drbg_set_prediction_resistance(drbg, MBEDTLS_CTR_DRBG_PR_ON);
    return 0;
}

static int setup_resumption(bulwark_tls_t *tls, char *err, size_t errlen)
{
    int ret = mbedtls_ssl_ticket_setup(&tls->tickets, mbedtls_ctr_drbg_random, &tls->drbg, MBEDTLS_CIPHER_AES_256_GCM,
                                       TICKET_LIFETIME_SECONDS);
    if (ret != 0) {
        char why[128];
        mbedtls_reason(ret, why, sizeof(why));
        say(err, errlen, "cannot set up TLS session tickets: %s", why);
        return -1;
    }
    mbedtls_ssl_conf_session_tickets_cb(&tls->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse, &tls->tickets);

    mbedtls_ssl_cache_set_max_entries(&tls->cache, SESSION_CACHE_MAX_ENTRIES);
    mbedtls_ssl_cache_set_timeout(&tls->cache, SESSION_CACHE_TIMEOUT_SECONDS);
    mbedtls_ssl_conf_session_cache(&tls->conf, &tls->cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
    return 0;
}

/* the policy's lists copied into the zero-terminated arrays conf points at */
/* suites and groups as mbedTLS wants them, for the server and the client;
 * 0, or -1 when a list is empty or too long */
static int copy_suites_and_groups(int *suites, uint16_t *groups, const bulwark_policy_tls_t *policy)
{
    if (policy->num_ciphersuites == 0 || policy->num_ciphersuites > CIPHERSUITES_MAX || policy->num_groups == 0 ||
        policy->num_groups > GROUPS_MAX)
        return -1;
    for (size_t i = 0; i != policy->num_ciphersuites; ++i)
        suites[i] = policy->ciphersuites[i];
    for (size_t i = 0; i != policy->num_groups; ++i)
        groups[i] = policy->groups[i];
    return 0;
}

static int copy_lists(bulwark_tls_t *tls, const bulwark_policy_tls_t *policy, char *err, size_t errlen)
{
    if (copy_suites_and_groups(tls->ciphersuites, tls->groups, policy) != 0 || policy->num_alpn == 0 ||
        policy->num_alpn > ALPN_MAX) {
        say(err, errlen, "the policy's tls lists are empty or too long");
        return -1;
    }
    for (size_t i = 0; i != policy->num_alpn; ++i)
        tls->alpn[i] = h2o_iovec_init(policy->alpn[i].base, policy->alpn[i].len);
    return 0;
}

static int setup_config(bulwark_tls_t *tls, const bulwark_policy_tls_t *policy, char *err, size_t errlen)
{
    mbedtls_ssl_config *conf = &tls->conf;
    int ret;
    char why[128];

    if (copy_lists(tls, policy, err, errlen) != 0)
        return -1;
    if ((ret = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                           MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
        goto Fail;
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &tls->drbg);
    /* the policy's version numbers are the wire's, as mbedTLS's enum */
    mbedtls_ssl_conf_min_tls_version(conf, (mbedtls_ssl_protocol_version)policy->min_version);
    mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
    mbedtls_ssl_conf_ciphersuites(conf, tls->ciphersuites);
    mbedtls_ssl_conf_groups(conf, tls->groups);
    if ((ret = mbedtls_ssl_conf_own_cert(conf, &tls->chain, &tls->key)) != 0)
        goto Fail;
    h2o_ssl_register_alpn_protocols(conf, tls->alpn);
    return setup_resumption(tls, err, errlen);

Fail:
    mbedtls_reason(ret, why, sizeof(why));
    say(err, errlen, "cannot configure TLS: %s", why);
    return -1;
}

static void init_members(bulwark_tls_t *tls)
{
    mbedtls_ssl_config_init(&tls->conf);
    mbedtls_x509_crt_init(&tls->chain);
    mbedtls_pk_init(&tls->key);
    mbedtls_entropy_init(&tls->entropy);
    mbedtls_ctr_drbg_init(&tls->drbg);
    mbedtls_ssl_ticket_init(&tls->tickets);
    mbedtls_ssl_cache_init(&tls->cache);
}

bulwark_tls_t *bulwark_tls_create(const char *cert_file, const char *key_file, const bulwark_policy_tls_t *policy, char *err,
                                  size_t errlen)
{
    bulwark_tls_t *tls = calloc(1, sizeof(*tls));

    if (tls == NULL) {
        say(err, errlen, "out of memory");
        return NULL;
    }
    init_members(tls);
    if (seed_drbg(&tls->drbg, &tls->entropy, err, errlen) != 0 || load_chain(&tls->chain, cert_file, err, errlen) != 0 ||
        load_key(tls, key_file, err, errlen) != 0 || check_pair(tls, cert_file, key_file, err, errlen) != 0 ||
        setup_config(tls, policy, err, errlen) != 0) {
        bulwark_tls_destroy(tls);
        return NULL;
    }
    return tls;
}

mbedtls_ssl_config *bulwark_tls_config(bulwark_tls_t *tls)
{
    return &tls->conf;
}

void bulwark_tls_destroy(bulwark_tls_t *tls)
{
    if (tls == NULL)
        return;
    mbedtls_ssl_config_free(&tls->conf);
    mbedtls_ssl_cache_free(&tls->cache);
    mbedtls_ssl_ticket_free(&tls->tickets);
    mbedtls_pk_free(&tls->key);
    mbedtls_x509_crt_free(&tls->chain);
    mbedtls_ctr_drbg_free(&tls->drbg);
    mbedtls_entropy_free(&tls->entropy);
    free(tls);
}

/* --- the client side: HTTPS upstreams of proxy routes ------------------- */

struct st_bulwark_tls_client_t {
    mbedtls_ssl_config conf;
    int ciphersuites[CIPHERSUITES_MAX + 1];
    uint16_t groups[GROUPS_MAX + 1];
    mbedtls_x509_crt ca;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

static int setup_client_config(bulwark_tls_client_t *c, const bulwark_policy_tls_t *policy, char *err, size_t errlen)
{
    mbedtls_ssl_config *conf = &c->conf;
    char why[128];
    int ret;

    if (copy_suites_and_groups(c->ciphersuites, c->groups, policy) != 0) {
        say(err, errlen, "the policy's tls lists are empty or too long");
        return -1;
    }
    if ((ret = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                           MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        mbedtls_reason(ret, why, sizeof(why));
        say(err, errlen, "cannot configure TLS to upstreams: %s", why);
        return -1;
    }
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &c->drbg);
    /* the bar the policy sets for clients holds for upstreams too */
    mbedtls_ssl_conf_min_tls_version(conf, (mbedtls_ssl_protocol_version)policy->min_version);
    mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
    mbedtls_ssl_conf_ciphersuites(conf, c->ciphersuites);
    mbedtls_ssl_conf_groups(conf, c->groups);
    /* the chain must lead to the route's CA, and the name must match the
     * upstream's host (h2o sets it with mbedtls_ssl_set_hostname) */
    mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(conf, &c->ca, NULL);
    return 0;
}

bulwark_tls_client_t *bulwark_tls_client_create(const char *ca_file, const bulwark_policy_tls_t *policy, char *err,
                                                size_t errlen)
{
    bulwark_tls_client_t *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        say(err, errlen, "out of memory");
        return NULL;
    }
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->drbg);
    if (seed_drbg(&c->drbg, &c->entropy, err, errlen) != 0 || load_chain(&c->ca, ca_file, err, errlen) != 0 ||
        setup_client_config(c, policy, err, errlen) != 0) {
        bulwark_tls_client_destroy(c);
        return NULL;
    }
    return c;
}

mbedtls_ssl_config *bulwark_tls_client_config(bulwark_tls_client_t *c)
{
    return &c->conf;
}

void bulwark_tls_client_destroy(bulwark_tls_client_t *c)
{
    if (c == NULL)
        return;
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
    free(c);
}
