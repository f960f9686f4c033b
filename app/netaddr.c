/*
 * Socket addresses as text; see netaddr.h.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netaddr.h"

#define PORT_DIGITS_MAX 5

static int parse_port(const char *s, in_port_t *port)
{
    size_t n = strlen(s);
    unsigned long value = 0;

    if (n == 0 || n > PORT_DIGITS_MAX)
        return -1;
    for (size_t i = 0; i != n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        value = value * 10 + (unsigned long)(s[i] - '0');
    }
    if (value > 65535)
        return -1;
    *port = htons((uint16_t)value);
    return 0;
}

static int parse_v6(const char *text, struct sockaddr_storage *ss, socklen_t *sslen)
{
    const char *close = strchr(text, ']');
    char host[INET6_ADDRSTRLEN];
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    size_t hostlen;

    if (close == NULL || close[1] != ':')
        return -1;
    hostlen = (size_t)(close - (text + 1));
    if (hostlen == 0 || hostlen >= sizeof(host))
        return -1;
    memcpy(host, text + 1, hostlen);
    host[hostlen] = '\0';
    memset(sin6, 0, sizeof(*sin6));
    sin6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1 || parse_port(close + 2, &sin6->sin6_port) != 0)
        return -1;
    *sslen = sizeof(*sin6);
    return 0;
}

static int parse_v4(const char *text, struct sockaddr_storage *ss, socklen_t *sslen)
{
    const char *colon = strrchr(text, ':');
    char host[INET_ADDRSTRLEN];
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    size_t hostlen;

    if (colon == NULL)
        return -1;
    hostlen = (size_t)(colon - text);
    if (hostlen == 0 || hostlen >= sizeof(host))
        return -1;
    memcpy(host, text, hostlen);
    host[hostlen] = '\0';
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1 || parse_port(colon + 1, &sin->sin_port) != 0)
        return -1;
    *sslen = sizeof(*sin);
    return 0;
}

int bulwark_netaddr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *sslen)
{
    if (text[0] == '[')
        return parse_v6(text, ss, sslen);
    return parse_v4(text, ss, sslen);
}

size_t bulwark_netaddr_format(char *dst, size_t cap, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN];
    int n;

    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const void *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        n = snprintf(dst, cap, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const void *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        n = snprintf(dst, cap, "[%s]:%u", host, (unsigned)ntohs(sin6->sin6_port));
        break;
    }
    default:
        n = snprintf(dst, cap, "-");
        break;
    }
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t bulwark_netaddr_format_ip(char *dst, size_t cap, const struct sockaddr *sa)
{
    const void *addr;

    if (sa->sa_family == AF_INET)
        addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    else
        addr = NULL;
    if (addr == NULL || inet_ntop(sa->sa_family, addr, dst, (socklen_t)cap) == NULL) {
        snprintf(dst, cap, "-");
        return cap > 1 ? 1 : 0;
    }
    return strlen(dst);
}
