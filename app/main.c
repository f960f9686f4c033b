/*
 * The `bulwark` command.
 *
 *   bulwark serve --https ADDR:PORT [--https ...] [--http ADDR:PORT ...]
 *                 [--policy FILE] [--secrets DIR] [--cert FILE] [--key FILE]
 *                 [--threads N]
 *   bulwark policy check FILE | keys | rules
 *   bulwark version
 *
 * As PID 1 (the image's /init) it is the appliance's init: app/init/.
 *
 * Usage errors: one line "bulwark: <message>", a "usage: ..." hint, exit 2.
 * Start-up errors (serve.c): one line "bulwark: error: ...", exit 1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "init/init.h"
#include "policy_cmd.h"
#include "serve.h"
#include "version.h"

#define EXIT_USAGE 2


#define SERVE_SYNOPSIS                                                                                                             \
    "bulwark serve --https ADDR:PORT [--https ADDR:PORT ...] [--http ADDR:PORT ...] [--policy FILE] [--secrets DIR] "              \
    "[--cert FILE] [--key FILE] [--threads N] [--seccomp]"

static const char usage_text[] = "usage: " SERVE_SYNOPSIS "\n"
                                 "       " BULWARK_POLICY_SYNOPSIS "\n"
                                 "       bulwark version\n"
                                 "\n"
                                 "  --https ADDR:PORT  serve HTTPS (HTTP/1.1 and HTTP/2) on this address; repeatable\n"
                                 "  --http ADDR:PORT   answer plain HTTP here with a redirect to HTTPS; repeatable\n"
                                 "  --policy FILE      the policy to serve (default: the one baked in at build time);\n"
                                 "                     refused when `bulwark policy check` fails it\n"
                                 "  --secrets DIR      the secrets directory (default: the policy's secrets.mount)\n"
                                 "  --cert FILE        certificate chain, PEM (leaf first) or DER (default: the\n"
                                 "                     policy's tls.certificate on the secrets directory)\n"
                                 "  --key FILE         the certificate's private key, PEM or DER, unencrypted\n"
                                 "                     (default: the policy's tls.key)\n"
                                 "  --threads N        event-loop threads (default: one per online CPU)\n"
                                 "  --seccomp          once started, confine the process to the image's seccomp\n"
                                 "                     allow-list (a violation is logged and kills it)\n"
                                 "\n"
                                 "ADDR:PORT is 127.0.0.1:8443, 0.0.0.0:443, [::1]:8443 or [::]:443.\n";

static int usage_error(const char *hint, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *hint, const char *fmt, ...)
{
    va_list ap;

    fputs("bulwark: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap); /* Flawfinder: ignore (format attribute checks callers) */
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", hint);
    return EXIT_USAGE;
}

#define serve_usage_error(...) usage_error(SERVE_SYNOPSIS, __VA_ARGS__)

static int parse_threads(const char *text, size_t *out)
{
    char *end;
    long n;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    n = strtol(text, &end, 10);
    if (*end != '\0' || n < 1 || n > BULWARK_SERVE_THREADS_MAX)
        return -1;
    *out = (size_t)n;
    return 0;
}

/* the value of --name VALUE or --name=VALUE; NULL if not this option */
static const char *option_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t len = strlen(name);
    const char *arg = argv[*i];

    /* NOLINTNEXTLINE(clang-analyzer-unix.cstring.NullArg): argv[i] is not NULL for i < argc (C11 5.1.2.2.1) */
    if (strncmp(arg, name, len) != 0)
        return NULL;
    if (arg[len] == '=')
        return arg + len + 1;
    if (arg[len] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

struct serve_args {
    bulwark_serve_options_t opts;
    const char *threads;
};

/* one option at argv[*i]; 0, or an exit status after a usage error */
static int parse_serve_option(int argc, char **argv, int *i, struct serve_args *a)
{
    const char *arg = argv[*i], *v;
    int missing = 0;

    if ((v = option_value(argc, argv, i, "--https", &missing)) != NULL) {
        a->opts.https[a->opts.num_https++] = v;
    } else if ((v = option_value(argc, argv, i, "--http", &missing)) != NULL) {
        a->opts.http[a->opts.num_http++] = v;
    } else if ((v = option_value(argc, argv, i, "--policy", &missing)) != NULL) {
        a->opts.policy_file = v;
    } else if ((v = option_value(argc, argv, i, "--secrets", &missing)) != NULL) {
        a->opts.secrets_dir = v;
    } else if ((v = option_value(argc, argv, i, "--cert", &missing)) != NULL) {
        a->opts.cert_file = v;
    } else if ((v = option_value(argc, argv, i, "--key", &missing)) != NULL) {
        a->opts.key_file = v;
    } else if ((v = option_value(argc, argv, i, "--threads", &missing)) != NULL) {
        a->threads = v;
    } else if (strcmp(arg, "--seccomp") == 0) {
        a->opts.confine = bulwark_seccomp_confine;
    } else if (missing) {
        return serve_usage_error("option %s needs a value", arg);
    } else {
        return serve_usage_error("unknown option '%s'", arg);
    }
    return 0;
}

static int check_serve_args(struct serve_args *a)
{
    if (a->opts.num_https == 0)
        return serve_usage_error("serve needs at least one --https ADDR:PORT");
    if (a->threads == NULL) {
        a->opts.threads = bulwark_serve_default_threads();
    } else if (parse_threads(a->threads, &a->opts.threads) != 0) {
        return serve_usage_error("--threads must be a whole number from 1 to %d, not '%s'", BULWARK_SERVE_THREADS_MAX, a->threads);
    }
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    /* every address option needs a value, so argc bounds their count */
    struct serve_args a = {.opts = {.https = calloc((size_t)argc, sizeof(char *)), .http = calloc((size_t)argc, sizeof(char *))}};
    int status;

    if (a.opts.https == NULL || a.opts.http == NULL) {
        fprintf(stderr, "bulwark: error: out of memory\n");
        free(a.opts.https);
        free(a.opts.http);
        return 1;
    }
    for (int i = 0; i < argc; ++i) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stderr);
            status = EXIT_USAGE;
            goto Exit;
        }
        if ((status = parse_serve_option(argc, argv, &i, &a)) != 0)
            goto Exit;
    }
    if ((status = check_serve_args(&a)) != 0)
        goto Exit;
    status = bulwark_serve(&a.opts);

Exit:
    free(a.opts.https);
    free(a.opts.http);
    return status;
}

static int cmd_version(int argc)
{
    if (argc != 0)
        return usage_error("bulwark version", "version takes no arguments");
    printf("bulwark %s\n", BULWARK_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    if (getpid() == 1)
        bulwark_init_main();
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 2, argv + 2);
    if (strcmp(argv[1], "policy") == 0)
        return bulwark_policy_command(argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0)
        return cmd_version(argc - 2);
    return usage_error("bulwark serve ... | bulwark policy ... | bulwark version (bulwark --help for more)", "unknown command '%s'", argv[1]);
}
