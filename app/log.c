/*
 * JSON lines on stdout; see log.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "log.h"

/* room kept for the closing "}\n" whatever the members wrote */
#define LINE_CLOSING_RESERVE 2

static const char hexdigits[] = "0123456789abcdef";

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if there is none. */
static size_t utf8_sequence_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; ++i)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

/* the escaped form of the ASCII byte c into out; returns its length */
static size_t escape_ascii(char out[6], unsigned char c)
{
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): 4 bytes of an escape, the length is returned */
        memcpy(out, "\\u00", 4);
        out[4] = hexdigits[c >> 4];
        out[5] = hexdigits[c & 0xf];
        return 6;
    }
    out[0] = (char)c;
    return 1;
}

/* printable ASCII that needs no escape in a JSON string */
static int is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static size_t escape_into(char *dst, size_t cap, const char *src, size_t len, size_t *consumed_out)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t in = 0, out = 0;

    while (in < len) {
        char tmp[6];
        const char *piece = tmp;
        size_t piece_len, consumed;

        if (is_plain(s[in])) {
            /* a run of bytes that stand for themselves, copied at once */
            size_t end = in + 1;
            while (end < len && is_plain(s[end]))
                ++end;
            size_t n = end - in < cap - out ? end - in : cap - out;
            if (n == 0)
                break;
            memcpy(dst + out, s + in, n);
            out += n;
            in += n;
            continue;
        }
        if (s[in] < 0x80) {
            piece_len = escape_ascii(tmp, s[in]);
            consumed = 1;
        } else if ((consumed = utf8_sequence_len(s + in, len - in)) != 0) {
            piece = (const char *)s + in;
            piece_len = consumed;
        } else {
            piece = "\\ufffd";
            piece_len = 6;
            consumed = 1;
        }
        if (out + piece_len > cap)
            break;
        memcpy(dst + out, piece, piece_len);
        out += piece_len;
        in += consumed;
    }
    *consumed_out = in;
    return out;
}

size_t bulwark_json_escape(char *dst, size_t cap, const char *src, size_t len)
{
    size_t consumed;
    return escape_into(dst, cap, src, len, &consumed);
}

/* writes value as exactly `digits` decimal digits */
static char *put_digits(char *p, unsigned value, int digits)
{
    for (int i = digits - 1; i >= 0; --i) {
        p[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return p + digits;
}

void bulwark_log_timestamp(char *dst, const struct timespec *at)
{
    struct tm tm;
    char *p = dst;

    gmtime_r(&at->tv_sec, &tm);
    p = put_digits(p, (unsigned)(tm.tm_year + 1900), 4);
    *p++ = '-';
    p = put_digits(p, (unsigned)(tm.tm_mon + 1), 2);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)tm.tm_min, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)tm.tm_sec, 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)(at->tv_nsec / 1000000), 3);
    *p++ = 'Z';
    *p = '\0';
}

void bulwark_json_init(bulwark_json_t *j, char *buf, size_t cap)
{
    *j = (bulwark_json_t){.buf = buf, .cap = cap - LINE_CLOSING_RESERVE};
    j->buf[j->len++] = '{';
}

static size_t room(const bulwark_json_t *j)
{
    return j->cap - j->len;
}

static int put_raw(bulwark_json_t *j, const char *s, size_t len)
{
    if (len > room(j)) {
        j->truncated = 1;
        return -1;
    }
    memcpy(j->buf + j->len, s, len);
    j->len += len;
    return 0;
}

/* writes `,"key":` (comma only after the first member) */
static int put_key(bulwark_json_t *j, const char *key)
{
    size_t mark = j->len;

    if ((j->members != 0 && put_raw(j, ",", 1) != 0) || put_raw(j, "\"", 1) != 0 || put_raw(j, key, strlen(key)) != 0 ||
        put_raw(j, "\":", 2) != 0) {
        j->len = mark;
        return -1;
    }
    ++j->members;
    return 0;
}

/* a quoted, escaped string; cut short (still closed) when the line is full */
static void put_string(bulwark_json_t *j, const char *s, size_t len)
{
    size_t consumed;

    if (room(j) < 2) {
        j->truncated = 1;
        return;
    }
    j->buf[j->len++] = '"';
    j->len += escape_into(j->buf + j->len, room(j) - 1, s, len, &consumed);
    if (consumed != len)
        j->truncated = 1;
    j->buf[j->len++] = '"';
}

void bulwark_json_begin_event(bulwark_json_t *j, const char *event)
{
    char ts[BULWARK_LOG_TS_LEN + 1];
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    bulwark_log_timestamp(ts, &now);
    bulwark_json_str(j, "ts", ts, BULWARK_LOG_TS_LEN);
    bulwark_json_cstr(j, "event", event);
}

void bulwark_json_str(bulwark_json_t *j, const char *key, const char *s, size_t len)
{
    if (put_key(j, key) == 0)
        put_string(j, s, len);
}

void bulwark_json_cstr(bulwark_json_t *j, const char *key, const char *s)
{
    if (s == NULL) {
        if (put_key(j, key) == 0)
            put_raw(j, "null", 4);
        return;
    }
    bulwark_json_str(j, key, s, strlen(s));
}

/* Decimal digits of v into the end of buf; returns where they start.
 * Hand-rolled because the access log runs once per request: musl's
 * snprintf clears kilobytes of locals per call under
 * -ftrivial-auto-var-init=zero, which showed as ~15% of a request's CPU. */
static char *format_u64(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

void bulwark_json_int(bulwark_json_t *j, const char *key, long long value)
{
    char num[24], *end = num + sizeof(num), *p;
    uint64_t mag = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;

    p = format_u64(end, mag);
    if (value < 0)
        *--p = '-';
    if (put_key(j, key) == 0)
        put_raw(j, p, (size_t)(end - p));
}

void bulwark_json_millis(bulwark_json_t *j, const char *key, int64_t usec)
{
    char num[32], *end = num + sizeof(num), *p = end;

    if (usec < 0)
        usec = 0;
    p -= 3;
    put_digits(p, (unsigned)(usec % 1000), 3);
    *--p = '.';
    p = format_u64(p, (uint64_t)usec / 1000);
    if (put_key(j, key) == 0)
        put_raw(j, p, (size_t)(end - p));
}

void bulwark_json_str_array(bulwark_json_t *j, const char *key, const char *const *items, size_t count)
{
    size_t mark = j->len;
    int members = j->members;

    if (put_key(j, key) != 0 || put_raw(j, "[", 1) != 0 || room(j) < 1) {
        j->len = mark;
        j->members = members;
        return;
    }
    --j->cap; /* keeps a place for the closing bracket */
    for (size_t i = 0; i != count; ++i) {
        if (i != 0 && put_raw(j, ",", 1) != 0)
            break;
        put_string(j, items[i], strlen(items[i]));
    }
    ++j->cap;
    put_raw(j, "]", 1);
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len != 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere to report a failing log; never block serving on it */
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* The calling thread's batch (see bulwark_log_batch_begin).  Whole lines,
 * at most BULWARK_LOG_LINE_MAX bytes, so that one batch is one atomic
 * write(2) to a pipe, as a single line was. */
static _Thread_local struct {
    int on;
    size_t len;
    void (*schedule)(void *);
    void *arg;
    char buf[BULWARK_LOG_LINE_MAX];
} batch;

void bulwark_log_batch_begin(void (*schedule)(void *), void *arg)
{
    batch.on = 1;
    batch.len = 0;
    batch.schedule = schedule;
    batch.arg = arg;
}

void bulwark_log_flush(void)
{
    if (batch.len != 0)
        write_all(STDOUT_FILENO, batch.buf, batch.len);
    batch.len = 0;
}

void bulwark_log_batch_end(void)
{
    bulwark_log_flush();
    batch.on = 0;
}

void bulwark_log_emit(bulwark_json_t *j)
{
    /* bulwark_json_init kept LINE_CLOSING_RESERVE bytes for this */
    j->buf[j->len++] = '}';
    j->buf[j->len++] = '\n';
    if (!batch.on || j->len > sizeof(batch.buf)) {
        bulwark_log_flush(); /* keeps the thread's lines in order */
        write_all(STDOUT_FILENO, j->buf, j->len);
        return;
    }
    if (batch.len + j->len > sizeof(batch.buf))
        bulwark_log_flush();
    if (batch.len == 0)
        batch.schedule(batch.arg);
    memcpy(batch.buf + batch.len, j->buf, j->len);
    batch.len += j->len;
}

void bulwark_log_event(const char *event)
{
    char buf[256];
    bulwark_json_t j;

    bulwark_json_init(&j, buf, sizeof(buf));
    bulwark_json_begin_event(&j, event);
    bulwark_log_emit(&j);
}
