/*
 * Private to app/policy: the policy's value syntaxes (durations, sizes,
 * hosts, origins, addresses, CIDRs, URLs, header fields, path patterns).
 *
 * Each parser takes a NUL-terminated string and returns 0, or -1 with
 * *expected set to a static phrase that completes "expected ..." in the
 * loader's message.
 */
#ifndef BULWARK_POLICY_VALUES_H
#define BULWARK_POLICY_VALUES_H

#include <stddef.h>
#include <stdint.h>
#include "policy.h"

/* RFC 1035 §2.3.4 */
#define HOSTNAME_MAX 253
#define LABEL_MAX 63
/* RFC 9110 leaves field lengths open; 4 KiB holds any sensible CSP. */
#define HEADER_VALUE_MAX 4096
#define HEADER_NAME_MAX 64

/* "30s", "250ms", "10m", "1h", "7d" -> milliseconds */
int pol_value_duration_ms(const char *s, uint64_t *ms, const char **expected);
/* "1048576", "512B", "8KiB", "1MiB", "1GiB" -> bytes */
int pol_value_size(const char *s, uint64_t *bytes, const char **expected);
/* a decimal integer without sign, leading zeros or spaces */
int pol_value_uint(const char *s, uint64_t *n, const char **expected);

/* A host pattern of `hosts`: name, *.suffix, IPv4, [IPv6] or "*".  The text
 * is written lowercase (canonical for IPv6) into buf (HOSTNAME_MAX + 3). */
int pol_value_host_pattern(const char *s, bulwark_host_pattern_t *h, char *buf, const char **expected);
/* a hostname (RFC 1123 labels), lowercase expected */
int pol_value_hostname(const char *s, size_t len);

/* An origin as browsers send it: "https://host[:port]", "*" or "null".
 * Writes the lowercase form into buf (at least strlen(s) + 1). */
int pol_value_origin(const char *s, char *buf, const char **expected);

/* "0.0.0.0:443", "[::]:443" (numeric only) */
int pol_value_listen_address(const char *s, const char **expected);
/* "host:port" with a host name, IPv4 or [IPv6] */
int pol_value_host_port(const char *s, const char **expected);

/* "10.0.0.0/8", "fd00::/8", or one address (/32, /128) */
int pol_value_cidr(const char *s, bulwark_cidr_t *c, const char **expected);

/* "http[s]://host[:port][/path]": host into host_buf (HOSTNAME_MAX + 1),
 * path into path_buf (strlen(s) + 2). */
int pol_value_url(const char *s, bulwark_route_proxy_t *u, char *host_buf, char *path_buf, const char **expected);
/* the URL's host is a loopback address or "localhost" */
int pol_value_is_loopback_host(const char *host);

/* RFC 9110 §5.1 token */
int pol_value_is_token(const char *s, size_t len);
int pol_value_header_name(const char *s, const char **expected);
int pol_value_header_value(const char *s, const char **expected);
/* "type/subtype", lowercase expected */
int pol_value_media_type(const char *s, const char **expected);
/* RFC 6749 §3.3 scope-token */
int pol_value_scope(const char *s, const char **expected);

/* A route path: "/", "/api/items/{id}", or one ending in a "*" segment.
 * Segment texts point into `s`, which must outlive them; `segs` holds at least max entries. */
int pol_value_route_path(const char *s, bulwark_segment_t *segs, size_t max, size_t *num, const char **expected);
/* a literal path or prefix: "/" followed by path characters */
int pol_value_plain_path(const char *s, const char **expected);

/* A path on the secrets volume, relative to it or absolute: no "." or ".."
 * components, no empty ones. */
int pol_value_secret_path(const char *s, const char **expected);

void pol_value_lowercase(char *s, size_t len);

#endif
