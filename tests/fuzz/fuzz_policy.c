/*
 * libFuzzer target: the policy loader (YAML through libyaml, the schema,
 * every value parser) and `policy check` on whatever loads.
 *
 * Invariants checked beyond the sanitizers': a refusal says why in a
 * non-empty line; every rule of a loaded policy reports, and the PASS/FAIL
 * lines format without truncation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "policy/policy.h"

/* a check line is one rule, what it found and the fix: 2 KiB is plenty */
#define LINE_MAX_BYTES 2048
#define ERR_MAX 512

struct report {
    unsigned lines;
};

static void on_result(void *arg, const bulwark_check_result_t *r)
{
    struct report *rep = arg;
    char line[LINE_MAX_BYTES];
    int n = bulwark_check_format(line, sizeof(line), r);

    if (n <= 0 || r->rule == NULL || r->what == NULL) {
        fprintf(stderr, "check result without a rule, a finding or a line\n");
        abort();
    }
    ++rep->lines;
}

static void load_and_check(const uint8_t *data, size_t size, const bulwark_policy_options_t *opts)
{
    bulwark_policy_t *policy = NULL;
    char err[ERR_MAX] = "";
    bulwark_check_counts_t counts;
    struct report rep = {0};

    if (bulwark_policy_load_buffer("fuzz.yaml", data, size, opts, &policy, err, sizeof(err)) != 0) {
        if (err[0] == '\0') {
            fprintf(stderr, "policy refused without a reason\n");
            abort();
        }
        return;
    }
    bulwark_policy_check(policy, on_result, &rep, &counts);
    if (rep.lines != counts.pass + counts.warn + counts.fail) {
        fprintf(stderr, "policy check: %u lines for %u results\n", rep.lines, counts.pass + counts.warn + counts.fail);
        abort();
    }
    bulwark_policy_free(policy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* as `policy check` reads it, and as `serve --secrets DIR` does */
    static const bulwark_policy_options_t moved = {.secrets_mount = "/run/bulwark-secrets"};

    load_and_check(data, size, NULL);
    load_and_check(data, size, &moved);
    return 0;
}
