/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed hash for hash tables whose keys come from clients.  With a
 * secret random key an attacker cannot choose inputs that collide, so he
 * cannot pile his keys into one bucket or onto another client's entry.
 */
#ifndef BULWARK_RATELIMIT_SIPHASH_H
#define BULWARK_RATELIMIT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define BULWARK_SIPHASH_KEY_SIZE 16

uint64_t bulwark_siphash24(const uint8_t key[BULWARK_SIPHASH_KEY_SIZE], const void *data, size_t len);

#endif
