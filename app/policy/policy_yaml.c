/*
 * libyaml's event parser, folded into a tree of ynode_t (see policy_yaml.h
 * for the subset of YAML a policy may use and why).
 */
#include <stdarg.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "policy_yaml.h"

/* ---- arena ---- */

/* Most policies fit in one block; a large inline body gets its own. */
#define ARENA_BLOCK_SIZE (32 * 1024)
#define ARENA_ALIGN alignof(max_align_t)

typedef struct st_arena_block_t {
    struct st_arena_block_t *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
} arena_block_t;

struct st_bulwark_arena_t {
    arena_block_t *head;
};

bulwark_arena_t *pol_arena_create(void)
{
    return calloc(1, sizeof(bulwark_arena_t));
}

static arena_block_t *arena_grow(bulwark_arena_t *a, size_t size)
{
    size_t cap = size > ARENA_BLOCK_SIZE ? size : ARENA_BLOCK_SIZE;
    arena_block_t *b = malloc(sizeof(*b) + cap);

    if (b == NULL)
        return NULL;
    b->used = 0;
    b->cap = cap;
    b->next = a->head;
    a->head = b;
    return b;
}

void *pol_arena_alloc(bulwark_arena_t *a, size_t size)
{
    arena_block_t *b = a->head;
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    void *p;

    if (size > SIZE_MAX / 2)
        return NULL;
    if (rounded == 0)
        rounded = ARENA_ALIGN;
    if (b == NULL || b->cap - b->used < rounded) {
        if ((b = arena_grow(a, rounded)) == NULL)
            return NULL;
    }
    p = b->data + b->used;
    b->used += rounded;
    memset(p, 0, rounded);
    return p;
}

void *pol_arena_calloc(bulwark_arena_t *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / 2 / size)
        return NULL;
    return pol_arena_alloc(a, n * size);
}

char *pol_arena_strndup(bulwark_arena_t *a, const char *s, size_t len)
{
    char *p = pol_arena_alloc(a, len + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void pol_arena_destroy(bulwark_arena_t *a)
{
    arena_block_t *b, *next;

    if (a == NULL)
        return;
    for (b = a->head; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

/* ---- tree ---- */

typedef struct st_builder_t {
    bulwark_arena_t *arena;
    yaml_parser_t parser;
    const char *name;
    size_t nodes;
    char *err;
    size_t errlen;
} builder_t;

/* Children are collected here while a collection is open, then copied into
 * the arena once its length is known. */
typedef struct st_vec_t {
    ynode_t **v;
    size_t n, cap;
} vec_t;

static int vec_push(vec_t *vec, ynode_t *n)
{
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 8;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized per pointer */
        ynode_t **v = realloc(vec->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->n++] = n;
    return 0;
}

static int fail_at(builder_t *b, size_t line, size_t column, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_at(builder_t *b, size_t line, size_t column, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(b->err, b->errlen, "%s:%zu:%zu: ", b->name, line + 1, column + 1);

    if (n < 0 || (size_t)n >= b->errlen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->err + n, b->errlen - n, fmt, ap); /* Flawfinder: ignore (format attribute checks callers) */
    va_end(ap);
    return -1;
}

static int fail_parser(builder_t *b)
{
    yaml_parser_t *p = &b->parser;
    const char *problem = p->problem ? p->problem : "malformed YAML";

    if (p->error == YAML_MEMORY_ERROR)
        return fail_at(b, 0, 0, "out of memory");
    if (p->context != NULL)
        return fail_at(b, p->problem_mark.line, p->problem_mark.column, "%s %s (line %zu)", problem, p->context,
                       p->context_mark.line + 1);
    return fail_at(b, p->problem_mark.line, p->problem_mark.column, "%s", problem);
}

static int next_event(builder_t *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev))
        return fail_parser(b);
    return 0;
}

static const yaml_char_t *event_anchor(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return ev->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT:
        return ev->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT:
        return ev->data.mapping_start.anchor;
    default:
        return NULL;
    }
}

static const yaml_char_t *event_tag(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return ev->data.scalar.tag;
    case YAML_SEQUENCE_START_EVENT:
        return ev->data.sequence_start.tag;
    case YAML_MAPPING_START_EVENT:
        return ev->data.mapping_start.tag;
    default:
        return NULL;
    }
}

static ynode_t *new_node(builder_t *b, ynode_kind_t kind, const yaml_event_t *ev)
{
    ynode_t *n;

    if (++b->nodes > POLICY_NODES_MAX) {
        fail_at(b, ev->start_mark.line, ev->start_mark.column, "more than %d YAML nodes", POLICY_NODES_MAX);
        return NULL;
    }
    if ((n = pol_arena_alloc(b->arena, sizeof(*n))) == NULL) {
        fail_at(b, ev->start_mark.line, ev->start_mark.column, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->line = (unsigned)ev->start_mark.line + 1;
    n->column = (unsigned)ev->start_mark.column + 1;
    return n;
}

static ynode_t *build_scalar(builder_t *b, const yaml_event_t *ev)
{
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    ynode_t *n;

    if (len > POLICY_SCALAR_MAX) {
        fail_at(b, ev->start_mark.line, ev->start_mark.column, "value longer than %d bytes", POLICY_SCALAR_MAX);
        return NULL;
    }
    if (memchr(text, '\0', len) != NULL) {
        fail_at(b, ev->start_mark.line, ev->start_mark.column, "NUL character in a value");
        return NULL;
    }
    if ((n = new_node(b, YNODE_SCALAR, ev)) == NULL)
        return NULL;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    n->len = len;
    if ((n->text = pol_arena_strndup(b->arena, text, len)) == NULL) {
        fail_at(b, ev->start_mark.line, ev->start_mark.column, "out of memory");
        return NULL;
    }
    return n;
}

static ynode_t *build_node(builder_t *b, yaml_event_t *ev, unsigned depth);

static ynode_t **vec_to_arena(builder_t *b, const vec_t *vec)
{
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized per pointer */
    ynode_t **v = pol_arena_calloc(b->arena, vec->n ? vec->n : 1, sizeof(*v));

    if (v != NULL && vec->n != 0)
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized per pointer */
        memcpy(v, vec->v, vec->n * sizeof(*v));
    return v;
}

/* Reads events up to the end of the collection `n` was opened for; in a
 * mapping, even children are keys and odd ones values. */
static int build_children(builder_t *b, ynode_t *n, unsigned depth, vec_t *children)
{
    yaml_event_type_t end = n->kind == YNODE_MAPPING ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;

    for (;;) {
        yaml_event_t ev;
        ynode_t *child;
        if (next_event(b, &ev) != 0)
            return -1;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return 0;
        }
        child = build_node(b, &ev, depth + 1);
        yaml_event_delete(&ev);
        if (child == NULL)
            return -1;
        if (vec_push(children, child) != 0)
            return fail_at(b, child->line - 1, child->column - 1, "out of memory");
    }
}

static int check_mapping_keys(builder_t *b, const vec_t *children)
{
    size_t i, j;

    for (i = 0; i < children->n; i += 2) {
        const ynode_t *k = children->v[i];
        if (k->kind != YNODE_SCALAR)
            return fail_at(b, k->line - 1, k->column - 1, "a key must be a plain name, not a list or mapping");
        for (j = 0; j < i; j += 2) {
            const ynode_t *prev = children->v[j];
            if (prev->len == k->len && memcmp(prev->text, k->text, k->len) == 0)
                return fail_at(b, k->line - 1, k->column - 1, "duplicate key '%s' (first at line %u)", k->text,
                               prev->line);
        }
    }
    return 0;
}

static int split_mapping(builder_t *b, ynode_t *n, const vec_t *children)
{
    size_t i;

    n->count = children->n / 2;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized per pointer */
    n->keys = pol_arena_calloc(b->arena, n->count ? n->count : 1, sizeof(*n->keys));
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized per pointer */
    n->items = pol_arena_calloc(b->arena, n->count ? n->count : 1, sizeof(*n->items));
    if (n->keys == NULL || n->items == NULL)
        return fail_at(b, n->line - 1, n->column - 1, "out of memory");
    for (i = 0; i < n->count; i++) {
        n->keys[i] = children->v[2 * i];
        n->items[i] = children->v[2 * i + 1];
    }
    return 0;
}

static ynode_t *build_collection(builder_t *b, const yaml_event_t *ev, ynode_kind_t kind, unsigned depth)
{
    vec_t children = {NULL, 0, 0};
    ynode_t *n = new_node(b, kind, ev);
    int ret = -1;

    if (n == NULL)
        return NULL;
    if (build_children(b, n, depth, &children) != 0)
        goto out;
    if (kind == YNODE_MAPPING) {
        if (check_mapping_keys(b, &children) != 0 || split_mapping(b, n, &children) != 0)
            goto out;
    } else {
        n->count = children.n;
        if ((n->items = vec_to_arena(b, &children)) == NULL) {
            fail_at(b, n->line - 1, n->column - 1, "out of memory");
            goto out;
        }
    }
    ret = 0;
out:
    free(children.v);
    return ret == 0 ? n : NULL;
}

static ynode_t *build_node(builder_t *b, yaml_event_t *ev, unsigned depth)
{
    size_t line = ev->start_mark.line, col = ev->start_mark.column;

    if (ev->type == YAML_ALIAS_EVENT || event_anchor(ev) != NULL) {
        fail_at(b, line, col, "anchors and aliases (& and *) are not allowed in a policy");
        return NULL;
    }
    if (event_tag(ev) != NULL) {
        fail_at(b, line, col, "tags (!...) are not allowed in a policy");
        return NULL;
    }
    if (depth > POLICY_DEPTH_MAX) {
        fail_at(b, line, col, "nested deeper than %d levels", POLICY_DEPTH_MAX);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return build_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return build_collection(b, ev, YNODE_SEQUENCE, depth);
    case YAML_MAPPING_START_EVENT:
        return build_collection(b, ev, YNODE_MAPPING, depth);
    default:
        fail_at(b, line, col, "unexpected YAML event");
        return NULL;
    }
}

/* Expects `type` next; the event is consumed. */
static int expect_event(builder_t *b, yaml_event_type_t type, const char *what)
{
    yaml_event_t ev;
    int ok;

    if (next_event(b, &ev) != 0)
        return -1;
    ok = ev.type == type;
    if (!ok)
        fail_at(b, ev.start_mark.line, ev.start_mark.column, "%s", what);
    yaml_event_delete(&ev);
    return ok ? 0 : -1;
}

static const ynode_t *build_document(builder_t *b)
{
    yaml_event_t ev;
    ynode_t *root;

    if (expect_event(b, YAML_STREAM_START_EVENT, "not a YAML stream") != 0)
        return NULL;
    if (next_event(b, &ev) != 0)
        return NULL;
    if (ev.type != YAML_DOCUMENT_START_EVENT) {
        fail_at(b, ev.start_mark.line, ev.start_mark.column, "the policy is empty");
        yaml_event_delete(&ev);
        return NULL;
    }
    yaml_event_delete(&ev);
    if (next_event(b, &ev) != 0)
        return NULL;
    root = build_node(b, &ev, 1);
    yaml_event_delete(&ev);
    if (root == NULL)
        return NULL;
    if (expect_event(b, YAML_DOCUMENT_END_EVENT, "expected the end of the document") != 0)
        return NULL;
    if (expect_event(b, YAML_STREAM_END_EVENT, "a policy is one YAML document; found a second one (---)") != 0)
        return NULL;
    return root;
}

const ynode_t *pol_ynode_parse(bulwark_arena_t *arena, const char *name, const void *data, size_t len, char *err,
                           size_t errlen)
{
    builder_t b = {.arena = arena, .name = name, .err = err, .errlen = errlen};
    const ynode_t *root;

    if (len > POLICY_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %d bytes", name, POLICY_FILE_MAX);
        return NULL;
    }
    if (!yaml_parser_initialize(&b.parser)) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    yaml_parser_set_input_string(&b.parser, data, len);
    yaml_parser_set_encoding(&b.parser, YAML_UTF8_ENCODING);
    root = build_document(&b);
    yaml_parser_delete(&b.parser);
    return root;
}

int pol_ynode_is_null(const ynode_t *n)
{
    if (n->kind != YNODE_SCALAR || !n->plain)
        return 0;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 || strcmp(n->text, "Null") == 0 ||
           strcmp(n->text, "NULL") == 0;
}
