/*
 * Finding, checking and loading the secrets volume; see internal.h.
 *
 * Every rule the volume must meet (DESIGN.md, "Secrets volume") is checked
 * here, before any byte of it is used: the root directory and every file
 * owned by the service user, directory 0500, files 0400, regular files only
 * (no symlinks, devices, FIFOs, sockets or subdirectories), each at most
 * 1 MiB, at most 64 of them.  image/mksecrets makes volumes that pass.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <mbedtls/platform_util.h>
#include "init.h"
#include "internal.h"
#include "secrets.h"

#define EROFS_SUPER_OFFSET 1024
#define EROFS_MAGIC 0xE0F5E1E2u
#define EROFS_VOLUME_NAME_OFFSET 64
#define EROFS_VOLUME_NAME_LEN 16
#define SECRET_SIZE_MAX (1024 * 1024)
#define SECRET_FILES_MAX 64
#define POLL_MS 100

/* Flawfinder: ignore (every use passes a literal format) */
#define say(buf, len, ...) snprintf((buf), (len), __VA_ARGS__)

/* 1 when the device at path holds an EROFS filesystem labelled SECRETS_LABEL */
static int has_label(const char *path)
{
    unsigned char sb[EROFS_VOLUME_NAME_OFFSET + EROFS_VOLUME_NAME_LEN];
    char name[EROFS_VOLUME_NAME_LEN + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ssize_t n;

    if (fd == -1)
        return 0;
    n = pread(fd, sb, sizeof(sb), EROFS_SUPER_OFFSET);
    close(fd);
    if (n != (ssize_t)sizeof(sb))
        return 0;
    if (((uint32_t)sb[0] | (uint32_t)sb[1] << 8 | (uint32_t)sb[2] << 16 | (uint32_t)sb[3] << 24) != EROFS_MAGIC)
        return 0;
    memcpy(name, sb + EROFS_VOLUME_NAME_OFFSET, EROFS_VOLUME_NAME_LEN);
    name[EROFS_VOLUME_NAME_LEN] = '\0';
    return strcmp(name, SECRETS_LABEL) == 0;
}

static void append_name(char *list, size_t cap, const char *name)
{
    size_t len = strlen(list);

    if (len + strlen(name) + 3 < cap)
        snprintf(list + len, cap - len, "%s%s", len == 0 ? "" : ", ", name);
}

/* One pass over the block devices: the number carrying the label (the first
 * one's /dev path in device), and the names seen. */
static int scan(char *device, size_t devlen, char *seen, size_t seenlen, char *matches, size_t matcheslen)
{
    DIR *d = opendir("/sys/class/block");
    struct dirent *e;
    char path[300];
    int found = 0;

    seen[0] = '\0';
    matches[0] = '\0';
    if (d == NULL)
        return 0;
    /* PID 1 is single-threaded */
    while ((e = readdir(d)) != NULL) { // cppcheck-suppress readdirCalled
        if (e->d_name[0] == '.')
            continue;
        append_name(seen, seenlen, e->d_name);
        snprintf(path, sizeof(path), "/dev/%s", e->d_name);
        if (!has_label(path))
            continue;
        if (found++ == 0)
            snprintf(device, devlen, "%s", path);
        append_name(matches, matcheslen, e->d_name);
    }
    closedir(d);
    return found;
}

static int find_volume(unsigned wait_ms, char *device, size_t devlen, char *why, size_t whylen)
{
    char seen[256], matches[256];
    struct timespec pause = {0, POLL_MS * 1000000L};

    for (unsigned waited = 0;; waited += POLL_MS) {
        int found = scan(device, devlen, seen, sizeof(seen), matches, sizeof(matches));
        if (found == 1)
            return 0;
        if (found > 1) {
            say(why, whylen, "%d block devices carry the label %s (%s): attach exactly one secrets volume", found,
                SECRETS_LABEL, matches);
            return -1;
        }
        if (waited >= wait_ms)
            break;
        nanosleep(&pause, NULL);
    }
    say(why, whylen,
        "no secrets volume: no block device holds an EROFS filesystem labelled %s after %u s (block devices: %s); "
        "attach the volume image/mksecrets made",
        SECRETS_LABEL, wait_ms / 1000, seen[0] != '\0' ? seen : "none");
    return -1;
}

static const char *kind_of(mode_t mode)
{
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISDIR(mode))
        return "a directory (the volume holds files only, no subdirectories)";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device node";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

static int owner_ok(const struct stat *st)
{
    return st->st_uid == BULWARK_SERVICE_UID && st->st_gid == BULWARK_SERVICE_GID;
}

static int check_root(const char *mount, char *why, size_t whylen)
{
    struct stat st;

    if (lstat(mount, &st) != 0) {
        say(why, whylen, "cannot stat the volume's root directory: %s", strerror(errno));
        return -1;
    }
    if (!owner_ok(&st)) {
        say(why, whylen, "root directory owned by uid %u gid %u; it must be uid %d gid %d (the service user)",
            (unsigned)st.st_uid, (unsigned)st.st_gid, BULWARK_SERVICE_UID, BULWARK_SERVICE_GID);
        return -1;
    }
    if ((st.st_mode & 07777) != 0500) {
        say(why, whylen, "root directory has mode %04o; it must be 0500 (readable by the service user only)",
            (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

static int name_ok(const char *name)
{
    if (strlen(name) > BULWARK_SECRET_NAME_MAX)
        return 0;
    for (const char *p = name; *p != '\0'; ++p)
        if (*p < 0x21 || *p > 0x7e)
            return 0;
    return 1;
}

/* 0, or -1 with the rule the entry breaks in why */
static int check_entry(const char *name, const struct stat *st, char *why, size_t whylen)
{
    if (!name_ok(name)) {
        say(why, whylen, "file name is not printable ASCII without spaces");
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        say(why, whylen, "is %s; secrets must be regular files", kind_of(st->st_mode));
        return -1;
    }
    if (!owner_ok(st)) {
        say(why, whylen, "owned by uid %u gid %u; it must be uid %d gid %d (the service user)", (unsigned)st->st_uid,
            (unsigned)st->st_gid, BULWARK_SERVICE_UID, BULWARK_SERVICE_GID);
        return -1;
    }
    if ((st->st_mode & 07777) != 0400) {
        say(why, whylen, "has mode %04o; it must be 0400 (readable by the service user only)",
            (unsigned)(st->st_mode & 07777));
        return -1;
    }
    if (st->st_size > SECRET_SIZE_MAX) {
        say(why, whylen, "is %lld bytes; a secret may have at most 1 MiB", (long long)st->st_size);
        return -1;
    }
    return 0;
}

/* reads the checked file at dirfd/name whole and registers the copy */
static int load_entry(int dirfd, const char *mount, const char *name, size_t size, char *why, size_t whylen)
{
    unsigned char *buf = malloc(size + 1);
    size_t got = 0;
    int fd, ret = -1;

    if (buf == NULL) {
        say(why, whylen, "out of memory");
        return -1;
    }
    if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)) == -1) {
        say(why, whylen, "cannot open: %s", strerror(errno));
        goto Exit;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != size) {
        say(why, whylen, "cannot read: %s", got < size && errno != 0 ? strerror(errno) : "short read");
        goto Exit;
    }
    if (bulwark_secrets_memory_add(mount, name, buf, size) != 0) {
        say(why, whylen, "cannot keep it in memory");
        goto Exit;
    }
    ret = 0;
Exit:
    mbedtls_platform_zeroize(buf, size + 1);
    free(buf);
    return ret;
}

static int load_all(const char *mount, struct init_volume *vol, char *file, size_t filelen, char *why,
                    size_t whylen)
{
    DIR *d;
    struct dirent *e;
    struct stat st;
    int ret = 0;

    if (check_root(mount, why, whylen) != 0) {
        snprintf(file, filelen, "%s", mount);
        return -1;
    }
    if ((d = opendir(mount)) == NULL) {
        snprintf(file, filelen, "%s", mount);
        say(why, whylen, "cannot list the volume: %s", strerror(errno));
        return -1;
    }
    /* PID 1 is single-threaded */
    while (ret == 0 && (e = readdir(d)) != NULL) { // cppcheck-suppress readdirCalled
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(file, filelen, "%s/%s", mount, e->d_name);
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            say(why, whylen, "cannot stat: %s", strerror(errno));
            ret = -1;
        } else if (vol->files == SECRET_FILES_MAX) {
            say(why, whylen, "the volume holds more than %d files", SECRET_FILES_MAX);
            ret = -1;
        } else if (check_entry(e->d_name, &st, why, whylen) != 0 ||
                   load_entry(dirfd(d), mount, e->d_name, (size_t)st.st_size, why, whylen) != 0) {
            ret = -1;
        } else {
            ++vol->files;
        }
    }
    closedir(d);
    if (ret == 0)
        file[0] = '\0';
    return ret;
}

int init_load_secrets(const char *mountpoint, unsigned wait_ms, struct init_volume *vol, char *file, size_t filelen,
                      char *why, size_t whylen)
{
    int ret;

    memset(vol, 0, sizeof(*vol));
    file[0] = '\0';
    if (find_volume(wait_ms, vol->device, sizeof(vol->device), why, whylen) != 0)
        return -1;
    if (mkdir(mountpoint, 0500) != 0 && errno != EEXIST) {
        say(why, whylen, "cannot create the mount point %s: %s", mountpoint, strerror(errno));
        return -1;
    }
    if (mount(vol->device, mountpoint, "erofs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        snprintf(file, filelen, "%s", vol->device);
        say(why, whylen, "cannot mount it read-only as EROFS on %s: %s", mountpoint, strerror(errno));
        return -1;
    }
    ret = load_all(mountpoint, vol, file, filelen, why, whylen);
    /* from here on the secrets exist only in memory: the serving process
     * never has the volume in its view, and neither has PID 1 */
    if (umount2(mountpoint, 0) != 0 && ret == 0) {
        say(why, whylen, "cannot unmount the secrets volume from %s: %s", mountpoint, strerror(errno));
        ret = -1;
    }
    rmdir(mountpoint);
    if (ret != 0)
        bulwark_secrets_memory_clear();
    return ret;
}
