/*
 * The builtin JSON validator; see json_schema.h.  Jansson parses (strict
 * RFC 8259, valid UTF-8 only, no NUL in strings, duplicate keys refused so
 * that no two layers can read a different member); lengths are counted in
 * characters (code points).
 */
#include <string.h>
#include <jansson.h>
#include "json_schema.h"

/* lengths the demo API's storage and its users file were built for */
#define CREDENTIAL_MAX_CHARS 256
/* RFC 5321 section 4.5.3.1.3: a forward-path is at most 256 octets including
 * the angle brackets, so an address is at most 254 */
#define EMAIL_MAX_CHARS 254
#define ITEM_NAME_MIN_CHARS 1
#define ITEM_NAME_MAX_CHARS 100

typedef struct st_member_rule_t {
    const char *name;
    size_t min_chars, max_chars;
    int (*check)(const char *s, size_t len); /* NULL: any text */
} member_rule_t;

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i != len; ++i)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

/* "local@domain": one "@", with something on both sides */
static int is_email(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);

    return at != NULL && at != s && at != s + len - 1 && memchr(at + 1, '@', len - (size_t)(at - s) - 1) == NULL;
}

static const member_rule_t login_rules[] = {
    {"username", 0, CREDENTIAL_MAX_CHARS, NULL},
    {"password", 0, CREDENTIAL_MAX_CHARS, NULL},
};
static const member_rule_t password_reset_rules[] = {
    {"email", 0, EMAIL_MAX_CHARS, is_email},
};
static const member_rule_t item_create_rules[] = {
    {"name", ITEM_NAME_MIN_CHARS, ITEM_NAME_MAX_CHARS, NULL},
};

static int member_valid(json_t *obj, const member_rule_t *rule)
{
    json_t *v = json_object_get(obj, rule->name);
    size_t len, chars;

    if (!json_is_string(v))
        return 0;
    len = json_string_length(v);
    chars = utf8_chars(json_string_value(v), len);
    if (chars < rule->min_chars || chars > rule->max_chars)
        return 0;
    return rule->check == NULL || rule->check(json_string_value(v), len);
}

static int object_valid(json_t *obj, const member_rule_t *rules, size_t num_rules)
{
    if (!json_is_object(obj) || json_object_size(obj) != num_rules)
        return 0;
    /* as many members as rules, and every rule's member present: no others */
    for (size_t i = 0; i != num_rules; ++i)
        if (!member_valid(obj, rules + i))
            return 0;
    return 1;
}

int bulwark_json_schema_valid(bulwark_json_schema_t schema, const char *body, size_t len)
{
    const member_rule_t *rules;
    size_t num_rules;
    json_error_t error;
    json_t *obj;
    int valid;

    switch (schema) {
    case BULWARK_SCHEMA_NONE:
        return 1;
    case BULWARK_SCHEMA_LOGIN:
        rules = login_rules, num_rules = sizeof(login_rules) / sizeof(login_rules[0]);
        break;
    case BULWARK_SCHEMA_PASSWORD_RESET:
        rules = password_reset_rules, num_rules = sizeof(password_reset_rules) / sizeof(password_reset_rules[0]);
        break;
    case BULWARK_SCHEMA_ITEM_CREATE:
        rules = item_create_rules, num_rules = sizeof(item_create_rules) / sizeof(item_create_rules[0]);
        break;
    default:
        return 0;
    }
    if (body == NULL || (obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error)) == NULL)
        return 0;
    valid = object_valid(obj, rules, num_rules);
    json_decref(obj);
    return valid;
}
