/*
 * Test driver for jansson's hash seed (deps/patches/jansson/0001): seeds the
 * hash function the way the service does, json_object_seed(0), and prints
 * what jansson's clock-and-pid fallback would have produced around that
 * call, so that tests/unit/test_jansson_seed.py can tell the two apart.
 *
 * Output, one line: "SEED PID SEC USEC_BEFORE USEC_AFTER".
 */
#include <inttypes.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>
#include <jansson.h>

/* jansson's own global (hashtable_seed.c); not in jansson.h */
extern volatile uint32_t hashtable_seed;

int main(void)
{
    struct timeval before, after;

    gettimeofday(&before, NULL);
    json_object_seed(0);
    gettimeofday(&after, NULL);
    if (before.tv_sec != after.tv_sec) /* the test retries: the window must not span a second */
        return 2;
    printf("%" PRIu32 " %ld %lld %ld %ld\n", hashtable_seed, (long)getpid(), (long long)before.tv_sec,
           (long)before.tv_usec, (long)after.tv_usec);
    return 0;
}
