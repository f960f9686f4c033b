/*
 * Strict base64 (RFC 4648): the URL-safe alphabet without padding for JOSE
 * (RFC 7515 §2, Appendix C), and the standard alphabet with padding for the
 * password hash strings.
 *
 * The decoders accept exactly one spelling of each byte string: characters
 * outside the alphabet, whitespace, misplaced or missing padding and
 * non-zero trailing bits are all errors. A token whose segment had two
 * spellings would verify under a signature computed over the other one, and
 * a decoder that skipped junk would let filters and the verifier disagree.
 */
#ifndef BULWARK_CRYPTO_BASE64_H
#define BULWARK_CRYPTO_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* characters needed for n bytes, without the NUL */
#define BULWARK_BASE64URL_LEN(n) (((n) / 3) * 4 + ((n) % 3 == 0 ? 0 : (n) % 3 + 1))
#define BULWARK_BASE64_LEN(n) ((((n) + 2) / 3) * 4)
/* bytes that a string of n characters can decode to, at most */
#define BULWARK_BASE64_DECODED_MAX(n) (((n) / 4) * 3 + 2)

/* Encodes len bytes into dst and NUL-terminates it; *outlen gets the length
 * without the NUL. Returns 0, or -1 when cap cannot hold it (dst is then
 * an empty string when cap > 0). */
int bulwark_base64url_encode(char *dst, size_t cap, size_t *outlen, const uint8_t *src, size_t len);
int bulwark_base64_encode(char *dst, size_t cap, size_t *outlen, const uint8_t *src, size_t len);

/* Decodes len characters into dst (cap bytes); *outlen gets the byte count.
 * Returns 0, or -1 for any non-canonical input or when cap is too small. */
int bulwark_base64url_decode(uint8_t *dst, size_t cap, size_t *outlen, const char *src, size_t len);
int bulwark_base64_decode(uint8_t *dst, size_t cap, size_t *outlen, const char *src, size_t len);

#endif
