/*
 * jwt_tool: drives app/crypto/ on its own, for tests/unit/test_jwt.py and
 * test_password.py.
 *
 *   jwt_tool verify --key PEM [--kid K] [--key PEM2 [--kid K2]] --iss I --aud A
 *                   --leeway S [--now T] [--typ T] [--typ-required]
 *                   [--max-bytes N] TOKEN
 *       OK sub=<sub> scopes=<a,b>            exit 0
 *       REJECT <reason>                      exit 1
 *   jwt_tool sign --key PEM [--kid K] --sub S --scope "a b" --iss I --aud A
 *                 --ttl 900 [--now T]        prints a token
 *   jwt_tool jwks --key PEM [--kid K] ...    prints the JWKS document
 *   jwt_tool kid --key PEM                   prints the RFC 7638 thumbprint
 *   jwt_tool password-verify [--] HASH PASSWORD   OK / REJECT <reason>
 *   jwt_tool password-hash PASSWORD [--iterations N]
 *   jwt_tool password-dummy PASSWORD [--iterations N]
 *
 * --kid names the key given just before it; "--" ends the options. Usage and key-loading errors
 * exit 2 with one line on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "crypto/crypto.h"
#include "crypto/jwt.h"
#include "crypto/jwt_keys.h"
#include "crypto/password.h"

#define EXIT_REJECT 1
#define EXIT_USAGE 2

typedef struct st_key_arg_t {
    const char *path;
    const char *kid;
} key_arg_t;

typedef struct st_options_t {
    key_arg_t keys[BULWARK_JWT_KEYS_MAX];
    size_t num_keys;
    const char *iss, *aud, *sub, *scope, *typ;
    int typ_required;
    long long leeway, now, ttl, max_bytes, iterations;
    int have_now;
    const char *positional[8];
    size_t num_positional;
} options_t;

static void usage(void)
{
    fputs("usage: jwt_tool verify --key PEM [--kid K] ... --iss I --aud A --leeway S [--now T] [--typ T] TOKEN...\n"
          "                       [--typ-required] [--max-bytes N] TOKEN\n"
          "       jwt_tool sign --key PEM [--kid K] --sub S --scope SCOPES --iss I --aud A --ttl SECONDS [--now T]\n"
          "       jwt_tool jwks --key PEM [--kid K] ...\n"
          "       jwt_tool kid --key PEM\n"
          "       jwt_tool password-verify HASH PASSWORD\n"
          "       jwt_tool password-hash PASSWORD [--iterations N]\n"
          "       jwt_tool password-dummy PASSWORD [--iterations N]\n",
          stderr);
    exit(EXIT_USAGE);
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "jwt_tool: error: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(EXIT_USAGE);
}

static long long number_arg(const char *name, const char *s)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        die("not a number", name);
    return v;
}

static const char *value_of(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        die("missing value after", argv[*i]);
    return argv[++*i];
}

static void add_key(options_t *o, const char *path)
{
    if (o->num_keys == BULWARK_JWT_KEYS_MAX)
        die("too many --key", NULL);
    o->keys[o->num_keys].path = path;
    o->keys[o->num_keys++].kid = NULL;
}

static int parse_option(options_t *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];

    if (strcmp(a, "--key") == 0)
        add_key(o, value_of(argc, argv, i));
    else if (strcmp(a, "--kid") == 0) {
        if (o->num_keys == 0)
            die("--kid must follow a --key", NULL);
        o->keys[o->num_keys - 1].kid = value_of(argc, argv, i);
    } else if (strcmp(a, "--iss") == 0)
        o->iss = value_of(argc, argv, i);
    else if (strcmp(a, "--aud") == 0)
        o->aud = value_of(argc, argv, i);
    else if (strcmp(a, "--sub") == 0)
        o->sub = value_of(argc, argv, i);
    else if (strcmp(a, "--scope") == 0)
        o->scope = value_of(argc, argv, i);
    else if (strcmp(a, "--typ") == 0)
        o->typ = value_of(argc, argv, i);
    else if (strcmp(a, "--typ-required") == 0)
        o->typ_required = 1;
    else if (strcmp(a, "--leeway") == 0)
        o->leeway = number_arg(a, value_of(argc, argv, i));
    else if (strcmp(a, "--now") == 0) {
        o->now = number_arg(a, value_of(argc, argv, i));
        o->have_now = 1;
    } else if (strcmp(a, "--ttl") == 0)
        o->ttl = number_arg(a, value_of(argc, argv, i));
    else if (strcmp(a, "--max-bytes") == 0)
        o->max_bytes = number_arg(a, value_of(argc, argv, i));
    else if (strcmp(a, "--iterations") == 0)
        o->iterations = number_arg(a, value_of(argc, argv, i));
    else
        return -1;
    return 0;
}

/* "--" ends the options: passwords may begin with dashes */
static void parse_args(options_t *o, int argc, char **argv)
{
    int only_positional = 0;

    memset(o, 0, sizeof(*o));
    o->leeway = -1;
    o->ttl = -1;
    for (int i = 2; i < argc; ++i) {
        if (!only_positional && strcmp(argv[i], "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (!only_positional && strncmp(argv[i], "--", 2) == 0) {
            if (parse_option(o, argc, argv, &i) != 0)
                die("unknown option", argv[i]);
            continue;
        }
        if (o->num_positional == 8)
            usage();
        o->positional[o->num_positional++] = argv[i];
    }
    if (!o->have_now)
        o->now = (long long)time(NULL);
}

static void need(const void *v, const char *what)
{
    if (v == NULL)
        die("missing", what);
}

/* ---- JWT commands ------------------------------------------------------------ */

static void load_keyset(const options_t *o, bulwark_jwt_keyset_t *ks)
{
    char err[BULWARK_KEY_ERR_MAX];

    if (o->num_keys == 0)
        die("missing", "--key");
    bulwark_jwt_keyset_init(ks);
    for (size_t i = 0; i < o->num_keys; ++i)
        if (bulwark_jwt_keyset_add_file(ks, o->keys[i].path, o->keys[i].kid, err, sizeof(err)) != 0)
            die(err, NULL);
}

static void print_scopes(const bulwark_jwt_claims_t *c)
{
    for (size_t i = 0; i < c->num_scopes; ++i)
        printf("%s%.*s", i ? "," : "", (int)c->scope_len[i], c->scope + c->scope_off[i]);
}

static int cmd_verify(const options_t *o)
{
    bulwark_jwt_keyset_t ks;
    bulwark_jwt_claims_t claims;
    bulwark_jwt_expect_t e = {0};
    bulwark_jwt_reason_t r = BULWARK_JWT_OK;

    need(o->iss, "--iss");
    need(o->aud, "--aud");
    if (o->leeway < 0 || o->num_positional < 1)
        usage();
    load_keyset(o, &ks);
    e.iss = o->iss;
    e.aud = o->aud;
    e.now = o->now;
    e.leeway_s = (uint32_t)o->leeway;
    e.max_token_bytes = (size_t)o->max_bytes;
    e.typ = o->typ;
    e.typ_required = o->typ_required;
    /* several tokens: one line each, then the cache's hits (jwt_verify.c) */
    for (size_t i = 0; i != o->num_positional; ++i) {
        r = bulwark_jwt_verify(o->positional[i], strlen(o->positional[i]), &ks, &e, &claims);
        if (r != BULWARK_JWT_OK) {
            printf("REJECT %s\n", bulwark_jwt_reason_name(r));
        } else {
            printf("OK sub=%s scopes=", claims.sub);
            print_scopes(&claims);
            printf("\n");
        }
        bulwark_jwt_claims_free(&claims);
    }
    if (o->num_positional > 1)
        printf("sig_cache_hits=%lu\n", bulwark_jwt_sig_cache_hits());
    bulwark_jwt_keyset_free(&ks);
    return r == BULWARK_JWT_OK ? 0 : EXIT_REJECT;
}

static int cmd_sign(const options_t *o)
{
    static const char *const status[] = {"ok", "bad claims", "no room", "internal error"};
    char err[BULWARK_KEY_ERR_MAX], token[BULWARK_JWT_TOKEN_MAX + 1];
    bulwark_jwt_signer_t signer;
    bulwark_jwt_mint_t m = {0};
    bulwark_jwt_sign_status_t st;
    size_t len;

    need(o->iss, "--iss");
    need(o->aud, "--aud");
    need(o->sub, "--sub");
    if (o->num_keys != 1 || o->ttl < 0 || o->num_positional != 0)
        usage();
    if (bulwark_jwt_signer_load_file(&signer, o->keys[0].path, o->keys[0].kid, err, sizeof(err)) != 0)
        die(err, NULL);
    m = (bulwark_jwt_mint_t){o->iss, o->aud, o->sub, o->scope, o->now, (uint32_t)o->ttl};
    st = bulwark_jwt_sign(&signer, &m, token, sizeof(token), &len);
    bulwark_jwt_signer_free(&signer);
    if (st != BULWARK_JWT_SIGN_OK)
        die("sign", status[st]);
    printf("%s\n", token);
    return 0;
}

static int cmd_jwks(const options_t *o)
{
    bulwark_jwt_keyset_t ks;
    char *doc;

    load_keyset(o, &ks);
    if ((doc = bulwark_jwt_keyset_jwks(&ks)) == NULL)
        die("jwks", "out of memory");
    printf("%s\n", doc);
    free(doc);
    bulwark_jwt_keyset_free(&ks);
    return 0;
}

static int cmd_kid(const options_t *o)
{
    bulwark_jwt_keyset_t ks;

    if (o->num_keys != 1)
        usage();
    load_keyset(o, &ks);
    printf("%s\n", ks.keys[0].kid);
    bulwark_jwt_keyset_free(&ks);
    return 0;
}

/* ---- password commands --------------------------------------------------------- */

static uint32_t iterations_of(const options_t *o)
{
    if (o->iterations == 0)
        return BULWARK_PASSWORD_MIN_ITERATIONS;
    if (o->iterations < 0 || o->iterations > UINT32_MAX)
        die("--iterations out of range", NULL);
    return (uint32_t)o->iterations;
}

static int cmd_password_verify(const options_t *o)
{
    bulwark_password_status_t st;

    if (o->num_positional != 2)
        usage();
    st = bulwark_password_verify(o->positional[0], o->positional[1], strlen(o->positional[1]));
    if (st != BULWARK_PASSWORD_OK) {
        printf("REJECT %s\n", bulwark_password_status_name(st));
        return EXIT_REJECT;
    }
    printf("OK\n");
    return 0;
}

static int cmd_password_hash(const options_t *o)
{
    char out[BULWARK_PASSWORD_ENCODED_MAX + 1];
    bulwark_password_status_t st;

    if (o->num_positional != 1)
        usage();
    st = bulwark_password_hash(iterations_of(o), o->positional[0], strlen(o->positional[0]), out, sizeof(out));
    if (st != BULWARK_PASSWORD_OK) {
        printf("REJECT %s\n", bulwark_password_status_name(st));
        return EXIT_REJECT;
    }
    printf("%s\n", out);
    return 0;
}

static int cmd_password_dummy(const options_t *o)
{
    if (o->num_positional != 1)
        usage();
    bulwark_password_dummy_verify(iterations_of(o), o->positional[0], strlen(o->positional[0]));
    printf("OK\n");
    return 0;
}

static const struct {
    const char *name;
    int (*run)(const options_t *o);
} commands[] = {
    {"verify", cmd_verify},
    {"sign", cmd_sign},
    {"jwks", cmd_jwks},
    {"kid", cmd_kid},
    {"password-verify", cmd_password_verify},
    {"password-hash", cmd_password_hash},
    {"password-dummy", cmd_password_dummy},
};

int main(int argc, char **argv)
{
    options_t o;

    if (argc < 2)
        usage();
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); ++i) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        parse_args(&o, argc, argv);
        if (bulwark_crypto_init() != 0)
            die("psa_crypto_init failed", NULL);
        return commands[i].run(&o);
    }
    usage();
    return EXIT_USAGE;
}
