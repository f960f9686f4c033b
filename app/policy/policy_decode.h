/*
 * Private to app/policy: decoding a YAML tree into policy structures, driven
 * by tables of fields (one table per mapping of the schema).
 *
 * A field names its key, its decoder and where its value goes.  The same
 * tables drive bulwark_policy_keys(), so the keys the loader accepts and the
 * keys it lists (and SCHEMA.md documents, tested) cannot drift apart.
 */
#ifndef BULWARK_POLICY_DECODE_H
#define BULWARK_POLICY_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include "policy.h"
#include "policy_yaml.h"

/* "routes[127].body.content_types[7]" and room to spare */
#define POLICY_PATH_MAX 128

typedef struct st_loader_t {
    bulwark_arena_t *arena;
    bulwark_policy_t *p;
    const char *file;
    char *err;
    size_t errlen;
    char path[POLICY_PATH_MAX];
    size_t pathlen;
    const char *mount_override; /* bulwark_policy_options_t.secrets_mount */
    bulwark_str_t declared_mount; /* secrets.mount as the policy says */
} loader_t;

typedef struct st_field_t field_t;
typedef struct st_schema_t schema_t;

/* Decodes node n into obj (the structure the mapping fills); f is the field. */
typedef int (*decode_fn)(loader_t *l, const ynode_t *n, void *obj, const field_t *f);

enum {
    F_REQUIRED = 1, /* an error when absent */
    F_LIST = 2,     /* a list of `child` mappings: keys listed as name[].key */
    F_NAMED = 4,    /* a mapping from names the user chooses: keys listed as name.<name>[.key] */
};

typedef struct st_enum_name_t {
    const char *name;
    int value;
} enum_name_t;

struct st_field_t {
    const char *name;
    decode_fn decode;
    size_t offset; /* of the value in obj */
    unsigned flags;
    const schema_t *child;
    uint64_t min, max; /* numbers: the range; strings: max is the length */
    const enum_name_t *names; /* pol_dec_enum */
};

struct st_schema_t {
    const field_t *fields; /* ends with a NULL name */
    /* called once all fields are decoded: cross-field rules */
    int (*finish)(loader_t *l, const ynode_t *map, void *obj);
};

/* "FILE:LINE:COL: PATH: message"; returns -1 */
int pol_fail(loader_t *l, const ynode_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int pol_fail_oom(loader_t *l, const ynode_t *n);

size_t pol_path_push_key(loader_t *l, const char *key);
size_t pol_path_push_index(loader_t *l, size_t i);
void pol_path_pop(loader_t *l, size_t saved);

/* Decodes every field of `schema` present in mapping n, in table order
 * (so a field may rely on the ones above it), then runs finish. */
int pol_decode_mapping(loader_t *l, const ynode_t *n, const schema_t *schema, void *obj);
/* the value of `key` in mapping n, or NULL */
const ynode_t *pol_ynode_get(const ynode_t *n, const char *key);

/* the scalar's text, or an error "expected <what>" */
const char *pol_scalar(loader_t *l, const ynode_t *n, const char *what);

/* generic field decoders; the value's C type is in the name */
int pol_dec_section(loader_t *l, const ynode_t *n, void *obj, const field_t *f); /* f->child into obj + offset */
int pol_dec_str(loader_t *l, const ynode_t *n, void *obj, const field_t *f);     /* bulwark_str_t */
int pol_dec_bool(loader_t *l, const ynode_t *n, void *obj, const field_t *f);    /* int */
int pol_dec_u32(loader_t *l, const ynode_t *n, void *obj, const field_t *f);     /* uint32_t */
int pol_dec_size(loader_t *l, const ynode_t *n, void *obj, const field_t *f);    /* uint64_t bytes */
int pol_dec_ms(loader_t *l, const ynode_t *n, void *obj, const field_t *f);      /* uint64_t milliseconds */
int pol_dec_secs(loader_t *l, const ynode_t *n, void *obj, const field_t *f);    /* uint32_t whole seconds */
int pol_dec_enum(loader_t *l, const ynode_t *n, void *obj, const field_t *f);    /* int, from f->names */

/* Decodes sequence n into a new array of `size`-byte elements, at most max
 * (`reason` says why, for the message). */
typedef int (*elem_fn)(loader_t *l, const ynode_t *n, void *elem);
int pol_decode_list(loader_t *l, const ynode_t *n, const char *what, size_t max, const char *reason, size_t size,
                elem_fn fn, void **out, size_t *count);

/* Decodes a mapping of user-chosen names into a new array. */
typedef int (*named_fn)(loader_t *l, const ynode_t *key, const ynode_t *value, void *elem);
int pol_decode_named(loader_t *l, const ynode_t *n, const char *what, size_t max, const char *reason, size_t size,
                 named_fn fn, void **out, size_t *count);

/* a copy of the scalar in the policy's arena */
int pol_copy_str(loader_t *l, const ynode_t *n, const char *text, size_t len, bulwark_str_t *out);
/* the same, lowercased (ASCII) */
int pol_copy_lower(loader_t *l, const ynode_t *n, const char *text, size_t len, bulwark_str_t *out);

/* "1MiB", "30s" for messages */
void pol_format_size(char *buf, size_t len, uint64_t bytes);
void pol_format_ms(char *buf, size_t len, uint64_t ms);

void pol_list_keys(const schema_t *schema, const char *prefix, void (*cb)(void *arg, const char *key), void *arg);

#endif
