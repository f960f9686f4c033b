/*
 * Strict base64 and base64url; see base64.h.
 *
 * Table-free decoding by character ranges: the input is public (tokens,
 * stored hash strings), so the data-dependent branches leak nothing secret.
 */
#include <string.h>
#include "base64.h"

static const char alphabet_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alphabet_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* the 6-bit value of c in the chosen alphabet, or -1 */
static int sextet(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static size_t encode_body(char *dst, const char *alphabet, const uint8_t *src, size_t len)
{
    size_t out = 0, i = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[out++] = alphabet[v >> 18];
        dst[out++] = alphabet[(v >> 12) & 63];
        dst[out++] = alphabet[(v >> 6) & 63];
        dst[out++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        dst[out++] = alphabet[src[i] >> 2];
        dst[out++] = alphabet[(src[i] & 3) << 4];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)src[i] << 8 | src[i + 1];
        dst[out++] = alphabet[v >> 10];
        dst[out++] = alphabet[(v >> 4) & 63];
        dst[out++] = alphabet[(v & 15) << 2];
    }
    return out;
}

int bulwark_base64url_encode(char *dst, size_t cap, size_t *outlen, const uint8_t *src, size_t len)
{
    size_t need = BULWARK_BASE64URL_LEN(len);

    if (cap > 0)
        dst[0] = '\0';
    if (len > (SIZE_MAX - 4) / 4 * 3 || cap <= need)
        return -1;
    *outlen = encode_body(dst, alphabet_url, src, len);
    dst[*outlen] = '\0';
    return 0;
}

int bulwark_base64_encode(char *dst, size_t cap, size_t *outlen, const uint8_t *src, size_t len)
{
    size_t need = BULWARK_BASE64_LEN(len), n;

    if (cap > 0)
        dst[0] = '\0';
    if (len > (SIZE_MAX - 4) / 4 * 3 || cap <= need)
        return -1;
    n = encode_body(dst, alphabet_std, src, len);
    while (n % 4 != 0)
        dst[n++] = '=';
    dst[n] = '\0';
    *outlen = n;
    return 0;
}

/* Decodes unpadded input. A final group of 2 or 3 characters carries 4 or 2
 * bits beyond the last whole byte: they must be zero (RFC 4648 §3.5), or
 * several strings would decode to the same bytes. */
static int decode_unpadded(uint8_t *dst, size_t cap, size_t *outlen, const char *src, size_t len, int url)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t tail = len % 4, out = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (tail == 1 || (len / 4) * 3 + (tail ? tail - 1 : 0) > cap)
        return -1;
    for (size_t i = 0; i < len; ++i) {
        int v = sextet(s[i], url);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[out++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1;
    *outlen = out;
    return 0;
}

int bulwark_base64url_decode(uint8_t *dst, size_t cap, size_t *outlen, const char *src, size_t len)
{
    return decode_unpadded(dst, cap, outlen, src, len, 1);
}

/* Padding is required (a multiple of 4 characters) and only at the end:
 * one '=' after 3 characters of the last group, two after 2. */
int bulwark_base64_decode(uint8_t *dst, size_t cap, size_t *outlen, const char *src, size_t len)
{
    size_t pad = 0;

    if (len % 4 != 0)
        return -1;
    while (pad < 2 && pad < len && src[len - 1 - pad] == '=')
        ++pad;
    return decode_unpadded(dst, cap, outlen, src, len - pad, 0);
}
