/*
 * `bulwark policy ...`: the operator's view of a policy file.
 *
 *   bulwark policy check FILE   one PASS/WARN/FAIL line per rule (each
 *                               non-PASS with a Fix: hint), then a count;
 *                               exit 0 when no rule fails, 1 when one does,
 *                               2 when FILE does not load
 *   bulwark policy keys         every key the loader accepts, one a line
 *   bulwark policy rules        every rule id, one a line
 */
#include <stdio.h>
#include <string.h>
#include "policy/policy.h"
#include "policy_cmd.h"

#define EXIT_LOAD_ERROR 2
/* a check line is a rule id, a sentence and a hint */
#define CHECK_LINE_MAX 2048
/* the loader's message: file:line:col, the key and what was expected */
#define LOAD_ERROR_MAX 512

static void print_result(void *arg, const bulwark_check_result_t *r)
{
    char line[CHECK_LINE_MAX];

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
    char err[LOAD_ERROR_MAX];
    int failed;

    if (bulwark_policy_load(file, &policy, err, sizeof(err)) != 0) {
        fprintf(stderr, "bulwark: error: %s\n", err);
        return EXIT_LOAD_ERROR;
    }
    failed = bulwark_policy_check(policy, print_result, NULL, &counts);
    printf("%u rules: %u passed, %u warned, %u failed\n", counts.pass + counts.warn + counts.fail, counts.pass, counts.warn,
           counts.fail);
    bulwark_policy_free(policy);
    return failed ? 1 : 0;
}

int bulwark_policy_command(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[0], "check") == 0)
        return check(argv[1]);
    if (argc == 1 && strcmp(argv[0], "keys") == 0) {
        bulwark_policy_keys(print_key, NULL);
        return 0;
    }
    if (argc == 1 && strcmp(argv[0], "rules") == 0) {
        for (size_t i = 0; bulwark_check_rule_id(i) != NULL; i++)
            puts(bulwark_check_rule_id(i));
        return 0;
    }
    fprintf(stderr, "bulwark: unknown policy command\nusage: %s\n", BULWARK_POLICY_SYNOPSIS);
    return EXIT_LOAD_ERROR;
}
