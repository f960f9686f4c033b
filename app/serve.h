/*
 * `bulwark serve`: the policy's middleware and routes on TLS and plain-HTTP
 * listeners, one h2o event loop per thread, graceful shutdown on
 * SIGTERM/SIGINT.
 */
#ifndef BULWARK_SERVE_H
#define BULWARK_SERVE_H

#include <stddef.h>
#include "listener.h"

typedef struct st_bulwark_serve_options_t {
    const char **https; /* ADDR:PORT texts, at least one */
    size_t num_https;
    const char **http; /* ADDR:PORT texts answered with a redirect to HTTPS */
    size_t num_http;
    const char *policy_file; /* NULL: the policy baked in at build time */
    const char *secrets_dir; /* NULL: the policy's secrets.mount */
    const char *cert_file;   /* NULL: the policy's tls.certificate */
    const char *key_file;    /* NULL: the policy's tls.key */
    size_t threads;
    /* Listeners bound by the caller, each with `threads` fds (the appliance's
     * PID 1 binds ports below 1024 before the serving process gives up the
     * right to). When set, https and http are not used and serve owns the
     * fds. */
    bulwark_listener_t *bound;
    size_t num_bound;
    /* Called once start-up is complete (policy, secrets, TLS, listeners and
     * every layer loaded), before the event loops start: the last point at
     * which the process can still narrow what it may do (the appliance
     * installs its seccomp filter here). Non-zero fails start-up with the
     * line it wrote into err. */
    int (*confine)(void *arg, char *err, size_t errlen);
    /* Called once every event loop is serving. */
    void (*on_ready)(void *arg);
    void *hook_arg;
} bulwark_serve_options_t;

/* more event-loop threads than this is a typo, not a machine */
#define BULWARK_SERVE_THREADS_MAX 256

/* one event loop per online CPU, at most BULWARK_SERVE_THREADS_MAX */
size_t bulwark_serve_default_threads(void);

/* Runs until SIGTERM or SIGINT; returns the process exit status (0 after a
 * graceful stop, 1 when start-up failed, with one line on stderr: a policy
 * that does not load or fails a `policy check` rule is such a failure). */
int bulwark_serve(const bulwark_serve_options_t *opts);

#endif
