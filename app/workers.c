/*
 * The worker-thread pool; see workers.h.
 *
 * One FIFO of jobs under one mutex: jobs are few and long (hundreds of
 * milliseconds each), so the lock is never contended in a way that matters.
 * A finished job travels home as an h2o multithread message to the receiver
 * its loop attached; the loop-side count of outstanding jobs is touched only
 * on that loop's thread (submit and the message callback), so it needs no
 * lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "workers.h"

/* how long detach lets the loop wait for a straggling job before looking
 * again (it returns as soon as the job's message wakes the loop) */
#define DETACH_POLL_MS 100

struct st_bulwark_workers_loop_t {
    h2o_multithread_receiver_t receiver;
    h2o_context_t *ctx;
    size_t outstanding; /* the loop's thread only */
    bulwark_workers_loop_t *next;
};

struct st_bulwark_workers_t {
    pthread_mutex_t mutex;
    pthread_cond_t cond; /* a job was queued, or stopping */
    bulwark_workers_job_t *head, *tail;
    size_t queued;
    int stopping;
    bulwark_workers_loop_t *loops;
    pthread_t *threads;
    size_t num_threads;
};

size_t bulwark_workers_default_threads(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = cpus > 1 ? (size_t)cpus / 2 : 1;

    return n > BULWARK_WORKERS_THREADS_MAX ? BULWARK_WORKERS_THREADS_MAX : n;
}

/* --- pool threads -------------------------------------------------------- */

static bulwark_workers_job_t *take_job(bulwark_workers_t *w)
{
    bulwark_workers_job_t *job;

    pthread_mutex_lock(&w->mutex);
    while (w->head == NULL && !w->stopping)
        pthread_cond_wait(&w->cond, &w->mutex);
    job = w->stopping ? NULL : w->head;
    if (job != NULL) {
        w->head = job->next_;
        if (w->head == NULL)
            w->tail = NULL;
        --w->queued;
    }
    pthread_mutex_unlock(&w->mutex);
    return job;
}

static void *thread_main(void *arg)
{
    bulwark_workers_t *w = arg;
    bulwark_workers_job_t *job;

    while ((job = take_job(w)) != NULL) {
        job->run(job);
        h2o_multithread_send_message(&job->loop_->receiver, &job->message_);
    }
    return NULL;
}

static int start_threads(bulwark_workers_t *w, size_t threads, char *err, size_t errlen)
{
    pthread_attr_t attr;
    int ret = 0;

    pthread_attr_init(&attr);
    for (w->num_threads = 0; w->num_threads != threads; ++w->num_threads) {
        if ((ret = pthread_create(w->threads + w->num_threads, &attr, thread_main, w)) != 0)
            break;
    }
    pthread_attr_destroy(&attr);
    if (ret != 0) {
        snprintf(err, errlen, "cannot start a worker thread: %s", strerror(ret));
        return -1;
    }
    return 0;
}

bulwark_workers_t *bulwark_workers_new(size_t threads, char *err, size_t errlen)
{
    bulwark_workers_t *w;

    if (threads == 0 || threads > BULWARK_WORKERS_THREADS_MAX) {
        snprintf(err, errlen, "worker threads must be 1 to %d, not %zu", BULWARK_WORKERS_THREADS_MAX, threads);
        return NULL;
    }
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): musl's pthread_t is a pointer type; this is sizeof(pthread_t) */
    if ((w = calloc(1, sizeof(*w))) == NULL || (w->threads = calloc(threads, sizeof(*w->threads))) == NULL) {
        free(w);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mutex, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (start_threads(w, threads, err, errlen) != 0) {
        bulwark_workers_free(w);
        return NULL;
    }
    return w;
}

void bulwark_workers_free(bulwark_workers_t *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mutex);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mutex);
    for (size_t i = 0; i != w->num_threads; ++i)
        pthread_join(w->threads[i], NULL);
    while (w->loops != NULL) {
        bulwark_workers_loop_t *next = w->loops->next;
        free(w->loops);
        w->loops = next;
    }
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mutex);
    free(w->threads);
    free(w);
}

/* --- event-loop side ---------------------------------------------------- */

static void on_jobs_back(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    bulwark_workers_loop_t *loop = H2O_STRUCT_FROM_MEMBER(bulwark_workers_loop_t, receiver, receiver);

    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        bulwark_workers_job_t *job = H2O_STRUCT_FROM_MEMBER(bulwark_workers_job_t, message_, m);
        h2o_linklist_unlink(&m->link);
        --loop->outstanding;
        job->done(job);
    }
}

static bulwark_workers_loop_t *find_loop(bulwark_workers_t *w, const h2o_context_t *ctx, bulwark_workers_loop_t ***slot)
{
    bulwark_workers_loop_t **p;

    for (p = &w->loops; *p != NULL; p = &(*p)->next)
        if ((*p)->ctx == ctx)
            break;
    if (slot != NULL)
        *slot = p;
    return *p;
}

void bulwark_workers_attach(bulwark_workers_t *w, h2o_context_t *ctx)
{
    bulwark_workers_loop_t *loop = calloc(1, sizeof(*loop));

    if (loop == NULL)
        h2o_fatal("out of memory");
    loop->ctx = ctx;
    h2o_multithread_register_receiver(ctx->queue, &loop->receiver, on_jobs_back);
    pthread_mutex_lock(&w->mutex);
    loop->next = w->loops;
    w->loops = loop;
    pthread_mutex_unlock(&w->mutex);
}

void bulwark_workers_detach(bulwark_workers_t *w, h2o_context_t *ctx)
{
    bulwark_workers_loop_t *loop, **slot;

    pthread_mutex_lock(&w->mutex);
    loop = find_loop(w, ctx, NULL);
    pthread_mutex_unlock(&w->mutex);
    if (loop == NULL)
        return;
    /* jobs of requests that are long gone still come home here */
    while (loop->outstanding != 0)
        h2o_evloop_run(ctx->loop, DETACH_POLL_MS);
    h2o_multithread_unregister_receiver(ctx->queue, &loop->receiver);
    pthread_mutex_lock(&w->mutex);
    if (find_loop(w, ctx, &slot) == loop)
        *slot = loop->next;
    pthread_mutex_unlock(&w->mutex);
    free(loop);
}

int bulwark_workers_submit(bulwark_workers_t *w, h2o_context_t *ctx, bulwark_workers_job_t *job)
{
    bulwark_workers_loop_t *loop;
    int ret = -1;

    pthread_mutex_lock(&w->mutex);
    if ((loop = find_loop(w, ctx, NULL)) != NULL && w->queued < BULWARK_WORKERS_QUEUE_MAX && !w->stopping) {
        memset(&job->message_, 0, sizeof(job->message_));
        job->loop_ = loop;
        job->next_ = NULL;
        if (w->tail != NULL)
            w->tail->next_ = job;
        else
            w->head = job;
        w->tail = job;
        ++w->queued;
        ++loop->outstanding;
        pthread_cond_signal(&w->cond);
        ret = 0;
    }
    pthread_mutex_unlock(&w->mutex);
    return ret;
}
