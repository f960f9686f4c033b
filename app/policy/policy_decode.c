/*
 * Table-driven decoding of the policy tree (see policy_decode.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "policy_decode.h"
#include "policy_values.h"

/* a schema mapping has at most this many keys (one bit each in `seen`) */
#define FIELDS_MAX 32
/* keys are short; distances past this are not worth a suggestion */
#define KEY_NAME_MAX 32

/* ---- messages and the key path ---- */

int pol_fail(loader_t *l, const ynode_t *n, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (l->pathlen != 0)
        k = snprintf(l->err, l->errlen, "%s:%u:%u: %s: ", l->file, n->line, n->column, l->path);
    else
        k = snprintf(l->err, l->errlen, "%s:%u:%u: ", l->file, n->line, n->column);
    if (k < 0 || (size_t)k >= l->errlen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(l->err + k, l->errlen - (size_t)k, fmt, ap); /* Flawfinder: ignore (format attribute checks callers) */
    va_end(ap);
    return -1;
}

int pol_fail_oom(loader_t *l, const ynode_t *n)
{
    return pol_fail(l, n, "out of memory");
}

/* appends a then b to the path; returns the length to pop back to */
static size_t path_append(loader_t *l, const char *a, const char *b)
{
    size_t saved = l->pathlen;
    int k = snprintf(l->path + saved, sizeof(l->path) - saved, "%s%s", a, b);

    if (k < 0 || (size_t)k >= sizeof(l->path) - saved)
        l->pathlen = sizeof(l->path) - 1; /* truncated; still NUL-terminated */
    else
        l->pathlen = saved + (size_t)k;
    return saved;
}

size_t pol_path_push_key(loader_t *l, const char *key)
{
    return path_append(l, l->pathlen ? "." : "", key);
}

size_t pol_path_push_index(loader_t *l, size_t i)
{
    char index[32];

    snprintf(index, sizeof(index), "[%zu]", i);
    return path_append(l, "", index);
}

void pol_path_pop(loader_t *l, size_t saved)
{
    l->pathlen = saved;
    l->path[saved] = '\0';
}

/* ---- mappings ---- */

const ynode_t *pol_ynode_get(const ynode_t *n, const char *key)
{
    size_t i;

    if (n == NULL || n->kind != YNODE_MAPPING)
        return NULL;
    for (i = 0; i < n->count; i++)
        if (strcmp(n->keys[i]->text, key) == 0)
            return n->items[i];
    return NULL;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t prev[KEY_NAME_MAX + 1], cur[KEY_NAME_MAX + 1];

    if (la > KEY_NAME_MAX || lb > KEY_NAME_MAX)
        return (size_t)-1;
    for (j = 0; j <= lb; j++)
        prev[j] = j;
    for (i = 1; i <= la; i++) {
        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(prev));
    }
    return prev[lb];
}

static int unknown_key(loader_t *l, const ynode_t *key, const schema_t *schema)
{
    const field_t *f, *best = NULL;
    size_t best_d = (size_t)-1;

    for (f = schema->fields; f->name != NULL; f++) {
        size_t d = edit_distance(key->text, f->name);
        if (d < best_d) {
            best_d = d;
            best = f;
        }
    }
    /* a third of the name, or two edits: typos, not different words */
    if (best != NULL && best_d <= 2 + strlen(best->name) / 3 && best_d < strlen(key->text))
        return pol_fail(l, key, "unknown key '%s' (did you mean '%s'?)", key->text, best->name);
    return pol_fail(l, key, "unknown key '%s'", key->text);
}

static const field_t *find_field(const schema_t *schema, const char *name)
{
    const field_t *f;

    for (f = schema->fields; f->name != NULL; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static int decode_field(loader_t *l, const ynode_t *value, void *obj, const field_t *f)
{
    size_t saved = pol_path_push_key(l, f->name);
    int ret = f->decode(l, value, obj, f);

    if (ret == 0)
        pol_path_pop(l, saved);
    return ret;
}

int pol_decode_mapping(loader_t *l, const ynode_t *n, const schema_t *schema, void *obj)
{
    const field_t *f;
    size_t i;

    if (n->kind != YNODE_MAPPING)
        return pol_fail(l, n, "expected a mapping (key: value lines)");
    for (i = 0; i < n->count; i++)
        if (find_field(schema, n->keys[i]->text) == NULL)
            return unknown_key(l, n->keys[i], schema);
    for (f = schema->fields; f->name != NULL; f++) {
        const ynode_t *value = pol_ynode_get(n, f->name);
        if (value == NULL) {
            if (f->flags & F_REQUIRED)
                return pol_fail(l, n, "missing key '%s'", f->name);
            continue;
        }
        if (decode_field(l, value, obj, f) != 0)
            return -1;
    }
    return schema->finish ? schema->finish(l, n, obj) : 0;
}

int pol_dec_section(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    return pol_decode_mapping(l, n, f->child, (char *)obj + f->offset);
}

/* ---- scalars ---- */

const char *pol_scalar(loader_t *l, const ynode_t *n, const char *what)
{
    if (n->kind != YNODE_SCALAR || pol_ynode_is_null(n)) {
        pol_fail(l, n, "expected %s", what);
        return NULL;
    }
    return n->text;
}

int pol_copy_str(loader_t *l, const ynode_t *n, const char *text, size_t len, bulwark_str_t *out)
{
    char *s = pol_arena_strndup(l->arena, text, len);

    if (s == NULL)
        return pol_fail_oom(l, n);
    out->base = s;
    out->len = len;
    return 0;
}

int pol_copy_lower(loader_t *l, const ynode_t *n, const char *text, size_t len, bulwark_str_t *out)
{
    char *s = pol_arena_strndup(l->arena, text, len);

    if (s == NULL)
        return pol_fail_oom(l, n);
    pol_value_lowercase(s, len);
    out->base = s;
    out->len = len;
    return 0;
}

/* the default bound of a string field whose table entry gives none */
#define STRING_MAX_DEFAULT 1024

int pol_dec_str(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    uint64_t max = f->max ? f->max : STRING_MAX_DEFAULT;
    const char *s = pol_scalar(l, n, "a string");

    if (s == NULL)
        return -1;
    if (n->len == 0)
        return pol_fail(l, n, "expected a non-empty string");
    if (n->len > max)
        return pol_fail(l, n, "expected at most %llu characters", (unsigned long long)max);
    return pol_copy_str(l, n, s, n->len, (bulwark_str_t *)((char *)obj + f->offset));
}

int pol_dec_bool(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    int *out = (int *)((char *)obj + f->offset);

    if (n->kind == YNODE_SCALAR && n->plain && strcmp(n->text, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (n->kind == YNODE_SCALAR && n->plain && strcmp(n->text, "false") == 0) {
        *out = 0;
        return 0;
    }
    /* YAML 1.1 also reads yes/no/on/off as booleans, YAML 1.2 does not:
     * accept neither reading. */
    return pol_fail(l, n, "expected true or false");
}

static int range_check(loader_t *l, const ynode_t *n, const field_t *f, uint64_t v, void (*fmt)(char *, size_t, uint64_t))
{
    char lo[32], hi[32];

    if (v >= f->min && v <= f->max)
        return 0;
    if (fmt != NULL) {
        fmt(lo, sizeof(lo), f->min);
        fmt(hi, sizeof(hi), f->max);
    } else {
        snprintf(lo, sizeof(lo), "%llu", (unsigned long long)f->min);
        snprintf(hi, sizeof(hi), "%llu", (unsigned long long)f->max);
    }
    return pol_fail(l, n, "expected a value from %s to %s", lo, hi);
}

static int plain_value(loader_t *l, const ynode_t *n, const char *what, const char **text)
{
    if (n->kind != YNODE_SCALAR || pol_ynode_is_null(n) || !n->plain)
        return pol_fail(l, n, "expected %s (unquoted)", what);
    *text = n->text;
    return 0;
}

int pol_dec_u32(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    const char *s = NULL, *expected;
    uint64_t v;

    if (plain_value(l, n, "a whole number", &s) != 0)
        return -1;
    if (pol_value_uint(s, &v, &expected) != 0)
        return pol_fail(l, n, "expected %s", expected);
    if (range_check(l, n, f, v, NULL) != 0)
        return -1;
    *(uint32_t *)((char *)obj + f->offset) = (uint32_t)v;
    return 0;
}

int pol_dec_size(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    const char *s = NULL, *expected;
    uint64_t v;

    if (plain_value(l, n, "a size like 1MiB", &s) != 0)
        return -1;
    if (pol_value_size(s, &v, &expected) != 0)
        return pol_fail(l, n, "expected %s", expected);
    if (range_check(l, n, f, v, pol_format_size) != 0)
        return -1;
    *(uint64_t *)((char *)obj + f->offset) = v;
    return 0;
}

static int duration(loader_t *l, const ynode_t *n, const field_t *f, uint64_t *ms)
{
    const char *s = NULL, *expected;

    if (plain_value(l, n, "a duration like 30s", &s) != 0)
        return -1;
    if (pol_value_duration_ms(s, ms, &expected) != 0)
        return pol_fail(l, n, "expected %s", expected);
    return range_check(l, n, f, *ms, pol_format_ms);
}

int pol_dec_ms(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    uint64_t ms;

    if (duration(l, n, f, &ms) != 0)
        return -1;
    *(uint64_t *)((char *)obj + f->offset) = ms;
    return 0;
}

int pol_dec_secs(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    uint64_t ms;

    if (duration(l, n, f, &ms) != 0)
        return -1;
    if (ms % 1000 != 0)
        return pol_fail(l, n, "expected a whole number of seconds");
    *(uint32_t *)((char *)obj + f->offset) = (uint32_t)(ms / 1000);
    return 0;
}

int pol_dec_enum(loader_t *l, const ynode_t *n, void *obj, const field_t *f)
{
    const enum_name_t *e;
    char want[256] = "";
    size_t used = 0;

    if (n->kind == YNODE_SCALAR && !pol_ynode_is_null(n)) {
        for (e = f->names; e->name != NULL; e++) {
            if (strcmp(n->text, e->name) == 0) {
                *(int *)((char *)obj + f->offset) = e->value;
                return 0;
            }
        }
    }
    for (e = f->names; e->name != NULL && used < sizeof(want); e++) {
        int k = snprintf(want + used, sizeof(want) - used, "%s%s", e == f->names ? "" : e[1].name ? ", " : " or ", e->name);
        if (k > 0)
            used += (size_t)k;
    }
    return pol_fail(l, n, "expected %s", want);
}

/* ---- lists and named mappings ---- */

int pol_decode_list(loader_t *l, const ynode_t *n, const char *what, size_t max, const char *reason, size_t size,
                elem_fn fn, void **out, size_t *count)
{
    unsigned char *arr;
    size_t i;

    if (n->kind != YNODE_SEQUENCE)
        return pol_fail(l, n, "expected a list of %s", what);
    if (n->count > max)
        return pol_fail(l, n, "expected at most %zu entries (%s)", max, reason);
    if ((arr = pol_arena_calloc(l->arena, n->count ? n->count : 1, size)) == NULL)
        return pol_fail_oom(l, n);
    for (i = 0; i < n->count; i++) {
        size_t saved = pol_path_push_index(l, i);
        if (fn(l, n->items[i], arr + i * size) != 0)
            return -1;
        pol_path_pop(l, saved);
    }
    *out = arr;
    *count = n->count;
    return 0;
}

int pol_decode_named(loader_t *l, const ynode_t *n, const char *what, size_t max, const char *reason, size_t size,
                 named_fn fn, void **out, size_t *count)
{
    unsigned char *arr;
    size_t i;

    if (n->kind != YNODE_MAPPING)
        return pol_fail(l, n, "expected a mapping of %s", what);
    if (n->count > max)
        return pol_fail(l, n, "expected at most %zu entries (%s)", max, reason);
    if ((arr = pol_arena_calloc(l->arena, n->count ? n->count : 1, size)) == NULL)
        return pol_fail_oom(l, n);
    for (i = 0; i < n->count; i++) {
        size_t saved = pol_path_push_key(l, n->keys[i]->text);
        if (fn(l, n->keys[i], n->items[i], arr + i * size) != 0)
            return -1;
        pol_path_pop(l, saved);
    }
    *out = arr;
    *count = n->count;
    return 0;
}

/* ---- formatting ---- */

void pol_format_size(char *buf, size_t len, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB"};
    size_t u = 0;

    while (u < 3 && bytes >= 1024 && bytes % 1024 == 0) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, len, "%llu%s", (unsigned long long)bytes, units[u]);
}

void pol_format_ms(char *buf, size_t len, uint64_t ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(buf, len, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/* ---- key listing ---- */

/* dst = a + b, cut short (never in practice: keys are short) */
static void join(char *dst, size_t cap, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la >= cap)
        la = cap - 1;
    memcpy(dst, a, la);
    if (lb >= cap - la)
        lb = cap - la - 1;
    memcpy(dst + la, b, lb);
    dst[la + lb] = '\0';
}

void pol_list_keys(const schema_t *schema, const char *prefix, void (*cb)(void *arg, const char *key), void *arg)
{
    const field_t *f;
    char key[POLICY_PATH_MAX], sub[POLICY_PATH_MAX];

    for (f = schema->fields; f->name != NULL; f++) {
        join(key, sizeof(key), prefix, f->name);
        cb(arg, key);
        if (f->flags & F_NAMED) {
            join(sub, sizeof(sub), key, ".<name>");
            cb(arg, sub);
            if (f->child != NULL) {
                join(sub, sizeof(sub), key, ".<name>.");
                pol_list_keys(f->child, sub, cb, arg);
            }
        } else if (f->child != NULL) {
            join(sub, sizeof(sub), key, (f->flags & F_LIST) ? "[]." : ".");
            pol_list_keys(f->child, sub, cb, arg);
        }
    }
}
