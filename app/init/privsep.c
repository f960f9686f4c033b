/*
 * The serving process gives up everything it does not need to serve; see
 * internal.h.  Order matters: the mount namespace and the capability
 * bounding set need privileges that the uid change then removes.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "init.h"
#include "internal.h"

/* PID 1 creates it, empty, before the first serving process starts */
#define EMPTY_ROOT "/empty"

/* open descriptors: listeners, connections, pipes between event loops */
#define FILES_MAX 16384
/* tasks of the service uid: event loops, the worker pool, the main thread;
 * seccomp refuses new processes, this bounds threads as well */
#define TASKS_BASE 64

/* Flawfinder: ignore (every use passes a literal format) */
#define fail(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* DHCP's nameservers: the kernel's /proc/net/pnp has "nameserver A.B.C.D"
 * lines, which is the resolv.conf format (the other lines are ignored) */
#define PNP "/proc/net/pnp"
#define HOSTS_TEXT "127.0.0.1 localhost\n::1 localhost\n"

static int write_file(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    ssize_t n;

    if (fd == -1)
        return -1;
    n = write(fd, text, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

/* /etc/hosts and, when DHCP gave nameservers, /etc/resolv.conf in the new
 * root: the resolver's only files (proxy routes to upstreams by name) */
static int resolver_files(char *err, size_t errlen)
{
    char pnp[1024];
    ssize_t len = 0;
    int fd;

    if (mkdir(EMPTY_ROOT "/etc", 0555) != 0 ||
        write_file(EMPTY_ROOT "/etc/hosts", HOSTS_TEXT, sizeof(HOSTS_TEXT) - 1) != 0)
        return fail("cannot write the serving process's /etc/hosts: %s", strerror(errno));
    if ((fd = open(PNP, O_RDONLY | O_CLOEXEC)) != -1) {
        len = read(fd, pnp, sizeof(pnp));
        close(fd);
    }
    if (len > 0 && write_file(EMPTY_ROOT "/etc/resolv.conf", pnp, (size_t)len) != 0)
        return fail("cannot write the serving process's /etc/resolv.conf: %s", strerror(errno));
    return 0;
}

/* Nothing but an almost empty, read-only root (the resolver's two files):
 * the serving process has no file to write and none of the image's to
 * read.  The initramfs cannot be pivot_root'ed away, so the new root is
 * moved over it and chroot'ed into; without CAP_SYS_CHROOT (dropped below)
 * there is no way back out. */
static int empty_root(char *err, size_t errlen)
{
    static const char *const mounted[] = {"/proc", "/sys", "/dev"};

    if (unshare(CLONE_NEWNS) != 0)
        return fail("cannot create a mount namespace: %s", strerror(errno));
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return fail("cannot make the mounts private: %s", strerror(errno));
    if (mount("empty", EMPTY_ROOT, "ramfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555") != 0)
        return fail("cannot mount a new root on %s: %s", EMPTY_ROOT, strerror(errno));
    if (resolver_files(err, errlen) != 0)
        return -1;
    for (size_t i = 0; i != sizeof(mounted) / sizeof(mounted[0]); ++i)
        if (umount2(mounted[i], MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
            return fail("cannot unmount %s: %s", mounted[i], strerror(errno));
    /* chdir first, chdir("/") after, root dropped below, nothing open
     * but the listeners: flawfinder's conditions for chroot all hold */
    if (chdir(EMPTY_ROOT) != 0 || mount(EMPTY_ROOT, "/", NULL, MS_MOVE, NULL) != 0 ||
        chroot(".") != 0 || /* Flawfinder: ignore */
        chdir("/") != 0)
        return fail("cannot move into the new root: %s", strerror(errno));
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        return fail("cannot make the new root read-only: %s", strerror(errno));
    return 0;
}

static int drop_bounding_set(char *err, size_t errlen)
{
    for (int cap = 0; cap <= 63; ++cap) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return fail("cannot drop capability %d from the bounding set: %s", cap, strerror(errno));
    }
    return 0;
}

static int no_capabilities_left(void)
{
    /* the kernel's UAPI names (linux/capability.h); musl has no capget wrapper */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0}; /* NOLINT(bugprone-reserved-identifier) */
    struct __user_cap_data_struct data[2]; /* NOLINT(bugprone-reserved-identifier) */

    if (syscall(SYS_capget, &hdr, data) != 0)
        return 0;
    for (int i = 0; i != 2; ++i)
        if (data[i].effective != 0 || data[i].permitted != 0 || data[i].inheritable != 0)
            return 0;
    return 1;
}

static int become_service_user(char *err, size_t errlen)
{
    if (setgroups(0, NULL) != 0)
        return fail("setgroups: %s", strerror(errno));
    if (setresgid(BULWARK_SERVICE_GID, BULWARK_SERVICE_GID, BULWARK_SERVICE_GID) != 0)
        return fail("setresgid(%d): %s", BULWARK_SERVICE_GID, strerror(errno));
    if (setresuid(BULWARK_SERVICE_UID, BULWARK_SERVICE_UID, BULWARK_SERVICE_UID) != 0)
        return fail("setresuid(%d): %s", BULWARK_SERVICE_UID, strerror(errno));
    /* a uid change away from 0 clears the permitted and effective sets;
     * the ambient set goes explicitly; checked, not assumed */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return fail("cannot clear the ambient capabilities: %s", strerror(errno));
    if (!no_capabilities_left())
        return fail("capabilities remain after the uid change");
    if (setuid(0) == 0)
        return fail("the process could become root again");
    return 0;
}

static int limit(int resource, const char *name, rlim_t value, char *err, size_t errlen)
{
    struct rlimit rl = {value, value};

    if (setrlimit(resource, &rl) != 0)
        return fail("cannot set %s to %llu: %s", name, (unsigned long long)value, strerror(errno));
    return 0;
}

static int set_limits(size_t threads, char *err, size_t errlen)
{
    if (limit(RLIMIT_CORE, "RLIMIT_CORE", 0, err, errlen) != 0 ||
        limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", FILES_MAX, err, errlen) != 0 ||
        limit(RLIMIT_NPROC, "RLIMIT_NPROC", TASKS_BASE + 4 * threads, err, errlen) != 0 ||
        limit(RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 0, err, errlen) != 0 ||
        limit(RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 0, err, errlen) != 0)
        return -1;
    return 0;
}

int init_drop_privileges(size_t threads, char *err, size_t errlen)
{
    if (empty_root(err, errlen) != 0 || drop_bounding_set(err, errlen) != 0 || set_limits(threads, err, errlen) != 0 ||
        become_service_user(err, errlen) != 0)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    /* no core, no ptrace attach by the same uid, no /proc/PID access */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return fail("PR_SET_DUMPABLE: %s", strerror(errno));
    return 0;
}
