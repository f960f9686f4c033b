/*
 * mkdemo: generate Bulwark's demo identity at build time.
 *
 *     mkdemo [--force] OUTDIR
 *
 * Writes a throw-away CA certificate, a server certificate and key signed by
 * it, an ES256 JWT signing key and three users with random passwords (see
 * README.md for the layout and formats). Everything is written into a fresh
 * OUTDIR.tmp-XXXXXX beside OUTDIR and renamed into place only when complete.
 * The CA private key never leaves memory: once the server certificate is
 * signed it is freed, so the demo CA can never issue again.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <psa/crypto.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

/* OWASP Password Storage Cheat Sheet (2023): PBKDF2-HMAC-SHA256, 310,000. */
#define PBKDF2_ITERATIONS   310000
#define SALT_LEN            16
#define HASH_LEN            32
/* 18 bytes are 144 bits and exactly 24 base64url characters, no padding. */
#define PASSWORD_BYTES      18
#define PASSWORD_CHARS      24
/* RFC 5280 4.1.2.2 allows 20 octets; CA/B Forum asks for 64 random bits. */
#define SERIAL_LEN          16

#define HOUR                3600L
#define DAY                 (24 * HOUR)
/* Clock skew allowance for clients whose clock runs slightly behind. */
#define BACKDATE            HOUR
/* Ten years, leap days included. */
#define CA_LIFETIME         (3653L * DAY)
/* CA/B Forum Baseline Requirements 6.3.2: at most 398 days; browsers
 * reject longer server certificates. */
#define SERVER_LIFETIME     (397L * DAY)

/* A P-256 certificate or key in PEM is well under 2 KiB. */
#define PEM_MAX             4096
#define JSON_MAX            4096

static const char *const output_files[] = {
    "ca.pem",
    "jwt-signing-key.pem",
    "credentials.json",
    "secrets/tls-cert.pem",
    "secrets/tls-key.pem",
    "secrets/jwt-signing-key.pem",
    "secrets/users.json",
};
#define NOUTPUT_FILES (sizeof(output_files) / sizeof(output_files[0]))

static const struct demo_user {
    const char *name;
    const char *scopes;     /* body of a JSON array */
} demo_users[] = {
    { "alice", "\"profile:read\", \"items:read\", \"items:write\"" },
    { "bob",   "\"profile:read\", \"items:read\", \"items:write\"" },
    { "admin", "\"profile:read\", \"admin\"" },
};
#define NUSERS (sizeof(demo_users) / sizeof(demo_users[0]))

static const char *const server_dns_names[] = {
    "localhost", "bulwark.test", "*.bulwark.test",
};
static const unsigned char ipv4_loopback[4] = { 127, 0, 0, 1 };
static const unsigned char ipv6_loopback[16] = { [15] = 1 };

/* The half-written output directory, removed if we die. */
static char tmpdir[PATH_MAX];

static void remove_outputs(const char *dir);

static _Noreturn void die(const char *what, const char *why)
{
    char dir[PATH_MAX];

    fprintf(stderr, "mkdemo: %s: %s\n", what, why);
    if (tmpdir[0] != '\0') {
        /* Cleared first: remove_outputs() may die() again. */
        memcpy(dir, tmpdir, sizeof(dir));
        tmpdir[0] = '\0';
        remove_outputs(dir);
    }
    exit(1);
}

static _Noreturn void die_errno(const char *what)
{
    die(what, strerror(errno));
}

static _Noreturn void die_tls(const char *what, int ret)
{
    char why[128];

    mbedtls_strerror(ret, why, sizeof(why));
    die(what, why);
}

static void join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

    if (n < 0 || n >= PATH_MAX)
        die(dir, "path too long");
}

/* Removes what mkdemo writes and nothing else: a directory that holds
 * anything more stays, and renaming over it then fails. */
static void remove_outputs(const char *dir)
{
    char path[PATH_MAX];
    size_t i;

    for (i = 0; i < NOUTPUT_FILES; i++) {
        join(path, dir, output_files[i]);
        unlink(path);
    }
    join(path, dir, "secrets");
    rmdir(path);
    rmdir(dir);
}

static int is_output_name(const char *prefix, const char *name)
{
    size_t plen = strlen(prefix);
    size_t i;

    for (i = 0; i < NOUTPUT_FILES; i++) {
        const char *f = output_files[i];
        if (strncmp(f, prefix, plen) == 0 && strcmp(f + plen, name) == 0)
            return 1;
    }
    return *prefix == '\0' && strcmp(name, "secrets") == 0;
}

/* Counts the entries of dir; -1 if one of them is not a name mkdemo writes
 * (prefix is "" for OUTDIR itself, "secrets/" for its subdirectory). */
static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        die_errno(dir);
    /* cppcheck-suppress readdirCalled ; readdir_r is obsolete (POSIX.1-2024), and this tool is single-threaded */
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!is_output_name(prefix, e->d_name)) {
            n = -1;
            break;
        }
        n++;
    }
    closedir(d);
    return n;
}

/* Returns 1 if outdir holds an earlier mkdemo output to be replaced, 0 if
 * it is absent or empty (rename(2) replaces an empty directory). */
static int check_outdir(const char *outdir, int force)
{
    char secrets[PATH_MAX];
    struct stat st;
    int n;

    if (lstat(outdir, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        die_errno(outdir);
    }
    if (!S_ISDIR(st.st_mode))
        die(outdir, "exists and is not a directory");
    n = count_entries(outdir, "");
    if (n == 0)
        return 0;
    if (!force)
        die(outdir, "exists and is not empty (use --force to replace it)");
    join(secrets, outdir, "secrets");
    if (n < 0 || (lstat(secrets, &st) == 0 &&
                  (!S_ISDIR(st.st_mode) || count_entries(secrets, "secrets/") < 0)))
        die(outdir, "holds files mkdemo did not write; refusing to replace it");
    return 1;
}

static void write_all(int fd, const char *path, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die_errno(path);
        p += n;
        len -= (size_t)n;
    }
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[PATH_MAX];
    int fd;

    join(path, tmpdir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        die_errno(path);
    write_all(fd, path, data, len);
    if (fsync(fd) != 0 || close(fd) != 0)
        die_errno(path);
}

static void write_string(const char *name, const char *s)
{
    write_file(name, s, strlen(s));
}

static void appendf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf + len, size - len, fmt, ap); /* Flawfinder: ignore (format attribute checks callers) */
    va_end(ap);
    if (n < 0 || (size_t)n >= size - len)
        die("JSON output", "buffer too small");
}

static void random_bytes(mbedtls_ctr_drbg_context *drbg, unsigned char *out,
                         size_t len)
{
    int ret = mbedtls_ctr_drbg_random(drbg, out, len);

    if (ret != 0)
        die_tls("random generator", ret);
}

static void base64(char *out, size_t size, const unsigned char *in, size_t len)
{
    size_t olen;
    int ret = mbedtls_base64_encode((unsigned char *)out, size, &olen, in, len);

    if (ret != 0)
        die_tls("base64", ret);
}

/* RFC 4648 section 5: no characters that need quoting in JSON or a shell. */
static void new_password(mbedtls_ctr_drbg_context *drbg,
                         char out[PASSWORD_CHARS + 1])
{
    unsigned char raw[PASSWORD_BYTES];
    char *p;

    random_bytes(drbg, raw, sizeof(raw));
    base64(out, PASSWORD_CHARS + 1, raw, sizeof(raw));
    mbedtls_platform_zeroize(raw, sizeof(raw));
    for (p = out; *p != '\0'; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    }
}

/* "pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>" */
static void hash_password(mbedtls_ctr_drbg_context *drbg, const char *password,
                          char *out, size_t size)
{
    unsigned char salt[SALT_LEN], hash[HASH_LEN];
    char salt64[2 * SALT_LEN], hash64[2 * HASH_LEN];
    int ret, n;

    random_bytes(drbg, salt, sizeof(salt));
    ret = mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256,
                                        (const unsigned char *)password,
                                        strlen(password), salt, sizeof(salt),
                                        PBKDF2_ITERATIONS, sizeof(hash), hash);
    if (ret != 0)
        die_tls("PBKDF2", ret);
    base64(salt64, sizeof(salt64), salt, sizeof(salt));
    base64(hash64, sizeof(hash64), hash, sizeof(hash));
    n = snprintf(out, size, "pbkdf2-sha256$%d$%s$%s",
                 PBKDF2_ITERATIONS, salt64, hash64);
    if (n < 0 || (size_t)n >= size)
        die("password hash", "buffer too small");
}

static void write_users(mbedtls_ctr_drbg_context *drbg)
{
    char creds[JSON_MAX] = "", users[JSON_MAX] = "";
    char password[PASSWORD_CHARS + 1], hash[128];
    size_t i;

    appendf(creds, sizeof(creds), "{\n");
    appendf(users, sizeof(users), "{\"users\": [\n");
    for (i = 0; i < NUSERS; i++) {
        const struct demo_user *u = &demo_users[i];
        const char *sep = i + 1 < NUSERS ? "," : "";

        new_password(drbg, password);
        hash_password(drbg, password, hash, sizeof(hash));
        appendf(creds, sizeof(creds), "  \"%s\": \"%s\"%s\n",
                u->name, password, sep);
        appendf(users, sizeof(users),
                "  {\"username\": \"%s\", \"scopes\": [%s], "
                "\"password_hash\": \"%s\"}%s\n",
                u->name, u->scopes, hash, sep);
    }
    appendf(creds, sizeof(creds), "}\n");
    appendf(users, sizeof(users), "]}\n");
    write_string("credentials.json", creds);
    write_string("secrets/users.json", users);
    mbedtls_platform_zeroize(password, sizeof(password));
    mbedtls_platform_zeroize(creds, sizeof(creds));
}

static void new_key(mbedtls_pk_context *key, mbedtls_ctr_drbg_context *drbg)
{
    int ret;

    mbedtls_pk_init(key);
    ret = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0)
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key),
                                  mbedtls_ctr_drbg_random, drbg);
    if (ret != 0)
        die_tls("P-256 key generation", ret);
}

/* SEC 1 "EC PRIVATE KEY" PEM: the only private key form mbedTLS writes. */
static void write_key(const char *name, mbedtls_pk_context *key)
{
    unsigned char pem[PEM_MAX];
    int ret = mbedtls_pk_write_key_pem(key, pem, sizeof(pem));

    if (ret != 0)
        die_tls(name, ret);
    write_string(name, (const char *)pem);
    mbedtls_platform_zeroize(pem, sizeof(pem));
}

/* The server sends its certificate followed by the issuing CA's. */
static void write_chain(const char *name, const char *leaf, const char *ca)
{
    char chain[2 * PEM_MAX];
    int n = snprintf(chain, sizeof(chain), "%s%s", leaf, ca);

    if (n < 0 || (size_t)n >= sizeof(chain))
        die(name, "certificate chain too long");
    write_file(name, chain, (size_t)n);
}

static void format_time(char out[15], time_t t)
{
    struct tm tm;

    /* X.509 times end in year 9999 (RFC 5280 4.1.2.5). */
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, 15, "%Y%m%d%H%M%S", &tm) != 14)
        die("validity", "time out of range");
}

/* SOURCE_DATE_EPOCH (reproducible-builds.org) stands in for the clock. */
static time_t build_time(void)
{
    const char *s = getenv("SOURCE_DATE_EPOCH"); /* Flawfinder: ignore (a build-time tool; parsed strictly below) */
    char *end;
    long long t;

    if (s == NULL)
        return time(NULL);
    errno = 0;
    t = strtoll(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || t < BACKDATE)
        die("SOURCE_DATE_EPOCH", "not a plausible number of seconds");
    return (time_t)t;
}

struct cert_spec {
    const char *subject;
    mbedtls_pk_context *subject_key;
    const char *issuer;
    mbedtls_pk_context *issuer_key;
    time_t not_before, not_after;
};

static void cert_common(mbedtls_x509write_cert *crt,
                        const struct cert_spec *spec,
                        mbedtls_ctr_drbg_context *drbg)
{
    unsigned char serial[SERIAL_LEN];
    char from[15], until[15];
    int ret;

    /* Positive, and exactly SERIAL_LEN octets in minimal DER. */
    random_bytes(drbg, serial, sizeof(serial));
    serial[0] = (serial[0] & 0x7f) | 0x40;
    format_time(from, spec->not_before);
    format_time(until, spec->not_after);

    mbedtls_x509write_crt_set_version(crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(crt, spec->subject_key);
    mbedtls_x509write_crt_set_issuer_key(crt, spec->issuer_key);
    if ((ret = mbedtls_x509write_crt_set_serial_raw(crt, serial, sizeof(serial))) != 0 ||
        (ret = mbedtls_x509write_crt_set_validity(crt, from, until)) != 0 ||
        (ret = mbedtls_x509write_crt_set_subject_name(crt, spec->subject)) != 0 ||
        (ret = mbedtls_x509write_crt_set_issuer_name(crt, spec->issuer)) != 0 ||
        (ret = mbedtls_x509write_crt_set_subject_key_identifier(crt)) != 0 ||
        (ret = mbedtls_x509write_crt_set_authority_key_identifier(crt)) != 0)
        die_tls(spec->subject, ret);
}

static void sign_pem(mbedtls_x509write_cert *crt, const char *what,
                     unsigned char *pem, size_t size,
                     mbedtls_ctr_drbg_context *drbg)
{
    int ret = mbedtls_x509write_crt_pem(crt, pem, size,
                                        mbedtls_ctr_drbg_random, drbg);

    if (ret != 0)
        die_tls(what, ret);
}

static void ca_cert(const struct cert_spec *spec, unsigned char *pem,
                    size_t size, mbedtls_ctr_drbg_context *drbg)
{
    mbedtls_x509write_cert crt;
    int ret;

    mbedtls_x509write_crt_init(&crt);
    cert_common(&crt, spec, drbg);
    if ((ret = mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0)) != 0 ||
        (ret = mbedtls_x509write_crt_set_key_usage(&crt,
                    MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)) != 0)
        die_tls("CA certificate", ret);
    sign_pem(&crt, "CA certificate", pem, size, drbg);
    mbedtls_x509write_crt_free(&crt);
}

static void server_cert(const struct cert_spec *spec, unsigned char *pem,
                        size_t size, mbedtls_ctr_drbg_context *drbg)
{
    enum { NDNS = sizeof(server_dns_names) / sizeof(server_dns_names[0]) };
    mbedtls_x509_san_list san[NDNS + 2];
    mbedtls_asn1_sequence eku;
    mbedtls_x509write_cert crt;
    size_t i;
    int ret;

    memset(san, 0, sizeof(san));
    for (i = 0; i < NDNS; i++) {
        san[i].node.type = MBEDTLS_X509_SAN_DNS_NAME;
        san[i].node.san.unstructured_name.p = (unsigned char *)server_dns_names[i];
        san[i].node.san.unstructured_name.len = strlen(server_dns_names[i]);
    }
    san[NDNS].node.type = MBEDTLS_X509_SAN_IP_ADDRESS;
    san[NDNS].node.san.unstructured_name.p = (unsigned char *)ipv4_loopback;
    san[NDNS].node.san.unstructured_name.len = sizeof(ipv4_loopback);
    san[NDNS + 1].node.type = MBEDTLS_X509_SAN_IP_ADDRESS;
    san[NDNS + 1].node.san.unstructured_name.p = (unsigned char *)ipv6_loopback;
    san[NDNS + 1].node.san.unstructured_name.len = sizeof(ipv6_loopback);
    /* mbedTLS writes the list back to front: link it backwards so that the
     * certificate lists the names in the order above. */
    for (i = 1; i < NDNS + 2; i++)
        san[i].next = &san[i - 1];

    memset(&eku, 0, sizeof(eku));
    eku.buf.tag = MBEDTLS_ASN1_OID;
    eku.buf.p = (unsigned char *)MBEDTLS_OID_SERVER_AUTH;
    eku.buf.len = MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH);

    mbedtls_x509write_crt_init(&crt);
    cert_common(&crt, spec, drbg);
    if ((ret = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1)) != 0 ||
        (ret = mbedtls_x509write_crt_set_key_usage(&crt,
                    MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0 ||
        (ret = mbedtls_x509write_crt_set_ext_key_usage(&crt, &eku)) != 0 ||
        (ret = mbedtls_x509write_crt_set_subject_alternative_name(&crt,
                    &san[NDNS + 1])) != 0)
        die_tls("server certificate", ret);
    sign_pem(&crt, "server certificate", pem, size, drbg);
    mbedtls_x509write_crt_free(&crt);
}

static void write_identity(mbedtls_ctr_drbg_context *drbg, time_t now)
{
    mbedtls_pk_context ca_key, server_key, jwt_key;
    unsigned char ca_pem[PEM_MAX], server_pem[PEM_MAX];
    struct cert_spec ca = {
        .subject = "CN=Bulwark demo CA", .subject_key = &ca_key,
        .issuer = "CN=Bulwark demo CA", .issuer_key = &ca_key,
        .not_before = now - BACKDATE, .not_after = now + CA_LIFETIME,
    };
    struct cert_spec server = {
        .subject = "CN=localhost", .subject_key = &server_key,
        .issuer = "CN=Bulwark demo CA", .issuer_key = &ca_key,
        .not_before = now - BACKDATE, .not_after = now + SERVER_LIFETIME,
    };

    new_key(&ca_key, drbg);
    new_key(&server_key, drbg);
    new_key(&jwt_key, drbg);

    ca_cert(&ca, ca_pem, sizeof(ca_pem), drbg);
    server_cert(&server, server_pem, sizeof(server_pem), drbg);
    mbedtls_pk_free(&ca_key);

    write_string("ca.pem", (const char *)ca_pem);
    write_chain("secrets/tls-cert.pem", (const char *)server_pem,
                (const char *)ca_pem);
    write_key("secrets/tls-key.pem", &server_key);
    write_key("secrets/jwt-signing-key.pem", &jwt_key);
    write_key("jwt-signing-key.pem", &jwt_key);
    mbedtls_pk_free(&server_key);
    mbedtls_pk_free(&jwt_key);
}

static void seed(mbedtls_entropy_context *entropy, mbedtls_ctr_drbg_context *drbg)
{
    static const char personal[] = "bulwark-mkdemo";
    psa_status_t status = psa_crypto_init();
    int ret;

    if (status != PSA_SUCCESS)
        die("PSA crypto", "initialisation failed");
    mbedtls_entropy_init(entropy);
    mbedtls_ctr_drbg_init(drbg);
    ret = mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, entropy,
                                (const unsigned char *)personal,
                                sizeof(personal) - 1);
    if (ret != 0)
        die_tls("random generator", ret);
}

static void make_tmpdir(const char *outdir)
{
    char secrets[PATH_MAX];
    int n = snprintf(tmpdir, sizeof(tmpdir), "%s.tmp-XXXXXX", outdir);

    if (n < 0 || (size_t)n >= sizeof(tmpdir))
        die(outdir, "path too long");
    if (mkdtemp(tmpdir) == NULL) {
        tmpdir[0] = '\0';
        die_errno(outdir);
    }
    join(secrets, tmpdir, "secrets");
    if (mkdir(secrets, 0700) != 0)
        die_errno(secrets);
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fsync(fd) != 0)
        die_errno(dir);
    close(fd);
}

static void parent_of(char *out, const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        memcpy(out, ".", 2);
    else if (slash == path)
        memcpy(out, "/", 2);
    else
        snprintf(out, PATH_MAX, "%.*s", (int)(slash - path), path);
}

static void install(const char *outdir, int replace)
{
    char path[PATH_MAX];

    join(path, tmpdir, "secrets");
    sync_dir(path);
    sync_dir(tmpdir);
    if (replace)
        remove_outputs(outdir);
    if (rename(tmpdir, outdir) != 0)
        die_errno(outdir);
    tmpdir[0] = '\0';
    parent_of(path, outdir);
    sync_dir(path);
}

static void usage(void)
{
    fputs("usage: mkdemo [--force] OUTDIR\n", stderr);
    exit(1);
}

int main(int argc, char **argv)
{
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    char outdir[PATH_MAX];
    int force = 0, replace;
    time_t now;
    size_t len;

    if (argc == 3 && strcmp(argv[1], "--force") == 0)
        force = 1;
    else if (argc != 2 || argv[1][0] == '-')
        usage();
    len = strlen(argv[argc - 1]);
    if (len == 0 || len >= sizeof(outdir))
        usage();
    memcpy(outdir, argv[argc - 1], len + 1);
    while (len > 1 && outdir[len - 1] == '/')
        outdir[--len] = '\0';

    umask(077);
    now = build_time();
    replace = check_outdir(outdir, force);
    seed(&entropy, &drbg);
    make_tmpdir(outdir);
    write_identity(&drbg, now);
    write_users(&drbg);
    install(outdir, replace);

    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    mbedtls_psa_crypto_free();
    return 0;
}
