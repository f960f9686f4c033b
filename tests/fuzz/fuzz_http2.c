/*
 * libFuzzer target: HTTP/2 frames through h2o's HTTP/2 connection (frame
 * decoding, HPACK, flow control, our abuse budgets) and the whole
 * middleware chain and routes of the policy (http_harness.h). The harness
 * sends the client connection preface; the input is what follows it
 * (SETTINGS, HEADERS, CONTINUATION, DATA, RST_STREAM, ... frames).
 */
#include "h2o.h"
#include "h2o/http2.h"
#include "http_harness.h"

#define CLIENT_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    http_harness_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_harness_run(h2o_http2_accept, CLIENT_PREFACE, sizeof(CLIENT_PREFACE) - 1, data, size);
    return 0;
}
