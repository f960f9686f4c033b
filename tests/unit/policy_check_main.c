/*
 * Test driver for app/policy, until main.c wires `bulwark policy check`:
 *
 *   policy_check_main FILE     the check lines, then a count; exit 0 when no
 *                              rule fails, 1 when one does, 2 when FILE does
 *                              not load (the loader's one line on stderr)
 *   policy_check_main --keys   every key the loader accepts, one a line
 *   policy_check_main --rules  every rule id, one a line
 */
#include <stdio.h>
#include <string.h>
#include "policy/policy.h"

#define EXIT_LOAD_ERROR 2
#define LINE_MAX_ 2048
#define ERR_MAX 512

static void print_result(void *arg, const bulwark_check_result_t *r)
{
    char line[LINE_MAX_];

    (void)arg;
    bulwark_check_format(line, sizeof(line), r);
    puts(line);
}

static void print_key(void *arg, const char *key)
{
    (void)arg;
    puts(key);
}

static int check(const char *file)
{
    bulwark_policy_t *policy;
    bulwark_check_counts_t counts;
    char err[ERR_MAX];
    int failed;

    if (bulwark_policy_load(file, &policy, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_LOAD_ERROR;
    }
    failed = bulwark_policy_check(policy, print_result, NULL, &counts);
    printf("%u rules: %u passed, %u warned, %u failed\n", counts.pass + counts.warn + counts.fail, counts.pass, counts.warn,
           counts.fail);
    bulwark_policy_free(policy);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: policy_check_main FILE | --keys | --rules\n");
        return EXIT_LOAD_ERROR;
    }
    if (strcmp(argv[1], "--keys") == 0) {
        bulwark_policy_keys(print_key, NULL);
        return 0;
    }
    if (strcmp(argv[1], "--rules") == 0) {
        for (i = 0; bulwark_check_rule_id(i) != NULL; i++)
            puts(bulwark_check_rule_id(i));
        return 0;
    }
    return check(argv[1]);
}
