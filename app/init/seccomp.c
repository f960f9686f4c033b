/*
 * The serving process's seccomp allow-list; see init.h.
 *
 * Built from what `bulwark serve` does once it is started (traced over the
 * whole integration suite: sockets, epoll, memory, futexes, time, entropy,
 * pipes and eventfds between event loops, new threads).  Everything else is
 * refused:
 *   - open/openat only read-only (its root holds nothing but the resolver's
 *     /etc/hosts and /etc/resolv.conf, on a read-only mount); other path
 *     calls (stat, access, readlink) fail with ENOENT;
 *   - anything else traps: the SIGSYS handler names the syscall on the log
 *     and tells PID 1, then the process dies of SIGSYS (the handler is
 *     one-shot: the next trapped call is fatal, and it makes one).
 * Arguments are checked where a call could widen what the process can do:
 * clone only for threads (no new processes), socket only for TCP/UDP on
 * IPv4/IPv6 (bind is for the resolver's UDP socket: ports below 1024 need
 * a capability the process does not have), open only to read, mmap/mprotect never executable, ioctl only to ask about a tty
 * or set non-blocking mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "init.h"
#include "log.h"

#define ARCH_NR AUDIT_ARCH_X86_64
/* x32 syscalls share the arch value and set this bit in the number */
#define X32_SYSCALL_BIT 0x40000000u

static const char *const syscall_names[] = {
#include "syscall_names.h"
};

const char *bulwark_syscall_name(long nr)
{
    if (nr < 0 || (size_t)nr >= sizeof(syscall_names) / sizeof(syscall_names[0]))
        return NULL;
    return syscall_names[nr];
}

/* allowed as they are */
static const int allowed[] = {
    /* descriptors and sockets */
    SYS_read, SYS_pread64, SYS_write, SYS_readv, SYS_writev, SYS_close, SYS_fstat, SYS_lseek, SYS_fcntl, SYS_pipe2,
    SYS_eventfd2, SYS_accept4, SYS_accept, SYS_connect, SYS_bind, SYS_shutdown, SYS_recvfrom, SYS_recvmsg,
    SYS_sendto, SYS_sendmsg, SYS_setsockopt, SYS_getsockopt, SYS_getsockname, SYS_getpeername,
    SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_wait, SYS_epoll_pwait, SYS_poll, SYS_ppoll,
    /* memory (mmap and mprotect are checked below) */
    SYS_munmap, SYS_mremap, SYS_madvise, SYS_brk,
    /* threads, time, signals, entropy */
    SYS_futex, SYS_set_robust_list, SYS_sched_yield, SYS_sched_getaffinity, SYS_gettid, SYS_getpid,
    SYS_tgkill, SYS_exit, SYS_exit_group, SYS_clock_gettime, SYS_clock_getres, SYS_clock_nanosleep,
    SYS_nanosleep, SYS_gettimeofday, SYS_rt_sigprocmask, SYS_rt_sigtimedwait, SYS_rt_sigreturn,
    SYS_getrandom, SYS_membarrier,
};

/* answered "no such file" */
static const int no_file[] = {
    SYS_stat, SYS_lstat, SYS_newfstatat, SYS_statx, SYS_access, SYS_faccessat,
    SYS_readlink, SYS_readlinkat,
};

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
/* the low 32 bits of argument i (x86-64 is little-endian) */
#define LOAD_ARG(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args) + 8 * (i))
#define RET(action) BPF_STMT(BPF_RET | BPF_K, (action))
/* if A == k go on, else skip `skip` instructions */
#define IF_EQ(k, skip) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), 0, (skip))

#define PROGRAM_MAX 256

struct program {
    struct sock_filter insns[PROGRAM_MAX];
    unsigned short len;
};

static void emit(struct program *p, struct sock_filter insn)
{
    if (p->len < PROGRAM_MAX)
        p->insns[p->len] = insn;
    ++p->len;
}

/* A holds the syscall number on entry and on exit of each rule */
static void rule_return(struct program *p, int nr, unsigned action)
{
    emit(p, (struct sock_filter)IF_EQ((unsigned)nr, 1));
    emit(p, (struct sock_filter)RET(action));
}

/* nr allowed when argument `arg` has none of the bits in `bits` */
static void rule_arg_without(struct program *p, int nr, int arg, unsigned bits)
{
    emit(p, (struct sock_filter)IF_EQ((unsigned)nr, 4));
    emit(p, (struct sock_filter)LOAD_ARG(arg));
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, bits, 0, 1));
    emit(p, (struct sock_filter)RET(SECCOMP_RET_TRAP));
    emit(p, (struct sock_filter)RET(SECCOMP_RET_ALLOW));
}

/* nr allowed when argument `arg` has every bit in `bits` */
static void rule_arg_with(struct program *p, int nr, int arg, unsigned bits)
{
    emit(p, (struct sock_filter)IF_EQ((unsigned)nr, 5));
    emit(p, (struct sock_filter)LOAD_ARG(arg));
    emit(p, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, bits));
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, bits, 0, 1));
    emit(p, (struct sock_filter)RET(SECCOMP_RET_ALLOW));
    emit(p, (struct sock_filter)RET(SECCOMP_RET_TRAP));
}

/* nr allowed when argument `arg` has none of the bits in `bits` and its
 * access mode is read-only (O_RDONLY is 0) */
static void rule_read_only(struct program *p, int nr, int arg)
{
    rule_arg_without(p, nr, arg, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE);
}

/* nr allowed when argument `arg` is one of values[] */
static void rule_arg_in(struct program *p, int nr, int arg, const unsigned *values, unsigned count)
{
    emit(p, (struct sock_filter)IF_EQ((unsigned)nr, count + 3));
    emit(p, (struct sock_filter)LOAD_ARG(arg));
    for (unsigned i = 0; i != count; ++i)
        emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, values[i], count - i, 0));
    emit(p, (struct sock_filter)RET(SECCOMP_RET_TRAP));
    emit(p, (struct sock_filter)RET(SECCOMP_RET_ALLOW));
}

static void build(struct program *p)
{
    static const unsigned families[] = {AF_INET, AF_INET6};
    static const unsigned ioctls[] = {TIOCGWINSZ, FIONBIO, FIONREAD};

    p->len = 0;
    emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    /* another ABI (i386, x32) would bypass every rule below: fatal */
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NR, 1, 0));
    emit(p, (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS));
    emit(p, (struct sock_filter)LOAD_NR);
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
    emit(p, (struct sock_filter)RET(SECCOMP_RET_TRAP));
    for (size_t i = 0; i != sizeof(allowed) / sizeof(allowed[0]); ++i)
        rule_return(p, allowed[i], SECCOMP_RET_ALLOW);
    for (size_t i = 0; i != sizeof(no_file) / sizeof(no_file[0]); ++i)
        rule_return(p, no_file[i], SECCOMP_RET_ERRNO | ENOENT);
    /* threads only: a clone without CLONE_THREAD would be a new process */
    rule_arg_with(p, SYS_clone, 0, CLONE_THREAD | CLONE_VM);
    rule_return(p, SYS_clone3, SECCOMP_RET_ERRNO | ENOSYS); /* libc falls back to clone */
    rule_read_only(p, SYS_open, 1);
    rule_read_only(p, SYS_openat, 2);
    rule_arg_without(p, SYS_mmap, 2, PROT_EXEC);
    rule_arg_without(p, SYS_mprotect, 2, PROT_EXEC);
    rule_arg_in(p, SYS_socket, 0, families, sizeof(families) / sizeof(families[0]));
    rule_arg_in(p, SYS_ioctl, 1, ioctls, sizeof(ioctls) / sizeof(ioctls[0]));
    emit(p, (struct sock_filter)RET(SECCOMP_RET_TRAP));
}

static int report_fd = -1;

/* Signal context: only async-signal-safe work (the JSON line is built in a
 * stack buffer and leaves in one write). */
static void on_sigsys(int sig, siginfo_t *si, void *ucontext)
{
    char line[256];
    bulwark_json_t j;
    int nr = si->si_syscall;
    const char *name = bulwark_syscall_name(nr);

    (void)sig;
    (void)ucontext;
    bulwark_json_init(&j, line, sizeof(line));
    bulwark_json_begin_event(&j, "seccomp_violation");
    bulwark_json_cstr(&j, "syscall", name != NULL ? name : "unknown");
    bulwark_json_int(&j, "nr", nr);
    bulwark_log_emit(&j);
    if (report_fd != -1) {
        ssize_t n = write(report_fd, &nr, sizeof(nr));
        (void)n;
    }
    /* SA_RESETHAND made SIGSYS fatal again: die by a call that traps */
    syscall(X32_SYSCALL_BIT - 1);
    _exit(128 + SIGSYS);
}

int bulwark_seccomp_confine(void *arg, char *err, size_t errlen)
{
    struct program p;
    struct sock_fprog prog;
    struct sigaction sa;

    build(&p);
    if (p.len > PROGRAM_MAX) {
        snprintf(err, errlen, "seccomp: the filter needs %u instructions, more than %d", p.len, PROGRAM_MAX);
        return -1;
    }
    report_fd = arg != NULL ? *(const int *)arg : -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0) {
        snprintf(err, errlen, "seccomp: cannot install the SIGSYS handler: %s", strerror(errno));
        return -1;
    }
    /* required to install a filter without CAP_SYS_ADMIN; and nothing the
     * process could still exec may gain privileges */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "seccomp: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    prog.len = p.len;
    prog.filter = p.insns;
    /* TSYNC: the threads already started (the worker pool) get it too */
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
        snprintf(err, errlen, "seccomp: cannot install the filter: %s", strerror(errno));
        return -1;
    }
    return 0;
}
