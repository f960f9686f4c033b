/*
 * A small pool of threads for blocking CPU work (PBKDF2 at 310,000
 * iterations costs about half a second): an event loop hands a job over,
 * goes on serving, and gets the job back on its own thread through h2o's
 * multithread queue, where it may touch the request again.
 *
 * Life cycle, all from the thread named:
 *   main thread  bulwark_workers_new() before the event loops start,
 *                bulwark_workers_free() after they have all finished;
 *   each loop    bulwark_workers_attach() after h2o_context_init(),
 *                bulwark_workers_detach() before h2o_context_dispose();
 *   a loop       bulwark_workers_submit() from a request handler.
 *
 * A submitted job always comes back (done runs exactly once), unless the
 * pool is freed first: detach waits for the loop's jobs, so a loop's queue
 * is never destroyed under a job that still has to come home.
 */
#ifndef BULWARK_WORKERS_H
#define BULWARK_WORKERS_H

#include <stddef.h>
#include "h2o.h"

/* Jobs waiting for a thread, all loops together. A PBKDF2 login takes about
 * 0.5 s of one core: with two threads, 64 waiting logins are 16 s of work,
 * already longer than a client waits for a login. Past it a submission is
 * refused and the caller answers 503 at once instead of queueing forever. */
#define BULWARK_WORKERS_QUEUE_MAX 64
/* more threads than this is a typo, not a machine */
#define BULWARK_WORKERS_THREADS_MAX 64

typedef struct st_bulwark_workers_t bulwark_workers_t;
typedef struct st_bulwark_workers_loop_t bulwark_workers_loop_t;
typedef struct st_bulwark_workers_job_t bulwark_workers_job_t;

struct st_bulwark_workers_job_t {
    void (*run)(bulwark_workers_job_t *job);  /* on a pool thread */
    void (*done)(bulwark_workers_job_t *job); /* back on the submitting loop's thread */
    /* private */
    h2o_multithread_message_t message_;
    bulwark_workers_loop_t *loop_;
    bulwark_workers_job_t *next_;
};

/* Half the online CPUs, at least one: the event loops keep the other half,
 * so a burst of logins slows logins down, never every other request. */
size_t bulwark_workers_default_threads(void);

/* Starts threads (1..BULWARK_WORKERS_THREADS_MAX) pool threads; NULL with one
 * line in err when a thread cannot be started. */
bulwark_workers_t *bulwark_workers_new(size_t threads, char *err, size_t errlen);
/* Stops and joins the threads; jobs still waiting are dropped (call it once
 * every loop has detached). NULL is ignored. */
void bulwark_workers_free(bulwark_workers_t *workers);

/* Registers ctx (its multithread queue) as a place jobs come back to. */
void bulwark_workers_attach(bulwark_workers_t *workers, h2o_context_t *ctx);
/* Runs ctx's loop until its outstanding jobs are back, then unregisters. */
void bulwark_workers_detach(bulwark_workers_t *workers, h2o_context_t *ctx);

/* Queues job (run and done set by the caller; the rest is the pool's) to
 * come back to ctx. Returns 0, or -1 when the queue is full or ctx was
 * never attached: job is then untouched and done will not run. */
int bulwark_workers_submit(bulwark_workers_t *workers, h2o_context_t *ctx, bulwark_workers_job_t *job);

#endif
