/*
 * JSON lines on stdout: structured events and the access log.
 *
 * A line is built in a caller-owned buffer (no allocation) and leaves the
 * process in one write(2), so lines written by different event-loop threads
 * never interleave.  An event-loop thread batches: its lines are kept (in
 * order, whole, at most BULWARK_LOG_LINE_MAX bytes together) and written in
 * one write(2) when its loop has finished the work at hand, so that a busy
 * loop does not make a system call per request.  Every string value is escaped; a value that does not fit
 * is cut short, and the line stays valid JSON.
 */
#ifndef BULWARK_LOG_H
#define BULWARK_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* PIPE_BUF on Linux: a write(2) of at most this many bytes to a pipe is
 * atomic, so lines stay whole even when stdout is a pipe shared by threads. */
#define BULWARK_LOG_LINE_MAX 4096

/* "2024-05-01T12:34:56.789Z": RFC 3339, UTC, milliseconds */
#define BULWARK_LOG_TS_LEN 24

typedef struct st_bulwark_json_t {
    char *buf;
    size_t len;
    size_t cap;
    int members;
    int truncated;
} bulwark_json_t;

void bulwark_json_init(bulwark_json_t *j, char *buf, size_t cap);
/* opens the object with "ts" (now) and "event" */
void bulwark_json_begin_event(bulwark_json_t *j, const char *event);
void bulwark_json_str(bulwark_json_t *j, const char *key, const char *s, size_t len);
/* NUL-terminated string, or null when s is NULL */
void bulwark_json_cstr(bulwark_json_t *j, const char *key, const char *s);
void bulwark_json_int(bulwark_json_t *j, const char *key, long long value);
/* a duration in microseconds as milliseconds with three decimals */
void bulwark_json_millis(bulwark_json_t *j, const char *key, int64_t usec);
void bulwark_json_str_array(bulwark_json_t *j, const char *key, const char *const *items, size_t count);
/* closes the object and writes the line to stdout (or to the thread's
 * batch) */
void bulwark_log_emit(bulwark_json_t *j);

/* From now on the calling thread's lines are batched: schedule(arg) is
 * called when a line goes into an empty batch, and must make the thread
 * call bulwark_log_flush soon (the event loop's next turn).  A batch that
 * would outgrow BULWARK_LOG_LINE_MAX is flushed first. */
void bulwark_log_batch_begin(void (*schedule)(void *), void *arg);
/* writes the calling thread's batched lines, if any */
void bulwark_log_flush(void);
/* flushes and stops batching on the calling thread */
void bulwark_log_batch_end(void);

/* a line holding only ts and event */
void bulwark_log_event(const char *event);

/* Escapes src (any bytes) as the inside of a JSON string into dst, writing at
 * most cap bytes and never splitting an escape; returns the bytes written.
 * Invalid UTF-8 becomes \ufffd, control characters \u00XX. */
size_t bulwark_json_escape(char *dst, size_t cap, const char *src, size_t len);
/* the most bytes bulwark_json_escape can write for len input bytes */
#define BULWARK_JSON_ESCAPED_MAX(len) ((len)*6)

/* writes BULWARK_LOG_TS_LEN characters and a NUL */
void bulwark_log_timestamp(char *dst, const struct timespec *at);

#endif
