/*
 * PID 1 of the appliance; see init.h and image/README.md ("Contract for
 * PID 1").
 *
 *   boot:       mount /dev, /proc, /sys; Ctrl-Alt-Del becomes SIGINT; wait
 *               for the kernel's entropy; load the baked-in policy; find,
 *               check, load and unmount the secrets volume; bind the
 *               policy's listeners; one "boot" line.
 *   supervise:  fork the serving process (privsep.c, then bulwark_serve
 *               with the seccomp allow-list); restart it with exponential
 *               backoff when it dies after it was serving, and say why; a
 *               serving process that never got ready is a configuration
 *               error: power off instead of looping.
 *   stop:       SIGTERM (ACPI power button, hypervisor stop) or SIGINT
 *               (Ctrl-Alt-Del): the serving process drains its connections
 *               (10 s), then the console is flushed and the machine powers
 *               off.
 * Any fatal error: one line saying what and why, then power off (never a
 * panic: PID 1 must not exit).
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <mbedtls/sha256.h>
#include "init.h"
#include "internal.h"
#include "listener.h"
#include "log.h"
#include "netaddr.h"
#include "policy/policy.h"
#include "policy_builtin.h"
#include "serve.h"
#include "version.h"

/* how long slow disks (NVMe namespaces probe asynchronously) may take */
#define VOLUME_WAIT_MS 10000
/* the serving process drains for up to 10 s (serve.c); then it is killed */
#define STOP_GRACE_SECONDS 13
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
/* a serving process that lasted this long resets the backoff */
#define BACKOFF_RESET_SECONDS 60
#define INIT_FILE_MAX (64 * 1024 * 1024)
#define ADDRESSES_MAX 16

struct worker {
    pid_t pid;
    int ready_fd;  /* read end: one byte once serving */
    int report_fd; /* read end: a seccomp violation's syscall number */
    struct timespec started;
};

static struct {
    bulwark_policy_t *policy;
    bulwark_listener_t *listeners;
    size_t num_listeners;
    size_t threads;
    struct init_volume volume;
} boot;

/* --- the end ------------------------------------------------------------ */

static void power_off(void) __attribute__((noreturn));
static void power_off(void)
{
    bulwark_log_event("poweroff");
    /* the last lines say why; the UART must send them before the machine goes */
    tcdrain(STDOUT_FILENO);
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

static void boot_failed(const char *file, const char *why) __attribute__((noreturn));
static void boot_failed(const char *file, const char *why)
{
    char line[BULWARK_LOG_LINE_MAX];
    bulwark_json_t j;

    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "boot_failed");
    if (file != NULL && file[0] != '\0')
        bulwark_json_cstr(&j, "file", file);
    bulwark_json_cstr(&j, "reason", why);
    bulwark_log_emit(&j);
    power_off();
}

/* --- boot --------------------------------------------------------------- */

static void mount_one(const char *source, const char *target, const char *type, unsigned long flags)
{
    char why[INIT_ERR_MAX];

    if (mkdir(target, 0555) != 0 && errno != EEXIST) {
        snprintf(why, sizeof(why), "cannot create %s: %s", target, strerror(errno));
        boot_failed(NULL, why);
    }
    if (mount(source, target, type, flags, NULL) != 0 && errno != EBUSY) {
        snprintf(why, sizeof(why), "cannot mount %s on %s: %s", type, target, strerror(errno));
        boot_failed(NULL, why);
    }
}

static void console(void)
{
    int fd;

    /* the kernel opened /dev/console as 0, 1 and 2 when the initramfs has it;
     * if it did not, there is nowhere to say anything until devtmpfs is up */
    if (fcntl(STDOUT_FILENO, F_GETFD) != -1)
        return;
    if ((fd = open("/dev/console", O_RDWR | O_NOCTTY)) == -1)
        return;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
}

static void mount_basics(void)
{
    mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC);
    console();
    mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    mount_one("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    /* the serving process's root (privsep.c) */
    if (mkdir("/empty", 0555) != 0 && errno != EEXIST)
        boot_failed(NULL, "cannot create /empty");
}

static void wait_for_entropy(void)
{
    unsigned char b;
    struct timespec t0, t1;
    char line[256];
    bulwark_json_t j;

    if (getrandom(&b, 1, GRND_NONBLOCK) == 1)
        return;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bulwark_log_event("entropy_wait");
    while (getrandom(&b, 1, 0) != 1 && errno == EINTR)
        ;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "entropy_ready");
    bulwark_json_millis(&j, "waited_ms",
                        (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
    bulwark_log_emit(&j);
}

static void load_policy(void)
{
    char err[INIT_ERR_MAX], why[INIT_ERR_MAX + 64];
    size_t len;
    const char *text = bulwark_policy_builtin(&len);

    if (bulwark_policy_load_buffer(BULWARK_POLICY_BUILTIN_NAME, text, len, NULL, &boot.policy, err, sizeof(err)) !=
        0) {
        snprintf(why, sizeof(why), "the baked-in policy does not load: %s", err);
        boot_failed(NULL, why);
    }
}

static void load_secrets(void)
{
    char file[512], why[INIT_ERR_MAX];

    if (init_load_secrets(boot.policy->secrets_mount.base, VOLUME_WAIT_MS, &boot.volume, file, sizeof(file), why,
                          sizeof(why)) != 0)
        boot_failed(file, why);
}

static void bind_listeners(void)
{
    const bulwark_policy_listeners_t *pl = &boot.policy->listeners;
    char err[INIT_ERR_MAX];

    boot.threads = bulwark_serve_default_threads();
    boot.num_listeners = pl->num_https + pl->num_http;
    if ((boot.listeners = calloc(boot.num_listeners, sizeof(*boot.listeners))) == NULL)
        boot_failed(NULL, "out of memory");
    for (size_t i = 0; i != boot.num_listeners; ++i) {
        int is_tls = i < pl->num_https;
        const bulwark_str_t *text = is_tls ? pl->https + i : pl->http + (i - pl->num_https);
        if (bulwark_listener_parse(boot.listeners + i, text->base, is_tls, err, sizeof(err)) != 0 ||
            bulwark_listener_bind(boot.listeners + i, boot.threads, err, sizeof(err)) != 0)
            boot_failed(NULL, err);
    }
}

/* sha256 of /init as hex: the one program of the image */
static void init_hash(char *hex)
{
    unsigned char digest[32];
    int fd = open("/init", O_RDONLY | O_CLOEXEC);
    mbedtls_sha256_context ctx;
    unsigned char buf[65536];
    ssize_t n;

    snprintf(hex, 65, "%s", "unknown");
    if (fd == -1)
        return;
    mbedtls_sha256_init(&ctx);
    mbedtls_sha256_starts(&ctx, 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        mbedtls_sha256_update(&ctx, buf, (size_t)n);
    close(fd);
    if (n == 0) {
        mbedtls_sha256_finish(&ctx, digest);
        for (int i = 0; i != 32; ++i)
            snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    mbedtls_sha256_free(&ctx);
}

/* the machine's addresses, loopback and link-local left out */
static size_t addresses(char (*texts)[BULWARK_NETADDR_TEXT_MAX], const char **ptrs, size_t max)
{
    struct ifaddrs *list, *a;
    size_t n = 0;

    if (getifaddrs(&list) != 0)
        return 0;
    for (a = list; a != NULL && n != max; a = a->ifa_next) {
        struct sockaddr *sa = a->ifa_addr;
        if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
            continue;
        if (sa->sa_family == AF_INET && (ntohl(((struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127)
            continue;
        if (sa->sa_family == AF_INET6 && (IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)sa)->sin6_addr) ||
                                          IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)sa)->sin6_addr)))
            continue;
        bulwark_netaddr_format_ip(texts[n], sizeof(texts[n]), sa);
        ptrs[n] = texts[n];
        ++n;
    }
    freeifaddrs(list);
    return n;
}

static void log_boot(void)
{
    char line[BULWARK_LOG_LINE_MAX], hash[65], kernel[200];
    char addr_text[ADDRESSES_MAX][BULWARK_NETADDR_TEXT_MAX];
    const char *addrs[ADDRESSES_MAX], *https[16], *http[16];
    size_t num_addrs = addresses(addr_text, addrs, ADDRESSES_MAX), nhttps = 0, nhttp = 0;
    struct utsname u;
    bulwark_json_t j;

    init_hash(hash);
    if (uname(&u) == 0)
        snprintf(kernel, sizeof(kernel), "%s %s", u.release, u.version);
    else
        strcpy(kernel, "unknown");
    for (size_t i = 0; i != boot.num_listeners; ++i) {
        if (boot.listeners[i].is_tls && nhttps != 16)
            https[nhttps++] = boot.listeners[i].text;
        else if (!boot.listeners[i].is_tls && nhttp != 16)
            http[nhttp++] = boot.listeners[i].text;
    }
    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "boot");
    bulwark_json_cstr(&j, "version", BULWARK_VERSION);
    bulwark_json_cstr(&j, "init_sha256", hash);
    bulwark_json_cstr(&j, "kernel", kernel);
    bulwark_json_str_array(&j, "addresses", addrs, num_addrs);
    bulwark_json_str_array(&j, "https", https, nhttps);
    bulwark_json_str_array(&j, "http", http, nhttp);
    bulwark_json_cstr(&j, "secrets_device", boot.volume.device);
    bulwark_json_int(&j, "secrets_files", (long long)boot.volume.files);
    bulwark_json_int(&j, "threads", (long long)boot.threads);
    bulwark_log_emit(&j);
}

/* --- the serving process ------------------------------------------------ */

static int ready_write_fd = -1;

static void on_ready(void *arg)
{
    char b = 1;
    ssize_t n;

    (void)arg;
    n = write(ready_write_fd, &b, 1);
    (void)n;
    close(ready_write_fd);
}

static void serving_process(int ready_fd, int report_fd) __attribute__((noreturn));
static void serving_process(int ready_fd, int report_fd)
{
    static int report;
    sigset_t none;
    char err[INIT_ERR_MAX];
    bulwark_serve_options_t opts;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (init_drop_privileges(boot.threads, err, sizeof(err)) != 0) {
        fprintf(stderr, "bulwark: error: cannot confine the serving process: %s\n", err);
        _exit(1);
    }
    ready_write_fd = ready_fd;
    report = report_fd;
    memset(&opts, 0, sizeof(opts));
    opts.threads = boot.threads;
    opts.bound = boot.listeners;
    opts.num_bound = boot.num_listeners;
    opts.confine = bulwark_seccomp_confine;
    opts.on_ready = on_ready;
    opts.hook_arg = &report;
    _exit(bulwark_serve(&opts));
}

static void log_worker_start(pid_t pid)
{
    char line[256];
    bulwark_json_t j;

    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "worker_start");
    bulwark_json_int(&j, "pid", pid);
    bulwark_log_emit(&j);
}

static int start_worker(struct worker *w)
{
    int ready[2], report[2];

    if (pipe2(ready, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(report, O_CLOEXEC) != 0) {
        close(ready[0]);
        close(ready[1]);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &w->started);
    if ((w->pid = fork()) == 0) {
        close(ready[0]);
        close(report[0]);
        serving_process(ready[1], report[1]);
    }
    close(ready[1]);
    close(report[1]);
    if (w->pid == -1) {
        close(ready[0]);
        close(report[0]);
        return -1;
    }
    log_worker_start(w->pid);
    fcntl(ready[0], F_SETFL, O_NONBLOCK);
    fcntl(report[0], F_SETFL, O_NONBLOCK);
    w->ready_fd = ready[0];
    w->report_fd = report[0];
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* what became of a serving process that is gone; 1 if it had been serving */
static int log_worker_exit(struct worker *w, int status, long restart_ms)
{
    char line[BULWARK_LOG_LINE_MAX], b;
    int nr = -1, was_ready = read(w->ready_fd, &b, 1) == 1;
    bulwark_json_t j;

    if (read(w->report_fd, &nr, sizeof(nr)) != (ssize_t)sizeof(nr))
        nr = -1;
    close(w->ready_fd);
    close(w->report_fd);
    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "worker_exit");
    bulwark_json_int(&j, "pid", w->pid);
    if (WIFEXITED(status))
        bulwark_json_int(&j, "exit_status", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        bulwark_json_cstr(&j, "signal", strsignal(WTERMSIG(status)));
    if (nr != -1) {
        const char *name = bulwark_syscall_name(nr);
        bulwark_json_cstr(&j, "reason", "seccomp");
        bulwark_json_cstr(&j, "syscall", name != NULL ? name : "unknown");
        bulwark_json_int(&j, "nr", nr);
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
        /* libc blocks signals around fork() and set*id(): the trap's SIGSYS
         * then kills without running the handler that would name the call */
        bulwark_json_cstr(&j, "reason", "seccomp");
        bulwark_json_cstr(&j, "syscall", "unknown (made with SIGSYS blocked, e.g. fork)");
    }
    bulwark_json_millis(&j, "uptime_ms", (int64_t)(seconds_since(&w->started) * 1e6));
    bulwark_json_cstr(&j, "was_serving", was_ready ? "yes" : "no");
    if (was_ready && restart_ms >= 0)
        bulwark_json_int(&j, "restart_in_ms", restart_ms);
    bulwark_log_emit(&j);
    w->pid = 0;
    return was_ready;
}

static void log_stop(int sig)
{
    char line[256];
    bulwark_json_t j;

    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "stop");
    bulwark_json_cstr(&j, "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    bulwark_json_cstr(&j, "cause", sig == SIGINT ? "Ctrl-Alt-Del" : "power button or hypervisor stop");
    bulwark_log_emit(&j);
}

/* reaps every exited child; the status of w's process when it was one */
static int reap(struct worker *w, int *status)
{
    int st, found = 0;
    pid_t pid;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (pid == w->pid) {
            *status = st;
            found = 1;
        }
    }
    return found;
}

static void stop(struct worker *w, int sig) __attribute__((noreturn));
static void stop(struct worker *w, int sig)
{
    sigset_t chld;
    struct timespec t0, wait = {0, 200000000};
    int status;

    log_stop(sig);
    if (w->pid > 0) {
        kill(w->pid, SIGTERM);
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (!reap(w, &status)) {
            if (seconds_since(&t0) > STOP_GRACE_SECONDS) {
                kill(w->pid, SIGKILL);
                waitpid(w->pid, &status, 0);
                break;
            }
            sigtimedwait(&chld, NULL, &wait);
        }
        log_worker_exit(w, status, -1);
    }
    power_off();
}

static void supervise(void) __attribute__((noreturn));
static void supervise(void)
{
    struct worker w = {0};
    sigset_t set;
    long backoff_ms = BACKOFF_FIRST_MS;
    int status, sig;
    struct timespec restart_at = {0, 0}, now, timeout;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (start_worker(&w) != 0)
        boot_failed(NULL, "cannot start the serving process (fork failed)");
    for (;;) {
        if (w.pid == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > restart_at.tv_sec ||
                (now.tv_sec == restart_at.tv_sec && now.tv_nsec >= restart_at.tv_nsec)) {
                if (start_worker(&w) != 0)
                    boot_failed(NULL, "cannot restart the serving process (fork failed)");
                continue;
            }
            long left_ms = (restart_at.tv_sec - now.tv_sec) * 1000 + (restart_at.tv_nsec - now.tv_nsec) / 1000000;
            timeout.tv_sec = left_ms / 1000;
            timeout.tv_nsec = (left_ms % 1000) * 1000000 + 1000000;
            sig = sigtimedwait(&set, NULL, &timeout);
        } else {
            sig = sigwaitinfo(&set, NULL);
        }
        if (sig == SIGTERM || sig == SIGINT)
            stop(&w, sig);
        if (sig != SIGCHLD || w.pid == 0 || !reap(&w, &status))
            continue;
        if (seconds_since(&w.started) >= BACKOFF_RESET_SECONDS)
            backoff_ms = BACKOFF_FIRST_MS;
        if (!log_worker_exit(&w, status, backoff_ms))
            boot_failed(NULL, "the serving process stopped before it served (its reason is on the line above)");
        clock_gettime(CLOCK_MONOTONIC, &restart_at);
        restart_at.tv_sec += backoff_ms / 1000;
        restart_at.tv_nsec += (backoff_ms % 1000) * 1000000;
        if (restart_at.tv_nsec >= 1000000000) {
            restart_at.tv_sec += 1;
            restart_at.tv_nsec -= 1000000000;
        }
        backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
    }
}

void bulwark_init_main(void)
{
    sigset_t set;

    /* signals wait for sigwaitinfo; nothing runs in signal context */
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    (void)sigprocmask(SIG_BLOCK, &set, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
    /* Ctrl-Alt-Del: SIGINT to PID 1 instead of an immediate reboot */
    (void)reboot(RB_DISABLE_CAD);
    mount_basics();
    wait_for_entropy();
    load_policy();
    load_secrets();
    bind_listeners();
    log_boot();
    supervise();
}
