/*
 * What a limit counts by, as a short byte string: the same client always
 * makes the same key, different kinds never make the same key.  Stores hash
 * these bytes as they see fit (the local store with a per-process secret; a
 * store shared by many instances needs a key they all compute alike, which is
 * why no per-process secret goes in here).
 *
 *   'a' 4  a.b.c.d                    IPv4 client: the whole address (/32)
 *   'a' 6  16 bytes, host bits zero   IPv6 client: its first ipv6_prefix bits
 *                                     (one host or site holds a whole /64)
 *   'a' 0                             no usable address (never expected)
 *   's' subject                       a verified token's `sub`
 *   'h' value                         a request header's value
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a dual-stack listener
 * reports for IPv4 peers) are keyed as the IPv4 address: grouped by /64 they
 * would put every IPv4 client in one bucket.
 */
#ifndef BULWARK_RATELIMIT_KEY_H
#define BULWARK_RATELIMIT_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Subjects and header values are keyed by at most their first this many
 * bytes: the key stays small whatever a client sends.  Values that agree on
 * their first 256 bytes share one budget, which only ever makes a limit
 * stricter for whoever sends them. */
#define BULWARK_RL_KEY_VALUE_MAX 256
/* the kind byte and the value */
#define BULWARK_RL_KEY_MAX (1 + BULWARK_RL_KEY_VALUE_MAX)

typedef struct st_bulwark_rl_key_t {
    size_t len;
    uint8_t bytes[BULWARK_RL_KEY_MAX];
} bulwark_rl_key_t;

/* ipv6_prefix: 0..128 bits (the policy allows 32..128) */
void bulwark_rl_key_address(bulwark_rl_key_t *key, const struct sockaddr *sa, unsigned ipv6_prefix);
void bulwark_rl_key_subject(bulwark_rl_key_t *key, const char *subject, size_t len);
void bulwark_rl_key_header(bulwark_rl_key_t *key, const char *value, size_t len);

#endif
