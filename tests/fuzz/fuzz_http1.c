/*
 * libFuzzer target: bytes from an HTTP/1.1 client through h2o's HTTP/1
 * parser (with our framing and size patches) and the whole middleware
 * chain and routes of the policy (http_harness.h). One input is one
 * connection: pipelined requests, bodies, chunked encoding included.
 */
#include "h2o.h"
#include "h2o/http1.h"
#include "http_harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    http_harness_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_harness_run(h2o_http1_accept, NULL, 0, data, size);
    return 0;
}
