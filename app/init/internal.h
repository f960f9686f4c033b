/*
 * What the parts of PID 1 share (app/init/ only).
 */
#ifndef BULWARK_INIT_INTERNAL_H
#define BULWARK_INIT_INTERNAL_H

#include <stddef.h>

#define INIT_ERR_MAX 512

/* The secrets volume: the one block device whose EROFS superblock carries
 * this label (image/mksecrets writes it). */
#define SECRETS_LABEL "bulwark-secrets"

/* volume.c: finds the volume (waiting up to wait_ms for slow disks such as
 * NVMe namespaces), mounts it read-only on `mount`, checks every entry,
 * registers a copy of each file with the secrets reader (secrets.h) and
 * unmounts it.  On a violation returns -1 with `file` naming the entry (or
 * empty) and `why` the rule it breaks. */
struct init_volume {
    char device[300];
    size_t files;
};
int init_load_secrets(const char *mount, unsigned wait_ms, struct init_volume *vol, char *file, size_t filelen,
                      char *why, size_t whylen);

/* privsep.c: in the serving process right after fork, single-threaded:
 * own mount namespace with nothing but an empty read-only root, the
 * service uid/gid, no capabilities (bounding set included), no_new_privs,
 * not dumpable, resource limits.  0, or -1 with err. */
int init_drop_privileges(size_t threads, char *err, size_t errlen);

#endif
