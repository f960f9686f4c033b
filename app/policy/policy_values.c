/*
 * The policy's value syntaxes (see policy_values.h and policy/SCHEMA.md).
 */
#include <arpa/inet.h>
#include <string.h>
#include "policy_values.h"

#define MS_PER_S 1000ull
/* durations and sizes are bounded far below overflow by the loader's limits;
 * this only keeps the arithmetic here exact */
#define NUMBER_MAX 1000000000000ull
#define PORT_MAX 65535

static int fail(const char **expected, const char *what)
{
    *expected = what;
    return -1;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_lower_alnum(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z');
}

void pol_value_lowercase(char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
}

/* Reads leading digits; returns how many, 0 when none or too large. */
static size_t read_number(const char *s, uint64_t *n)
{
    size_t i = 0;

    *n = 0;
    if (s[0] == '0' && is_digit(s[1]))
        return 0;
    while (is_digit(s[i])) {
        *n = *n * 10 + (uint64_t)(s[i] - '0');
        if (*n > NUMBER_MAX)
            return 0;
        i++;
    }
    return i;
}

int pol_value_uint(const char *s, uint64_t *n, const char **expected)
{
    size_t i = read_number(s, n);

    if (i == 0 || s[i] != '\0')
        return fail(expected, "a whole number");
    return 0;
}

typedef struct st_unit_t {
    const char *name;
    uint64_t factor;
} unit_t;

static const unit_t duration_units[] = {
    {"ms", 1}, {"s", MS_PER_S}, {"m", 60 * MS_PER_S}, {"h", 3600 * MS_PER_S}, {"d", 86400 * MS_PER_S}, {NULL, 0},
};

/* IEC units only: "KB" is ambiguous between 1000 and 1024. */
static const unit_t size_units[] = {
    {"", 1}, {"B", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024}, {NULL, 0},
};

static int scale(const char *s, const unit_t *units, uint64_t *out)
{
    uint64_t n;
    size_t i = read_number(s, &n);
    const unit_t *u;

    if (i == 0)
        return -1;
    for (u = units; u->name != NULL; u++) {
        if (strcmp(s + i, u->name) == 0) {
            *out = n * u->factor;
            return 0;
        }
    }
    return -1;
}

int pol_value_duration_ms(const char *s, uint64_t *ms, const char **expected)
{
    if (scale(s, duration_units, ms) != 0)
        return fail(expected, "a duration: a whole number and a unit, ms, s, m, h or d (e.g. 30s)");
    return 0;
}

int pol_value_size(const char *s, uint64_t *bytes, const char **expected)
{
    if (scale(s, size_units, bytes) != 0)
        return fail(expected, "a size: bytes, or a whole number of KiB, MiB or GiB (e.g. 1MiB)");
    return 0;
}

/* ---- hosts ---- */

static int valid_label(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > LABEL_MAX || s[0] == '-' || s[len - 1] == '-')
        return 0;
    for (i = 0; i < len; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return 0;
    return 1;
}

int pol_value_hostname(const char *s, size_t len)
{
    size_t start = 0, i;

    if (len == 0 || len > HOSTNAME_MAX)
        return 0;
    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (!valid_label(s + start, i - start))
                return 0;
            start = i + 1;
        }
    }
    return 1;
}

/* an all-numeric last label would make a name look like an IPv4 address */
static int looks_numeric(const char *s)
{
    const char *dot = strrchr(s, '.');
    const char *last = dot ? dot + 1 : s;

    for (; *last; last++)
        if (!is_digit(*last))
            return 0;
    return 1;
}

static int host_ipv6(const char *s, bulwark_host_pattern_t *h, char *buf, const char **expected)
{
    size_t len = strlen(s);
    char addr[INET6_ADDRSTRLEN + 1];

    if (len < 3 || s[len - 1] != ']' || len - 2 > INET6_ADDRSTRLEN)
        return fail(expected, "an IPv6 address in brackets, e.g. [::1] (without a port)");
    memcpy(addr, s + 1, len - 2);
    addr[len - 2] = '\0';
    if (inet_pton(AF_INET6, addr, h->addr) != 1)
        return fail(expected, "an IPv6 address in brackets, e.g. [::1] (without a port)");
    buf[0] = '[';
    inet_ntop(AF_INET6, h->addr, buf + 1, INET6_ADDRSTRLEN);
    memcpy(buf + strlen(buf), "]", 2);
    h->kind = BULWARK_HOST_IPV6;
    return 0;
}

int pol_value_host_pattern(const char *s, bulwark_host_pattern_t *h, char *buf, const char **expected)
{
    size_t len = strlen(s);

    memset(h, 0, sizeof(*h));
    if (len > HOSTNAME_MAX + 2)
        return fail(expected, "a host name of at most 253 characters");
    memcpy(buf, s, len + 1);
    pol_value_lowercase(buf, len);
    h->text.base = buf;
    if (strcmp(buf, "*") == 0) {
        h->kind = BULWARK_HOST_ANY;
    } else if (buf[0] == '[') {
        if (host_ipv6(buf, h, buf, expected) != 0)
            return -1;
    } else if (inet_pton(AF_INET, buf, h->addr) == 1) {
        h->kind = BULWARK_HOST_IPV4;
    } else if (strncmp(buf, "*.", 2) == 0) {
        if (!pol_value_hostname(buf + 2, len - 2) || looks_numeric(buf))
            return fail(expected, "a wildcard of the form *.example.com");
        memmove(buf, buf + 1, len); /* keep ".example.com": the suffix to match */
        h->kind = BULWARK_HOST_WILDCARD;
    } else if (strchr(buf, ':') != NULL) {
        return fail(expected, "a host without a port (every port matches); IPv6 in brackets");
    } else {
        if (!pol_value_hostname(buf, len) || looks_numeric(buf))
            return fail(expected, "a host name (letters, digits, hyphens, dots), *.domain, an IPv4 address or [IPv6]");
        h->kind = BULWARK_HOST_NAME;
    }
    h->text.len = strlen(buf);
    return 0;
}

/* ---- host:port ---- */

static int parse_port(const char *s, int allow_zero)
{
    uint64_t n;
    size_t i = read_number(s, &n);

    if (i == 0 || s[i] != '\0' || n > PORT_MAX || (n == 0 && !allow_zero))
        return -1;
    return (int)n;
}

/* Splits "host:port" / "[v6]:port": host copied (without brackets) into
 * host (HOSTNAME_MAX + 1), returns the port text or NULL. */
static const char *split_host_port(const char *s, char *host, int *bracketed)
{
    const char *colon;
    size_t len;

    *bracketed = s[0] == '[';
    if (*bracketed) {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return NULL;
        len = (size_t)(end - s - 1);
        s++;
        colon = end + 1;
    } else {
        if ((colon = strrchr(s, ':')) == NULL)
            return NULL;
        len = (size_t)(colon - s);
    }
    if (len == 0 || len > HOSTNAME_MAX)
        return NULL;
    memcpy(host, s, len);
    host[len] = '\0';
    return colon + 1;
}

int pol_value_listen_address(const char *s, const char **expected)
{
    static const char want[] = "a numeric ADDRESS:PORT, e.g. 0.0.0.0:443 or [::]:443";
    char host[HOSTNAME_MAX + 1];
    unsigned char addr[16];
    int bracketed;
    const char *port = split_host_port(s, host, &bracketed);

    if (port == NULL || parse_port(port, 0) < 0)
        return fail(expected, want);
    if (inet_pton(bracketed ? AF_INET6 : AF_INET, host, addr) != 1)
        return fail(expected, want);
    return 0;
}

static int valid_host(const char *host, int bracketed)
{
    unsigned char addr[16];

    if (bracketed)
        return inet_pton(AF_INET6, host, addr) == 1;
    if (inet_pton(AF_INET, host, addr) == 1)
        return 1;
    return pol_value_hostname(host, strlen(host)) && !looks_numeric(host);
}

int pol_value_host_port(const char *s, const char **expected)
{
    char host[HOSTNAME_MAX + 1];
    int bracketed;
    const char *port = split_host_port(s, host, &bracketed);

    if (port == NULL || parse_port(port, 0) < 0 || !valid_host(host, bracketed))
        return fail(expected, "HOST:PORT, e.g. 10.0.0.5:6379, redis.internal:6379 or [fd00::5]:6379");
    return 0;
}

/* ---- origins and URLs ---- */

static const char *after_scheme(const char *s, int *https)
{
    if (strncmp(s, "https://", 8) == 0) {
        *https = 1;
        return s + 8;
    }
    if (strncmp(s, "http://", 7) == 0) {
        *https = 0;
        return s + 7;
    }
    return NULL;
}

/* "host[:port]" up to the end of `s`: valid host, optional explicit port */
static int valid_authority(const char *s, char *host, int *port)
{
    int bracketed = s[0] == '[';

    *port = -1;
    if (bracketed || strchr(s, ':') != NULL) {
        const char *p = split_host_port(s, host, &bracketed);
        if (p != NULL) {
            if ((*port = parse_port(p, 0)) < 0)
                return 0;
            return valid_host(host, bracketed);
        }
        if (!bracketed)
            return 0;
        /* "[v6]" without a port */
        size_t len = strlen(s);
        if (s[len - 1] != ']' || len - 2 > HOSTNAME_MAX)
            return 0;
        memcpy(host, s + 1, len - 2);
        host[len - 2] = '\0';
        return valid_host(host, 1);
    }
    size_t len = strlen(s);
    if (len > HOSTNAME_MAX)
        return 0;
    memcpy(host, s, len + 1);
    return valid_host(host, 0);
}

int pol_value_origin(const char *s, char *buf, const char **expected)
{
    static const char want[] = "an origin: https://host or https://host:port (no path, no trailing slash), \"*\" or \"null\"";
    char host[HOSTNAME_MAX + 1];
    size_t len = strlen(s);
    const char *auth;
    int https, port;

    memcpy(buf, s, len + 1);
    pol_value_lowercase(buf, len);
    if (strcmp(buf, "*") == 0 || strcmp(buf, "null") == 0)
        return 0;
    if ((auth = after_scheme(buf, &https)) == NULL || strpbrk(auth, "/?#@") != NULL)
        return fail(expected, want);
    if (!valid_authority(auth, host, &port))
        return fail(expected, want);
    if (port == (https ? 443 : 80))
        return fail(expected, "an origin without its scheme's default port: browsers never send it");
    return 0;
}

int pol_value_url(const char *s, bulwark_route_proxy_t *u, char *host_buf, char *path_buf, const char **expected)
{
    static const char want[] = "an upstream URL: http://host[:port][/path] or https://... (no user, query or fragment)";
    char auth[HOSTNAME_MAX + 8];
    const char *a, *slash;
    int port;
    size_t alen;

    if ((a = after_scheme(s, &u->https)) == NULL || strpbrk(a, "?#@ ") != NULL)
        return fail(expected, want);
    slash = strchr(a, '/');
    alen = slash ? (size_t)(slash - a) : strlen(a);
    if (alen == 0 || alen >= sizeof(auth))
        return fail(expected, want);
    memcpy(auth, a, alen);
    auth[alen] = '\0';
    pol_value_lowercase(auth, alen);
    if (!valid_authority(auth, host_buf, &port))
        return fail(expected, want);
    u->port = (uint16_t)(port >= 0 ? port : (u->https ? 443 : 80));
    /* path_buf holds at least strlen(s) + 1 bytes (the caller's contract) */
    memcpy(path_buf, slash ? slash : "/", (slash ? strlen(slash) : 1) + 1);
    if (slash != NULL && pol_value_plain_path(path_buf, expected) != 0)
        return fail(expected, want);
    u->host.base = host_buf;
    u->host.len = strlen(host_buf);
    u->path.base = path_buf;
    u->path.len = strlen(path_buf);
    return 0;
}

int pol_value_is_loopback_host(const char *host)
{
    unsigned char addr[16];
    static const unsigned char v6_loopback[16] = {[15] = 1};

    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, addr) == 1)
        return addr[0] == 127;
    if (inet_pton(AF_INET6, host, addr) == 1)
        return memcmp(addr, v6_loopback, sizeof(addr)) == 0;
    return 0;
}

/* ---- CIDR ---- */

static int host_bits_zero(const uint8_t *addr, unsigned bits, unsigned prefix)
{
    unsigned i;

    for (i = prefix; i < bits; i++)
        if (addr[i / 8] & (0x80u >> (i % 8)))
            return 0;
    return 1;
}

int pol_value_cidr(const char *s, bulwark_cidr_t *c, const char **expected)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t len = slash ? (size_t)(slash - s) : strlen(s);
    unsigned bits;
    uint64_t prefix;

    memset(c, 0, sizeof(*c));
    if (len == 0 || len > INET6_ADDRSTRLEN)
        return fail(expected, "an address or CIDR range, e.g. 10.0.0.0/8 or fd00::/8");
    memcpy(addr, s, len);
    addr[len] = '\0';
    if (inet_pton(AF_INET, addr, c->addr) == 1) {
        c->family = 4;
        bits = 32;
    } else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
        c->family = 6;
        bits = 128;
    } else {
        return fail(expected, "an address or CIDR range, e.g. 10.0.0.0/8 or fd00::/8");
    }
    prefix = bits;
    if (slash != NULL && (pol_value_uint(slash + 1, &prefix, expected) != 0 || prefix > bits))
        return fail(expected, "a prefix length of at most 32 (IPv4) or 128 (IPv6) after the /");
    if (!host_bits_zero(c->addr, bits, (unsigned)prefix))
        return fail(expected, "a network address with no bits set past the prefix (e.g. 10.0.0.0/8, not 10.0.0.1/8)");
    c->prefix = (uint8_t)prefix;
    return 0;
}

/* ---- header fields ---- */

int pol_value_is_token(const char *s, size_t len)
{
    static const char tchar_punct[] = "!#$%&'*+-.^_`|~";
    size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!is_digit(c) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && strchr(tchar_punct, c) == NULL)
            return 0;
    }
    return 1;
}

int pol_value_header_name(const char *s, const char **expected)
{
    size_t len = strlen(s);

    if (len > HEADER_NAME_MAX || !pol_value_is_token(s, len))
        return fail(expected, "a header name (RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~)");
    return 0;
}

/* RFC 9110 §5.5: visible ASCII, spaces and tabs inside; we also refuse
 * obs-text, so a value can never carry a byte some client misreads. */
int pol_value_header_value(const char *s, const char **expected)
{
    static const char want[] = "a header value: printable ASCII, no leading or trailing space, at most 4096 bytes";
    size_t len = strlen(s), i;

    if (len == 0 || len > HEADER_VALUE_MAX || s[0] == ' ' || s[len - 1] == ' ')
        return fail(expected, want);
    for (i = 0; i < len; i++)
        if ((s[i] < 0x20 && s[i] != '\t') || (unsigned char)s[i] >= 0x7f)
            return fail(expected, want);
    return 0;
}

int pol_value_media_type(const char *s, const char **expected)
{
    const char *slash = strchr(s, '/');

    if (slash == NULL || !pol_value_is_token(s, (size_t)(slash - s)) || !pol_value_is_token(slash + 1, strlen(slash + 1)))
        return fail(expected, "a media type, e.g. application/json (no parameters)");
    return 0;
}

int pol_value_scope(const char *s, const char **expected)
{
    size_t len = strlen(s), i;

    if (len == 0 || len > 128)
        return fail(expected, "a scope of 1 to 128 characters");
    for (i = 0; i < len; i++)
        if (s[i] <= 0x20 || s[i] == '"' || s[i] == '\\' || (unsigned char)s[i] >= 0x7f)
            return fail(expected, "a scope (RFC 6749 §3.3: printable ASCII, no spaces, quotes or backslashes)");
    return 0;
}

/* ---- paths ---- */

/* RFC 3986 pchar without percent-encoding: h2o matches normalized paths */
static int is_path_char(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c != 0 && strchr("-._~!$&'()+,;=:@", c));
}

static int valid_param_name(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > 32 || is_digit(s[0]))
        return 0;
    for (i = 0; i < len; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '_')
            return 0;
    return 1;
}

static int classify_segment(const char *s, size_t len, bulwark_segment_t *seg)
{
    size_t i;

    seg->text.base = s;
    seg->text.len = len;
    if (len == 1 && s[0] == '*') {
        seg->kind = BULWARK_SEGMENT_REST;
        return 0;
    }
    if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
        seg->kind = BULWARK_SEGMENT_PARAM;
        seg->text.base = s + 1;
        seg->text.len = len - 2;
        return valid_param_name(s + 1, len - 2) ? 0 : -1;
    }
    if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return -1;
    seg->kind = BULWARK_SEGMENT_LITERAL;
    for (i = 0; i < len; i++)
        if (!is_path_char(s[i]))
            return -1;
    return 0;
}

int pol_value_route_path(const char *s, bulwark_segment_t *segs, size_t max, size_t *num, const char **expected)
{
    static const char want[] = "a path: /literal/segments, {param} segments and a final /*; no //, . or .. segments";
    const char *p;

    *num = 0;
    if (s[0] != '/')
        return fail(expected, want);
    if (s[1] == '\0')
        return 0;
    for (p = s + 1;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (*num == max)
            return fail(expected, "a path of at most 16 segments");
        if (classify_segment(p, len, &segs[*num]) != 0)
            return fail(expected, want);
        if (segs[*num].kind == BULWARK_SEGMENT_REST && end != NULL)
            return fail(expected, "a path whose * segment is the last one");
        (*num)++;
        if (end == NULL)
            return 0;
        p = end + 1;
    }
}

int pol_value_plain_path(const char *s, const char **expected)
{
    size_t i;

    if (s[0] != '/' || strstr(s, "//") != NULL || strstr(s, "/./") != NULL || strstr(s, "/../") != NULL)
        return fail(expected, "a path starting with / (no //, . or .. segments)");
    for (i = 1; s[i]; i++)
        if (!is_path_char(s[i]) && s[i] != '/')
            return fail(expected, "a path of letters, digits and -._~!$&'()+,;=:@ between slashes");
    return 0;
}

int pol_value_secret_path(const char *s, const char **expected)
{
    static const char want[] = "a file path (relative to secrets.mount, or absolute) without ., .. or empty components";
    const char *p = s[0] == '/' ? s + 1 : s;

    if (*p == '\0')
        return fail(expected, want);
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return fail(expected, want);
        if (end == NULL)
            return 0;
        p = end + 1;
    }
}
