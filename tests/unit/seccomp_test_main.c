/*
 * Drives the serving process's seccomp allow-list (app/init/seccomp.c) the
 * way PID 1 does: a child confines itself and then does one thing; the
 * parent reports how the child ended and what it wrote on the report pipe.
 *
 *   seccomp_test_main ACTION
 *
 * Prints "exit=N" or "signal=N", then "reported=NR" when a syscall number
 * came through the pipe.  The child's own lines (a seccomp_violation log
 * line, or "ok ...") go to stdout too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "init/init.h"

static void *thread_main(void *arg)
{
    return arg;
}

static int act(const char *action)
{
    if (strcmp(action, "nothing") == 0) {
        printf("ok nothing\n");
    } else if (strcmp(action, "thread") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, thread_main, NULL) != 0 || pthread_join(t, NULL) != 0)
            return 1;
        printf("ok thread\n");
    } else if (strcmp(action, "open-read") == 0) {
        int fd = open("/etc/hostname", O_RDONLY);
        printf("ok open-read=%s\n", fd >= 0 ? "yes" : strerror(errno));
    } else if (strcmp(action, "open-write") == 0) {
        int fd = open("/tmp/bulwark-seccomp-test", O_WRONLY | O_CREAT, 0600);
        printf("not killed: open-write=%d\n", fd);
    } else if (strcmp(action, "stat") == 0) {
        struct stat st;
        int r = stat("/etc/hostname", &st);
        printf("ok stat=%d errno=%s\n", r, r == -1 ? strerror(errno) : "-");
    } else if (strcmp(action, "tcp") == 0) {
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        printf("ok tcp=%s\n", fd >= 0 ? "yes" : "no");
    } else if (strcmp(action, "fork") == 0) {
        pid_t pid = fork();
        printf("not killed: fork=%d\n", (int)pid);
    } else if (strcmp(action, "exec") == 0) {
        char *argv[] = {"/bin/true", NULL};
        execv(argv[0], argv);
        printf("not killed: exec\n");
    } else if (strcmp(action, "netlink") == 0) {
        int fd = socket(AF_NETLINK, SOCK_RAW, 0);
        printf("not killed: netlink=%d\n", fd);
    } else if (strcmp(action, "mmap-exec") == 0) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        printf("not killed: mmap=%p\n", p);
    } else if (strcmp(action, "setuid") == 0) {
        int r = setuid(0);
        printf("not killed: setuid=%d\n", r);
    } else if (strcmp(action, "ptrace") == 0) {
        long r = syscall(SYS_ptrace, 0, 0, 0, 0);
        printf("not killed: ptrace=%ld\n", r);
    } else {
        fprintf(stderr, "unknown action %s\n", action);
        return 2;
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    int report[2], status, nr;
    char err[256];
    pid_t pid;

    if (argc != 2 || pipe(report) != 0)
        return 2;
    fflush(stdout);
    if ((pid = fork()) == 0) {
        close(report[0]);
        if (bulwark_seccomp_confine(&report[1], err, sizeof(err)) != 0) {
            printf("confine failed: %s\n", err);
            _exit(3);
        }
        _exit(act(argv[1]));
    }
    close(report[1]);
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        printf("signal=%d\n", WTERMSIG(status));
    else
        printf("exit=%d\n", WEXITSTATUS(status));
    if (read(report[0], &nr, sizeof(nr)) == (ssize_t)sizeof(nr))
        printf("reported=%d\n", nr);
    return 0;
}
