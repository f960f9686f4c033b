/*
 * The baked-in policy; see policy_builtin.h.
 *
 * The assembler's .incbin copies the file into .rodata, byte for byte: no
 * generated source, no host tool (xxd) and nothing to escape.  The Makefile
 * names the file with -DBULWARK_POLICY_FILE="..." (POLICY=FILE ./build.sh)
 * and makes this object depend on it; without it the default policy is
 * taken, relative to the directory make runs in (the repository root).
 */
#include "policy_builtin.h"

#ifndef BULWARK_POLICY_FILE
#define BULWARK_POLICY_FILE "policy/default.yaml"
#endif

__asm__(".section .rodata\n"
        ".balign 16\n"
        "bulwark_policy_builtin_start:\n"
        ".incbin \"" BULWARK_POLICY_FILE "\"\n"
        "bulwark_policy_builtin_end:\n"
        ".balign 8\n"
        "bulwark_policy_builtin_size:\n"
        ".quad bulwark_policy_builtin_end - bulwark_policy_builtin_start\n"
        ".previous\n");

extern const char bulwark_policy_builtin_start[] __asm__("bulwark_policy_builtin_start");
extern const unsigned long long bulwark_policy_builtin_size __asm__("bulwark_policy_builtin_size");

const char *bulwark_policy_builtin(size_t *len)
{
    *len = (size_t)bulwark_policy_builtin_size;
    return bulwark_policy_builtin_start;
}
