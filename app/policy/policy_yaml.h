/*
 * Private to app/policy: a bump allocator, and the policy file as a small
 * tree of YAML nodes built from libyaml's events.
 *
 * The tree is what the loader walks.  It is deliberately a subset of YAML: one
 * document, string scalars, sequences and mappings with scalar keys, no
 * anchors, aliases or tags (aliases are how a small file becomes a huge one),
 * no duplicate keys, bounded depth and size.
 */
#ifndef BULWARK_POLICY_YAML_H
#define BULWARK_POLICY_YAML_H

#include <stddef.h>

/* A policy is a few KiB; anything past this is a mistake or an attack. */
#define POLICY_FILE_MAX (1024 * 1024)
/* The schema nests five levels deep (routes[].body.content_types[]); room
 * for flow-style lists without letting "[[[[..." grow the parser's stacks. */
#define POLICY_DEPTH_MAX 12
/* The default policy is about 400 nodes; a policy at every count limit of
 * SCHEMA.md is under 20,000. */
#define POLICY_NODES_MAX 50000
/* An inline landing page is the longest value (see ROUTE_INLINE_MAX). */
#define POLICY_SCALAR_MAX (64 * 1024)

typedef struct st_bulwark_arena_t bulwark_arena_t;

bulwark_arena_t *pol_arena_create(void);
/* zeroed, aligned for any type; NULL when out of memory */
void *pol_arena_alloc(bulwark_arena_t *a, size_t size);
void *pol_arena_calloc(bulwark_arena_t *a, size_t n, size_t size);
char *pol_arena_strndup(bulwark_arena_t *a, const char *s, size_t len);
void pol_arena_destroy(bulwark_arena_t *a);

typedef enum en_ynode_kind_t {
    YNODE_SCALAR,
    YNODE_SEQUENCE,
    YNODE_MAPPING,
} ynode_kind_t;

typedef struct st_ynode_t ynode_t;

struct st_ynode_t {
    ynode_kind_t kind;
    unsigned line, column; /* 1-based, of the node's first character */
    /* scalar */
    const char *text; /* NUL-terminated, NUL-free */
    size_t len;
    int plain;  /* unquoted: may be a number, a boolean or null */
    /* sequence: items[0..count); mapping: keys[i] -> items[i] */
    ynode_t **keys;
    ynode_t **items;
    size_t count;
};

/* Parses one YAML document from data into a tree allocated in `arena`.
 * Returns the root, or NULL with "NAME:LINE:COL: reason" in err. */
const ynode_t *pol_ynode_parse(bulwark_arena_t *arena, const char *name, const void *data, size_t len, char *err,
                           size_t errlen);

/* a plain scalar that YAML would read as null: "", "~", "null" */
int pol_ynode_is_null(const ynode_t *n);

#endif
