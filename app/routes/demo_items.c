/*
 * GET /api/items/{id} and POST /api/items: the demo's owned resources.
 *
 * Item 1 belongs to alice and item 2 to bob (DEFAULT-POLICY.md); created
 * items are kept in memory by this process, shared by every event loop
 * under one mutex, until BULWARK_DEMO_ITEMS_MAX. An item is shown to its
 * owner only: anyone else gets the same 404 as for an item that does not
 * exist, so ids reveal nothing (IDOR, OWASP API1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reply.h"
#include "demo_internal.h"

/* ids are decimal without sign or leading zeros, up to UINT32_MAX */
#define ITEM_ID_DIGITS_MAX 10

static const struct {
    const char *owner, *name;
} seed_items[] = {
    {"alice", "Alice's demo item"},
    {"bob", "Bob's demo item"},
};

int bulwark_demo_items_init(bulwark_demo_items_t *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if ((s->items = calloc(BULWARK_DEMO_ITEMS_MAX, sizeof(*s->items))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&s->mutex, NULL);
    for (size_t i = 0; i != sizeof(seed_items) / sizeof(seed_items[0]); ++i) {
        snprintf(s->items[i].owner, sizeof(s->items[i].owner), "%s", seed_items[i].owner);
        snprintf(s->items[i].name, sizeof(s->items[i].name), "%s", seed_items[i].name);
        s->count = i + 1;
    }
    return 0;
}

void bulwark_demo_items_dispose(bulwark_demo_items_t *s)
{
    if (s->items == NULL)
        return;
    pthread_mutex_destroy(&s->mutex);
    free(s->items);
    s->items = NULL;
}

/* "1".."4294967295" without leading zeros; 0 when not an id */
static uint32_t parse_id(h2o_iovec_t s)
{
    uint64_t v = 0;

    if (s.len == 0 || s.len > ITEM_ID_DIGITS_MAX || s.base[0] == '0')
        return 0;
    for (size_t i = 0; i != s.len; ++i) {
        if (s.base[i] < '0' || s.base[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s.base[i] - '0');
    }
    return v <= UINT32_MAX ? (uint32_t)v : 0;
}

static json_t *item_json(uint32_t id, const bulwark_demo_item_t *item)
{
    return json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "name", item->name, "owner", item->owner);
}

/* the item as JSON when it exists and subject owns it, else NULL */
static json_t *find_owned(bulwark_demo_items_t *s, uint32_t id, h2o_iovec_t subject)
{
    json_t *v = NULL;

    pthread_mutex_lock(&s->mutex);
    if (id != 0 && id <= s->count) {
        const bulwark_demo_item_t *item = s->items + (id - 1);
        if (h2o_memis(item->owner, strlen(item->owner), subject.base, subject.len))
            v = item_json(id, item);
    }
    pthread_mutex_unlock(&s->mutex);
    return v;
}

static int is_signed_in(const bulwark_reqctx_t *ctx)
{
    return ctx->auth.state == BULWARK_AUTH_VALID && ctx->auth.subject.len != 0;
}

int bulwark_demo_items_get(bulwark_demo_api_t *api, h2o_req_t *req, bulwark_reqctx_t *ctx)
{
    json_t *v;

    /* the route always requires a token; without one (a policy that drops
     * its scopes) nobody owns anything */
    if (ctx->num_params != 1 || !is_signed_in(ctx) ||
        (v = find_owned(&api->items, parse_id(ctx->params[0]), ctx->auth.subject)) == NULL) {
        bulwark_demo_reply_not_found(req);
        return 0;
    }
    bulwark_demo_reply_value(req, 200, "OK", v);
    return 0;
}

/* characters of valid UTF-8 (jansson checked it): bytes not 10xxxxxx */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i != len; ++i)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

static int valid_name(const char *name, size_t len)
{
    size_t chars = utf8_chars(name, len);

    return chars >= 1 && chars <= BULWARK_DEMO_ITEM_NAME_MAX && memchr(name, '\0', len) == NULL;
}

/* the new item's id, or 0 when the store is full */
static uint32_t add_item(bulwark_demo_items_t *s, h2o_iovec_t owner, const char *name, size_t len, json_t **out)
{
    uint32_t id = 0;

    pthread_mutex_lock(&s->mutex);
    if (s->count != BULWARK_DEMO_ITEMS_MAX) {
        bulwark_demo_item_t *item = s->items + s->count;
        memcpy(item->owner, owner.base, owner.len);
        item->owner[owner.len] = '\0';
        memcpy(item->name, name, len);
        item->name[len] = '\0';
        id = (uint32_t)++s->count;
        *out = item_json(id, item);
    }
    pthread_mutex_unlock(&s->mutex);
    return id;
}

static void reply_created(h2o_req_t *req, uint32_t id, json_t *v)
{
    char location[sizeof("/api/items/4294967295")];
    int n = snprintf(location, sizeof(location), "/api/items/%u", (unsigned)id);
    h2o_iovec_t value = h2o_strdup(&req->pool, location, (size_t)n);

    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, value.base, value.len);
    bulwark_demo_reply_value(req, 201, "Created", v);
}

int bulwark_demo_items_create(bulwark_demo_api_t *api, h2o_req_t *req, bulwark_reqctx_t *ctx)
{
    json_t *body, *v = NULL;
    const char *name;
    size_t len;
    uint32_t id;

    if (!is_signed_in(ctx) || ctx->auth.subject.len > BULWARK_JWT_SUB_MAX) {
        bulwark_reply_detail(req, 401, "Unauthorized", "Not authenticated");
        return 0;
    }
    if ((body = bulwark_demo_body(req)) == NULL || json_object_size(body) != 1 ||
        (name = bulwark_demo_string(body, "name", &len)) == NULL || !valid_name(name, len)) {
        json_decref(body);
        bulwark_demo_reply_invalid_body(req);
        return 0;
    }
    id = add_item(&api->items, ctx->auth.subject, name, len, &v);
    json_decref(body);
    if (id == 0) {
        bulwark_reply_detail(req, 507, "Insufficient Storage", "Item limit reached");
        return 0;
    }
    reply_created(req, id, v);
    return 0;
}
