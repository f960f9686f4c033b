/*
 * The appliance's PID 1 and the confinement of its serving process.
 * Linux only: nothing outside app/init/ may assume Linux (DESIGN.md).
 */
#ifndef BULWARK_INIT_H
#define BULWARK_INIT_H

#include <stddef.h>

/* The service user of the image: owner of every file on the secrets volume
 * and the uid the serving process runs as (image/mksecrets writes it). */
#define BULWARK_SERVICE_UID 1000
#define BULWARK_SERVICE_GID 1000

/* PID 1 of the image (image/README.md, "Contract for PID 1"): mounts, finds
 * and checks the secrets volume, binds the listeners, starts and supervises
 * the serving process, powers off on SIGTERM/SIGINT or a fatal error.
 * Never returns. */
void bulwark_init_main(void) __attribute__((noreturn));

/* Installs the serving process's seccomp allow-list on every thread (the
 * signature of bulwark_serve_options_t.confine).  arg is NULL or points to
 * an int: a descriptor to which a violation's syscall number is written (4
 * bytes) before the process dies of SIGSYS.  A violation also writes a
 * "seccomp_violation" log line naming the syscall. */
int bulwark_seccomp_confine(void *arg, char *err, size_t errlen);

/* the name of an x86-64 syscall number, or NULL */
const char *bulwark_syscall_name(long nr);

#endif
