/*
 * Socket addresses as text: "127.0.0.1:8443", "[::1]:8443".
 */
#ifndef BULWARK_NETADDR_H
#define BULWARK_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* "[" INET6_ADDRSTRLEN "]:65535" and a NUL */
#define BULWARK_NETADDR_TEXT_MAX (INET6_ADDRSTRLEN + 9)

/* Parses a numeric HOST:PORT (IPv6 in brackets, port 0..65535).
 * Returns 0, or -1 when text is not of that form. */
int bulwark_netaddr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *sslen);

/* Writes the address as text (NUL-terminated) and returns its length, or
 * writes "-" for a family other than IPv4/IPv6. */
size_t bulwark_netaddr_format(char *dst, size_t cap, const struct sockaddr *sa);

/* the address alone ("127.0.0.1", "::1"), no port; "-" for other families */
size_t bulwark_netaddr_format_ip(char *dst, size_t cap, const struct sockaddr *sa);

#endif
