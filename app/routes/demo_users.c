/*
 * The builtin login's users: users.json on the secrets volume
 * (image/demo/README.md), checked whole at start-up so that a bad record is
 * an operator's one-line error, not a login that fails at run time.
 *
 *   {"users": [{"username": ..., "scopes": [...], "password_hash": ...}]}
 *
 * Unknown members are errors (a misspelt "scopes" would otherwise grant
 * nothing, silently). Messages name the file and the record, never a hash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "demo_internal.h"

/* users.json is a flat document: object, array, record, scopes array */
#define USERS_JSON_FLAGS (JSON_REJECT_DUPLICATES)

static int fail(char *err, size_t errlen, const char *path, size_t index, const char *what)
{
    if (index == (size_t)-1)
        snprintf(err, errlen, "%s: %s", path, what);
    else
        snprintf(err, errlen, "%s: users[%zu]: %s", path, index, what);
    return -1;
}

static json_t *read_json(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t len;
    json_error_t e;
    json_t *doc;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if ((buf = malloc(BULWARK_DEMO_USERS_FILE_MAX + 1)) == NULL) {
        (void)fclose(f); /* read-only stream: nothing to lose */
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    len = fread(buf, 1, BULWARK_DEMO_USERS_FILE_MAX + 1, f);
    int read_error = ferror(f);
    (void)fclose(f);
    if (read_error || len > BULWARK_DEMO_USERS_FILE_MAX) {
        free(buf);
        snprintf(err, errlen, "%s: %s", path, read_error ? "read error" : "larger than 1 MiB");
        return NULL;
    }
    doc = json_loadb(buf, len, USERS_JSON_FLAGS, &e);
    free(buf);
    if (doc == NULL)
        snprintf(err, errlen, "%s:%d:%d: %s", path, e.line, e.column, e.text);
    return doc;
}

static int only_known_members(json_t *rec)
{
    const char *key;
    json_t *value;

    json_object_foreach(rec, key, value) {
        if (strcmp(key, "username") != 0 && strcmp(key, "scopes") != 0 && strcmp(key, "password_hash") != 0)
            return 0;
    }
    return 1;
}

static int take_name(bulwark_demo_user_t *u, json_t *rec)
{
    json_t *v = json_object_get(rec, "username");

    if (!json_is_string(v) || !bulwark_jwt_sub_is_valid(json_string_value(v), json_string_length(v)))
        return -1;
    memcpy(u->name, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* the scopes joined by single spaces, as a token's `scope` */
static int take_scopes(bulwark_demo_user_t *u, json_t *rec)
{
    json_t *list = json_object_get(rec, "scopes"), *v;
    size_t i, len = 0;

    if (!json_is_array(list))
        return -1;
    json_array_foreach(list, i, v) {
        size_t n = json_is_string(v) ? json_string_length(v) : 0;
        if (n == 0 || len + (i != 0) + n > BULWARK_JWT_SCOPE_MAX)
            return -1;
        if (i != 0)
            u->scope[len++] = ' ';
        memcpy(u->scope + len, json_string_value(v), n);
        len += n;
    }
    u->scope[len] = '\0';
    return len == 0 || bulwark_jwt_scope_is_valid(u->scope, len) ? 0 : -1;
}

static const char *take_hash(bulwark_demo_user_t *u, json_t *rec)
{
    json_t *v = json_object_get(rec, "password_hash");
    bulwark_password_status_t st;

    if (!json_is_string(v))
        return "password_hash: missing or not a string";
    if ((st = bulwark_password_parse(json_string_value(v), &u->hash)) != BULWARK_PASSWORD_OK)
        return bulwark_password_status_name(st);
    return NULL;
}

static int take_user(bulwark_demo_users_t *users, json_t *rec, size_t i, const char *path, char *err, size_t errlen)
{
    bulwark_demo_user_t *u = users->users + i;
    const char *bad;
    char what[128];

    if (!json_is_object(rec) || !only_known_members(rec))
        return fail(err, errlen, path, i, "not an object of username, scopes and password_hash");
    if (take_name(u, rec) != 0)
        return fail(err, errlen, path, i, "username: 1 to 255 printable ASCII characters without spaces");
    if (bulwark_demo_users_find(users, u->name, strlen(u->name)) != u)
        return fail(err, errlen, path, i, "username: the same name appears twice");
    if (take_scopes(u, rec) != 0)
        return fail(err, errlen, path, i, "scopes: a list of RFC 6749 scope names (at most 32, 1024 bytes)");
    if ((bad = take_hash(u, rec)) != NULL) {
        snprintf(what, sizeof(what), "password_hash of '%s': %s", u->name, bad);
        return fail(err, errlen, path, i, what);
    }
    if (u->hash.iterations > users->dummy_iterations)
        users->dummy_iterations = u->hash.iterations;
    return 0;
}

int bulwark_demo_users_load(bulwark_demo_users_t *users, const char *path, char *err, size_t errlen)
{
    json_t *doc, *list;
    int ret = -1;

    memset(users, 0, sizeof(*users));
    if ((doc = read_json(path, err, errlen)) == NULL)
        return -1;
    list = json_is_object(doc) && json_object_size(doc) == 1 ? json_object_get(doc, "users") : NULL;
    if (!json_is_array(list) || json_array_size(list) == 0) {
        fail(err, errlen, path, (size_t)-1, "expected {\"users\": [...]} with at least one user");
    } else if (json_array_size(list) > BULWARK_DEMO_USERS_MAX) {
        fail(err, errlen, path, (size_t)-1, "more than 1000 users");
    } else if ((users->users = calloc(json_array_size(list), sizeof(*users->users))) == NULL) {
        snprintf(err, errlen, "out of memory");
    } else {
        ret = 0;
        for (size_t i = 0; i != json_array_size(list) && ret == 0; ++i) {
            users->count = i + 1;
            ret = take_user(users, json_array_get(list, i), i, path, err, errlen);
        }
    }
    json_decref(doc);
    if (ret != 0)
        bulwark_demo_users_free(users);
    return ret;
}

void bulwark_demo_users_free(bulwark_demo_users_t *users)
{
    free(users->users);
    memset(users, 0, sizeof(*users));
}

const bulwark_demo_user_t *bulwark_demo_users_find(const bulwark_demo_users_t *users, const char *name, size_t len)
{
    for (size_t i = 0; i != users->count; ++i)
        if (strlen(users->users[i].name) == len && memcmp(users->users[i].name, name, len) == 0)
            return users->users + i;
    return NULL;
}
