/*
 * libFuzzer target: the JSON validation of request bodies
 * (app/mw/json_schema.c, jansson underneath), for every builtin schema.
 *
 * The first byte picks the schema, the rest is the body. Beyond the
 * sanitizers: a body the validator accepts is one JSON object holding
 * exactly the schema's members, each a string (checked here on a parse of
 * our own), and every body is accepted by the schema NONE.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "mw/json_schema.h"

static const struct {
    bulwark_json_schema_t schema;
    const char *members[2];
} schemas[] = {
    {BULWARK_SCHEMA_LOGIN, {"username", "password"}},
    {BULWARK_SCHEMA_PASSWORD_RESET, {"email", NULL}},
    {BULWARK_SCHEMA_ITEM_CREATE, {"name", NULL}},
};
#define NUM_SCHEMAS (sizeof(schemas) / sizeof(schemas[0]))

static void fail(const char *what, const char *member)
{
    fprintf(stderr, "fuzz_json_schema: %s%s%s\n", what, member != NULL ? ": " : "", member != NULL ? member : "");
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* as serve.c seeds it; the seed decides nothing a body can observe */
    json_object_seed(1);
    return 0;
}

static void check_accepted(size_t which, const char *body, size_t len)
{
    json_error_t e;
    json_t *obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    size_t want = 0;

    if (!json_is_object(obj))
        fail("accepted a body that is not one JSON object", NULL);
    for (size_t i = 0; i != 2 && schemas[which].members[i] != NULL; ++i, ++want)
        if (!json_is_string(json_object_get(obj, schemas[which].members[i])))
            fail("accepted a body without the string member", schemas[which].members[i]);
    if (json_object_size(obj) != want)
        fail("accepted a body with other members", NULL);
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body;
    size_t len, which;

    if (size == 0)
        return 0;
    which = data[0] % NUM_SCHEMAS;
    body = (const char *)data + 1;
    len = size - 1;
    if (!bulwark_json_schema_valid(BULWARK_SCHEMA_NONE, body, len))
        fail("the schema NONE refused a body", NULL);
    if (bulwark_json_schema_valid(schemas[which].schema, body, len))
        check_accepted(which, body, len);
    return 0;
}
