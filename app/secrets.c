/*
 * Secret files; see secrets.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mbedtls/platform_util.h>
#include "secrets.h"

struct memory_file {
    char name[BULWARK_SECRET_NAME_MAX + 1];
    bulwark_secret_t data;
};

/* Written by PID 1 before the serving process exists, read-only after. */
static struct {
    char *mount; /* NULL: read from the file system */
    struct memory_file *files;
    size_t count;
} memory;

const char *bulwark_secret_error(int code)
{
    if (code == BULWARK_SECRET_NOT_REGULAR)
        return "not a regular file";
    if (code == EFBIG)
        return "file too large";
    return strerror(code);
}

void bulwark_secret_free(bulwark_secret_t *s)
{
    if (s->bytes != NULL) {
        mbedtls_platform_zeroize(s->bytes, s->len + 1);
        free(s->bytes);
    }
    s->bytes = NULL;
    s->len = 0;
}

static int copy_bytes(const void *bytes, size_t len, bulwark_secret_t *out)
{
    if ((out->bytes = malloc(len + 1)) == NULL)
        return ENOMEM;
    memcpy(out->bytes, bytes, len);
    out->bytes[len] = '\0';
    out->len = len;
    return 0;
}

/* "<mount>/<name>" -> name, or NULL for any other path */
static const char *name_in_mount(const char *path)
{
    size_t mlen = strlen(memory.mount);

    if (strncmp(path, memory.mount, mlen) != 0 || path[mlen] != '/')
        return NULL;
    path += mlen + 1;
    return strchr(path, '/') == NULL ? path : NULL;
}

static int read_memory(const char *path, size_t max, bulwark_secret_t *out)
{
    const char *name = name_in_mount(path);

    if (name == NULL)
        return ENOENT;
    for (size_t i = 0; i != memory.count; ++i) {
        if (strcmp(memory.files[i].name, name) != 0)
            continue;
        if (memory.files[i].data.len > max)
            return EFBIG;
        return copy_bytes(memory.files[i].data.bytes, memory.files[i].data.len, out);
    }
    return ENOENT;
}

static int read_fd(int fd, size_t max, bulwark_secret_t *out)
{
    struct stat st;
    size_t got = 0, size;
    int saved;

    if (fstat(fd, &st) != 0)
        return errno;
    if (!S_ISREG(st.st_mode))
        return S_ISDIR(st.st_mode) ? EISDIR : BULWARK_SECRET_NOT_REGULAR;
    if (st.st_size < 0 || (unsigned long long)st.st_size > max)
        return EFBIG;
    size = (size_t)st.st_size;
    if ((out->bytes = calloc(1, size + 1)) == NULL)
        return ENOMEM;
    errno = 0;
    while (got < size) {
        ssize_t n = read(fd, out->bytes + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    saved = errno;
    out->len = got;
    if (got != size) {
        bulwark_secret_free(out);
        return saved != 0 ? saved : EIO;
    }
    return 0;
}

int bulwark_secret_read(const char *path, size_t max, bulwark_secret_t *out)
{
    int fd, ret;

    out->bytes = NULL;
    out->len = 0;
    if (memory.mount != NULL)
        return read_memory(path, max, out);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
        return errno;
    ret = read_fd(fd, max, out);
    close(fd);
    return ret;
}

int bulwark_secrets_memory_add(const char *mount, const char *name, const void *bytes, size_t len)
{
    struct memory_file *grown;

    if (strchr(name, '/') != NULL || strlen(name) > BULWARK_SECRET_NAME_MAX || name[0] == '\0')
        return -1;
    if (memory.mount == NULL) {
        if ((memory.mount = strdup(mount)) == NULL)
            return -1;
    } else if (strcmp(memory.mount, mount) != 0) {
        return -1;
    }
    if ((grown = realloc(memory.files, (memory.count + 1) * sizeof(*grown))) == NULL)
        return -1;
    memory.files = grown;
    memset(grown + memory.count, 0, sizeof(*grown));
    memcpy(grown[memory.count].name, name, strlen(name) + 1); /* length checked above */
    if (copy_bytes(bytes, len, &grown[memory.count].data) != 0)
        return -1;
    ++memory.count;
    return 0;
}

size_t bulwark_secrets_memory_count(void)
{
    return memory.count;
}

void bulwark_secrets_memory_clear(void)
{
    for (size_t i = 0; i != memory.count; ++i)
        bulwark_secret_free(&memory.files[i].data);
    free(memory.files);
    free(memory.mount);
    memset(&memory, 0, sizeof(memory));
}
