/*
 * Socket addresses as text; see netaddr.h.
 */
#include <arpa/inet.h>
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

/* Decimal digits of v at p; returns the end.  IPv4 text is written by
 * hand: musl's inet_ntop goes through snprintf, and the access log formats
 * two addresses per request. */
static char *put_uint(char *p, unsigned v)
{
    char digits[10];
    size_t n = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n != 0)
        *p++ = digits[--n];
    return p;
}

static char *put_v4(char *p, const struct in_addr *addr)
{
    const uint8_t *b = (const uint8_t *)&addr->s_addr;

    for (size_t i = 0; i != 4; ++i) {
        if (i != 0)
            *p++ = '.';
        p = put_uint(p, b[i]);
    }
    return p;
}

/* text of len bytes into dst as snprintf would: cut to cap - 1, NUL-terminated */
static size_t copy_out(char *dst, size_t cap, const char *text, size_t len)
{
    if (cap == 0)
        return 0;
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, text, len);
    dst[len] = '\0';
    return len;
}

size_t bulwark_netaddr_format(char *dst, size_t cap, const struct sockaddr *sa)
{
    char text[BULWARK_NETADDR_TEXT_MAX], *p = text;

    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const void *)sa;
        p = put_v4(p, &sin->sin_addr);
        *p++ = ':';
        p = put_uint(p, ntohs(sin->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const void *)sa;
        *p++ = '[';
        inet_ntop(AF_INET6, &sin6->sin6_addr, p, INET6_ADDRSTRLEN);
        p += strlen(p);
        *p++ = ']';
        *p++ = ':';
        p = put_uint(p, ntohs(sin6->sin6_port));
        break;
    }
    default:
        *p++ = '-';
        break;
    }
    return copy_out(dst, cap, text, (size_t)(p - text));
}

size_t bulwark_netaddr_format_ip(char *dst, size_t cap, const struct sockaddr *sa)
{
    char text[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)sa;
        return copy_out(dst, cap, text, (size_t)(put_v4(text, &sin->sin_addr) - text));
    }
    if (sa->sa_family == AF_INET6 &&
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, text, sizeof(text)) != NULL)
        return copy_out(dst, cap, text, strlen(text));
    return copy_out(dst, cap, "-", 1);
}
