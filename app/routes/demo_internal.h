/*
 * What the files of the demo API share (demo_api.c, demo_users.c,
 * demo_login.c, demo_items.c). Not for use outside them.
 */
#ifndef BULWARK_ROUTES_DEMO_INTERNAL_H
#define BULWARK_ROUTES_DEMO_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <jansson.h>
#include "crypto/jwt.h"
#include "crypto/password.h"
#include "reqctx.h"
#include "demo_api.h"

/* ---- users (users.json, image/demo/README.md) ---- */

/* The file is a few records per user: 1 MiB is thousands of users and
 * keeps a wrong path (a disk image, /dev/zero) from being read whole. */
#define BULWARK_DEMO_USERS_FILE_MAX (1024 * 1024)
/* users are found by a linear scan per login (which then costs 0.5 s) */
#define BULWARK_DEMO_USERS_MAX 1000

typedef struct st_bulwark_demo_user_t {
    char name[BULWARK_JWT_SUB_MAX + 1];     /* the token's `sub` */
    char scope[BULWARK_JWT_SCOPE_MAX + 1]; /* space-separated, as the token carries it */
    bulwark_password_hash_t hash;
} bulwark_demo_user_t;

typedef struct st_bulwark_demo_users_t {
    bulwark_demo_user_t *users;
    size_t count;
    uint32_t dummy_iterations; /* what an unknown user's attempt costs: the dearest stored hash */
} bulwark_demo_users_t;

int bulwark_demo_users_load(bulwark_demo_users_t *users, const char *path, char *err, size_t errlen);
void bulwark_demo_users_free(bulwark_demo_users_t *users);
const bulwark_demo_user_t *bulwark_demo_users_find(const bulwark_demo_users_t *users, const char *name, size_t len);

/* ---- items ---- */

/* Created items live in memory, per process, until it exits. The bound
 * keeps a client with a valid token from growing the process without end:
 * 1024 items of at most ~670 bytes are under 1 MiB (the appliance serves in
 * 48 MiB). Past it a creation is answered 507. */
#define BULWARK_DEMO_ITEMS_MAX 1024
/* DEFAULT-POLICY.md: {"name": string 1..100}, counted in characters */
#define BULWARK_DEMO_ITEM_NAME_MAX 100
/* UTF-8 takes at most 4 bytes per character */
#define BULWARK_DEMO_ITEM_NAME_BYTES_MAX (4 * BULWARK_DEMO_ITEM_NAME_MAX)

typedef struct st_bulwark_demo_item_t {
    char owner[BULWARK_JWT_SUB_MAX + 1];
    char name[BULWARK_DEMO_ITEM_NAME_BYTES_MAX + 1];
} bulwark_demo_item_t;

/* item id i (1-based, never reused) is items[i - 1] */
typedef struct st_bulwark_demo_items_t {
    pthread_mutex_t mutex;
    bulwark_demo_item_t *items;
    size_t count;
} bulwark_demo_items_t;

int bulwark_demo_items_init(bulwark_demo_items_t *items, char *err, size_t errlen);
void bulwark_demo_items_dispose(bulwark_demo_items_t *items);

/* ---- the API ---- */

struct st_bulwark_demo_api_t {
    const bulwark_policy_t *policy;
    bulwark_workers_t *workers;
    int has_users, has_signer;
    bulwark_demo_users_t users;
    bulwark_jwt_signer_t signer;
    char *jwks; /* NULL without auth keys */
    size_t jwks_len;
    bulwark_demo_items_t items;
};

/* the route handlers: 0 when answered, -1 to pass the request on */
int bulwark_demo_login(bulwark_demo_api_t *api, h2o_req_t *req);
int bulwark_demo_items_get(bulwark_demo_api_t *api, h2o_req_t *req, bulwark_reqctx_t *ctx);
int bulwark_demo_items_create(bulwark_demo_api_t *api, h2o_req_t *req, bulwark_reqctx_t *ctx);

/* ---- helpers ---- */

/* The request body as a JSON object (NULL when absent or not one; the
 * input-limits layer has already answered 415/422 for those, this is the
 * handlers' own guard). Release with json_decref. */
json_t *bulwark_demo_body(h2o_req_t *req);
/* a string member of obj, or NULL */
const char *bulwark_demo_string(json_t *obj, const char *key, size_t *len);
/* sends v (a reference is taken over) as JSON */
void bulwark_demo_reply_value(h2o_req_t *req, int status, const char *reason, json_t *v);
/* 422 with a generic detail */
void bulwark_demo_reply_invalid_body(h2o_req_t *req);
void bulwark_demo_reply_not_found(h2o_req_t *req);
/* one structured log line: event, request_id, and one optional string */
void bulwark_demo_log(h2o_req_t *req, const char *event, const char *key, const char *value, size_t len);

#endif
