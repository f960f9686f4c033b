/*
 * Listening sockets; see listener.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "listener.h"
#include "netaddr.h"

/* the kernel clips it to its own maximum (net.core.somaxconn on Linux) */
#define LISTEN_BACKLOG 65535

int bulwark_listener_parse(bulwark_listener_t *l, const char *text, int is_tls, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    l->text = text;
    l->is_tls = is_tls;
    if (bulwark_netaddr_parse(text, &l->addr, &l->addrlen) != 0) {
        snprintf(err, errlen, "bad listen address '%s': expected HOST:PORT", text);
        return -1;
    }
    return 0;
}

static int set_flag(int fd, int level, int name)
{
    int on = 1;
    return setsockopt(fd, level, name, &on, sizeof(on));
}

/* A socket with the options every one of ours has, bound to l->addr.
 * Returns the fd, or -1 with errno set. */
static int bound_socket(const bulwark_listener_t *l, int reuseport)
{
    int fd, saved;

    if ((fd = socket(l->addr.ss_family, SOCK_STREAM, 0)) == -1)
        return -1;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || set_flag(fd, SOL_SOCKET, SO_REUSEADDR) != 0)
        goto Error;
    /* [::] means IPv6 only; IPv4 is listened on by its own address */
    if (l->addr.ss_family == AF_INET6 && set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY) != 0)
        goto Error;
#ifdef SO_REUSEPORT
    if (reuseport && set_flag(fd, SOL_SOCKET, SO_REUSEPORT) != 0)
        goto Error;
#else
    (void)reuseport;
#endif
    if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) != 0)
        goto Error;
    return fd;

Error:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

/* Binds once without SO_REUSEPORT: that fails when anyone listens on the
 * address already, even another process of ours with SO_REUSEPORT, which
 * would otherwise silently share the port.  Learns the port for ":0". */
static int probe(bulwark_listener_t *l)
{
    int fd = bound_socket(l, 0), saved;

    if (fd == -1)
        return -1;
    if (getsockname(fd, (struct sockaddr *)&l->addr, &l->addrlen) != 0) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    close(fd);
    return 0;
}

static int bind_one(bulwark_listener_t *l, size_t i)
{
#ifdef SO_REUSEPORT
    int fd = bound_socket(l, 1);
#else
    int fd = i == 0 ? bound_socket(l, 0) : dup(l->fds[0]);
#endif
    if (fd == -1)
        return -1;
    if (listen(fd, LISTEN_BACKLOG) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    l->fds[i] = fd;
    return 0;
}

int bulwark_listener_bind(bulwark_listener_t *l, size_t num_threads, char *err, size_t errlen)
{
    l->fds = malloc(sizeof(*l->fds) * num_threads);
    if (l->fds == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", l->text, strerror(ENOMEM));
        return -1;
    }
    l->num_fds = num_threads;
    for (size_t i = 0; i != num_threads; ++i)
        l->fds[i] = -1;

    if (probe(l) != 0)
        goto Error;
    for (size_t i = 0; i != num_threads; ++i)
        if (bind_one(l, i) != 0)
            goto Error;
    return 0;

Error:
    snprintf(err, errlen, "cannot listen on %s: %s", l->text, strerror(errno));
    bulwark_listener_dispose(l);
    return -1;
}

uint16_t bulwark_listener_port(const bulwark_listener_t *l)
{
    if (l->addr.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
}

void bulwark_listener_dispose(bulwark_listener_t *l)
{
    for (size_t i = 0; i != l->num_fds; ++i)
        if (l->fds[i] != -1)
            close(l->fds[i]);
    free(l->fds);
    l->fds = NULL;
    l->num_fds = 0;
}
