/*
 * The HTTP targets' server; see http_harness.h.
 *
 * app/serve.c is compiled into this file (not linked from the archive): its
 * start-up functions are static, and using them as they are keeps the
 * harness's chain the service's chain without a second copy to drift.
 * The harness's own names start with fz_ to stay clear of serve.c's.
 *
 * PBKDF2: the policy's login route runs bulwark_password_check() (310 000
 * iterations, seconds per input under the sanitizers). The targets are
 * linked with --wrap for it and its dummy twin: here they compare with the
 * fuzz user's password at no cost, so that a login goes the whole way
 * (worker pool, token signing, the answer on the loop) at fuzzing speed.
 * The hash itself has its own tests (tests/unit/test_password.py).
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include "../../app/serve.c"
#include "crypto/password.h"
#include "fuzz_key.h"
#include "http_harness.h"

#ifndef BULWARK_FUZZ_DIR
#error "build with -DBULWARK_FUZZ_DIR=\"tests/fuzz\" (the Makefile does)"
#endif

/* the fuzz user of the generated users.json, and the password the wrapped
 * check accepts (tests/fuzz/make-corpus.py logs in with them) */
#define FUZZ_USER "fuzz"
#define FUZZ_PASSWORD "fuzz-password"
/* the longest a connection may stay open after the client's end of input:
 * every request the policy serves finishes in milliseconds */
#define CLOSE_DEADLINE_MS 5000
#define LOOP_WAIT_MS 10

static struct st_server_t fz_server;
static h2o_context_t fz_ctx;
static h2o_accept_ctx_t fz_accept_ctx;
static h2o_socket_t *fz_listener;
static struct sockaddr_in fz_listen_addr;

bulwark_password_status_t __wrap_bulwark_password_check(const bulwark_password_hash_t *stored, const char *password,
                                                        size_t len);
void __wrap_bulwark_password_dummy_verify(uint32_t iterations, const char *password, size_t len);

bulwark_password_status_t __wrap_bulwark_password_check(const bulwark_password_hash_t *stored, const char *password,
                                                        size_t len)
{
    (void)stored;
    return len == strlen(FUZZ_PASSWORD) && memcmp(password, FUZZ_PASSWORD, len) == 0 ? BULWARK_PASSWORD_OK
                                                                                     : BULWARK_PASSWORD_MISMATCH;
}

void __wrap_bulwark_password_dummy_verify(uint32_t iterations, const char *password, size_t len)
{
    (void)iterations, (void)password, (void)len;
}

static void fz_die(const char *what)
{
    fprintf(stderr, "http_harness: %s\n", what);
    abort();
}

static void fz_write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "w")) == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        fz_die("cannot write the secrets directory");
    chmod(path, 0400);
}

static void fz_remove_file(const char *dir, const char *name)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

/* the secrets the policy names, in a directory of their own for the time
 * the layers take to read them */
static void fz_make_secrets(char *dir)
{
    char pem[FUZZ_KEY_PEM_MAX];
    /* any well-formed hash: the wrapped check never looks at it */
    static const char users[] = "{\"users\": [{\"username\": \"" FUZZ_USER "\", \"scopes\": [\"profile:read\", "
                                "\"items:read\", \"items:write\", \"admin\"], \"password_hash\": "
                                "\"pbkdf2-sha256$310000$AAAAAAAAAAAAAAAAAAAAAA==$"
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]}\n";

    if (mkdtemp(dir) == NULL)
        fz_die("cannot make a temporary secrets directory");
    fuzz_key_pem(pem, sizeof(pem));
    fz_write_file(dir, "jwt-signing-key.pem", pem);
    fz_write_file(dir, "users.json", users);
}

static void fz_start_server(void)
{
    char secrets[] = "/tmp/bulwark-fuzz-XXXXXX";
    bulwark_serve_options_t opts = {.policy_file = BULWARK_FUZZ_DIR "/http-policy.yaml", .secrets_dir = secrets};

    fz_make_secrets(secrets);
    if (init_server(&fz_server, 1) != 0 || load_policy(&fz_server, &opts) != 0 || check_policy(&fz_server) != 0 ||
        start_layers(&fz_server) != 0)
        fz_die("the service did not start (its reason is above)");
    fz_remove_file(secrets, "jwt-signing-key.pem");
    fz_remove_file(secrets, "users.json");
    rmdir(secrets);
    fz_server.globalconf_ready = 1;
    if (setup_globalconf(&fz_server, 443) != 0)
        fz_die("the h2o configuration failed (its reason is above)");
}

static void fz_listen_loopback(void)
{
    socklen_t len = sizeof(fz_listen_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    memset(&fz_listen_addr, 0, sizeof(fz_listen_addr));
    fz_listen_addr.sin_family = AF_INET;
    fz_listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&fz_listen_addr, sizeof(fz_listen_addr)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&fz_listen_addr, &len) != 0)
        fz_die("cannot listen on 127.0.0.1");
    fz_listener = h2o_evloop_socket_create(fz_ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
}

void http_harness_init(void)
{
    if (getenv("BULWARK_FUZZ_LOG") == NULL) {
        /* one access-log line per request would be most of the run's work */
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
            fz_die("cannot silence stdout");
        close(null);
    }
    if (bulwark_crypto_init() != 0)
        fz_die("PSA crypto did not start");
    json_object_seed(0);
    fz_start_server();
    h2o_context_init(&fz_ctx, h2o_evloop_create(), &fz_server.globalconf);
    bulwark_workers_attach(fz_server.pool, &fz_ctx);
    fz_accept_ctx.ctx = &fz_ctx;
    fz_accept_ctx.hosts = fz_server.https_hosts;
    fz_listen_loopback();
}

static void fz_on_close(void *data)
{
    *(int *)data = 1;
}

static uint64_t fz_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* reads and drops what the server sent */
static void fz_drain(int fd)
{
    char buf[16384];

    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

/* writes all of buf, running the loop while the socket buffer is full */
static void fz_feed(int fd, const uint8_t *buf, size_t len, const int *closed)
{
    while (len != 0 && !*closed) {
        ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            buf += n, len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return; /* the server reset the connection */
        h2o_evloop_run(fz_ctx.loop, LOOP_WAIT_MS);
        fz_drain(fd);
    }
}

/* The client's end of input is a FIN, so each connection leaves a
 * TIME_WAIT socket for a minute: at a thousand inputs a second one source
 * address would run out of ports. Each input comes from the next address of
 * FZ_SOURCE_NET/16 (all in the policy's trusted 127.0.0.0/8). */
#define FZ_SOURCE_NET 0x7f650000u /* 127.101.0.0 */

/* Non-blocking: libFuzzer's -timeout alarm (SIGALRM, every second) would
 * interrupt a blocking connect. */
static int fz_connect_client(void)
{
    static uint16_t next_source;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0;
    struct sockaddr_in source = {.sin_family = AF_INET};
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    socklen_t len = sizeof(err);

    source.sin_addr.s_addr = htonl(FZ_SOURCE_NET | next_source++);
    if (fd < 0 || bind(fd, (struct sockaddr *)&source, sizeof(source)) != 0)
        fz_die("cannot make the client socket");
    if (connect(fd, (struct sockaddr *)&fz_listen_addr, sizeof(fz_listen_addr)) != 0) {
        if (errno != EINPROGRESS && errno != EINTR)
            err = errno;
        while (err == 0 && poll(&pfd, 1, -1) < 0)
            if (errno != EINTR)
                err = errno;
        if (err == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
    }
    if (err != 0) {
        fprintf(stderr, "http_harness: connect: %s\n", strerror(err));
        fz_die("cannot connect to the harness's listener");
    }
    return fd;
}

void http_harness_run(http_harness_accept_cb protocol_accept, const void *prefix, size_t prefix_len, const uint8_t *data,
                      size_t size)
{
    int fd = fz_connect_client(), closed = 0;
    h2o_socket_t *sock;
    struct timeval connected_at;
    uint64_t deadline;

    if ((sock = h2o_evloop_socket_accept(fz_listener)) == NULL)
        fz_die("the listener accepted nothing");
    sock->on_close.cb = fz_on_close;
    sock->on_close.data = &closed;
    gettimeofday(&connected_at, NULL);
    protocol_accept(&fz_accept_ctx, sock, connected_at);

    fz_feed(fd, prefix, prefix_len, &closed);
    fz_feed(fd, data, size, &closed);
    shutdown(fd, SHUT_WR);
    deadline = fz_now_ms() + CLOSE_DEADLINE_MS;
    while (!closed) {
        if (fz_now_ms() > deadline)
            fz_die("the server kept the connection open after the client's end of input");
        h2o_evloop_run(fz_ctx.loop, LOOP_WAIT_MS);
        fz_drain(fd);
    }
    close(fd);
}
