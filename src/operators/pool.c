/* Persistent thread team (see pool.h): one mutex, two condition variables and a run
 * generation counter. */
#include "operators/pool.h"

#include <pthread.h>

typedef struct worker {
    nde_pool *pool;
    size_t index; /* 1..n_workers */
    pthread_t thread;
} worker;

struct nde_pool {
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    unsigned long generation;
    size_t n_workers, n_started, pending;
    int stop;
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t n;
    worker *workers;
};

static void *worker_main(void *p)
{
    worker *w = p;
    nde_pool *pool = w->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && pool->generation == seen) pthread_cond_wait(&pool->start, &pool->mu);
        if (pool->stop) break;
        seen = pool->generation;
        if (w->index < pool->n) {
            void (*fn)(void *, size_t) = pool->fn;
            void *arg = pool->arg;
            pthread_mutex_unlock(&pool->mu);
            fn(arg, w->index);
            pthread_mutex_lock(&pool->mu);
            if (--pool->pending == 0) pthread_cond_signal(&pool->done);
        }
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

void nde_pool_destroy(nde_pool **pool)
{
    if (!pool || !*pool) return;
    nde_pool *p = *pool;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->n_started; i++) pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    nde_free(p->workers);
    nde_free(p);
    *pool = NULL;
}

nde_status nde_pool_create(size_t n_workers, nde_pool **pool)
{
    if (!pool) return NDE_FAIL(NDE_ERR_ARG, "nde_pool_create: pool is NULL");
    nde_pool *p = nde_alloc(sizeof *p);
    if (!p) return NDE_ERR_NOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->n_workers = n_workers;
    p->workers = nde_alloc_array(n_workers ? n_workers : 1, sizeof *p->workers);
    if (!p->workers) {
        nde_pool_destroy(&p);
        return NDE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n_workers; i++) {
        p->workers[i] = (worker){.pool = p, .index = i + 1};
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            nde_pool_destroy(&p);
            return NDE_FAIL(NDE_ERR_NOMEM, "cannot start worker thread %zu of %zu", i + 1, n_workers);
        }
        p->n_started++;
    }
    *pool = p;
    return NDE_OK;
}

void nde_pool_run(nde_pool *p, void (*fn)(void *arg, size_t i), void *arg, size_t n)
{
    if (n > 1) {
        pthread_mutex_lock(&p->mu);
        p->fn = fn;
        p->arg = arg;
        p->n = n;
        p->pending = n - 1;
        p->generation++;
        pthread_cond_broadcast(&p->start);
        pthread_mutex_unlock(&p->mu);
    }
    fn(arg, 0);
    if (n > 1) {
        pthread_mutex_lock(&p->mu);
        while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
