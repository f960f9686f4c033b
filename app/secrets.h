/*
 * Secret files (TLS key and chain, JWT keys, users): one reader for all.
 *
 * Natively a secret is read from the file system.  In the appliance, PID 1
 * reads the secrets volume into memory, unmounts it and only then starts the
 * serving process, whose file system is empty: there the reader serves the
 * copies PID 1 registered (bulwark_secrets_memory_add) and never opens a file.
 * Either way the caller sees the same bytes and the same errors.
 */
#ifndef BULWARK_SECRETS_H
#define BULWARK_SECRETS_H

#include <stddef.h>

/* bulwark_secret_read's failure besides errno values (ENOENT, EACCES,
 * EISDIR, EFBIG for larger than max, ...) */
#define BULWARK_SECRET_NOT_REGULAR (-1)

/* the longest file name the in-memory volume holds */
#define BULWARK_SECRET_NAME_MAX 255

typedef struct st_bulwark_secret_t {
    unsigned char *bytes; /* len bytes and a NUL (PEM parsers want it) */
    size_t len;
} bulwark_secret_t;

/* Reads the whole secret at path, at most max bytes.  Returns 0, or an errno
 * value or BULWARK_SECRET_NOT_REGULAR with *out left empty. */
int bulwark_secret_read(const char *path, size_t max, bulwark_secret_t *out);

/* the reason for a code of bulwark_secret_read, e.g. "file too large" */
const char *bulwark_secret_error(int code);

/* wipes and frees the bytes; safe on an empty secret */
void bulwark_secret_free(bulwark_secret_t *s);

/* Registers a copy of the file `name` of the volume mounted at `mount`.
 * From the first call on, bulwark_secret_read answers from memory only:
 * "<mount>/<name>" is found, every other path is ENOENT.
 * Returns 0, or -1 (out of memory, name with '/', too long, mounts differ). */
int bulwark_secrets_memory_add(const char *mount, const char *name, const void *bytes, size_t len);

/* the number of files registered */
size_t bulwark_secrets_memory_count(void);

/* wipes and forgets every registered copy (the reader goes back to files) */
void bulwark_secrets_memory_clear(void);

#endif
