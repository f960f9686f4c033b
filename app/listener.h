/*
 * Listen addresses from the command line, bound once per event-loop thread.
 *
 * Each thread gets its own socket on the same address with SO_REUSEPORT, so
 * the kernel spreads new connections over the threads.  Where SO_REUSEPORT
 * does not exist, the threads share one socket (dup'ed).
 */
#ifndef BULWARK_LISTENER_H
#define BULWARK_LISTENER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct st_bulwark_listener_t {
    const char *text; /* as given on the command line */
    int is_tls;       /* 1: HTTPS; 0: plain HTTP, redirected to HTTPS */
    struct sockaddr_storage addr; /* once bound: the port really bound (for ":0") */
    socklen_t addrlen;
    int *fds; /* one per thread; -1 when not bound */
    size_t num_fds;
} bulwark_listener_t;

/* Returns 0, or -1 with "bad listen address ..." in err. */
int bulwark_listener_parse(bulwark_listener_t *l, const char *text, int is_tls, char *err, size_t errlen);

/* Binds and listens num_threads sockets.  Returns 0, or -1 with
 * "cannot listen on ADDR: reason" in err (and nothing left open). */
int bulwark_listener_bind(bulwark_listener_t *l, size_t num_threads, char *err, size_t errlen);

uint16_t bulwark_listener_port(const bulwark_listener_t *l);

/* closes the fds not yet handed over (set to -1 when handed over) */
void bulwark_listener_dispose(bulwark_listener_t *l);

#endif
