/* kumis — media worker threads, one GMainContext each (DESIGN §3). */
#include "media/worker.h"

#include <gio/gio.h>

#include "media/poller.h"
#include "media/sender.h"

struct kumis_worker {
    struct kumis_worker_pool *pool;
    guint index;
    GMainContext *context;
    GMainLoop *loop;
    GThread *thread;
    struct kumis_sender *sender; /* flushes on the worker's context; worker thread only */
    struct kumis_poller *poller; /* the transports' sockets; worker thread only */
    gint load;                   /* atomic: transports on this worker */
};

struct kumis_worker_pool {
    GMainContext *control;
    guint n_workers;
    struct kumis_worker *workers;
};

static gpointer worker_run(gpointer data)
{
    struct kumis_worker *worker = data;
    g_main_context_push_thread_default(worker->context);
    g_main_loop_run(worker->loop);
    g_main_context_pop_thread_default(worker->context);
    return NULL;
}

struct kumis_worker_pool *kumis_worker_pool_new(guint n_workers, GMainContext *control,
                                                GError **error)
{
    if (n_workers == 0)
        n_workers = MAX(1, g_get_num_processors());
    struct kumis_worker_pool *pool = g_new0(struct kumis_worker_pool, 1);
    pool->control =
        control ? g_main_context_ref(control) : g_main_context_ref(g_main_context_default());
    pool->workers = g_new0(struct kumis_worker, n_workers);
    for (guint i = 0; i < n_workers; i++) {
        struct kumis_worker *w = &pool->workers[i];
        w->pool = pool;
        w->index = i;
        w->context = g_main_context_new();
        w->loop = g_main_loop_new(w->context, FALSE);
        w->sender = kumis_sender_new(w->context, 0);
        w->poller = kumis_poller_new(w->context);
        g_autofree char *name = g_strdup_printf("kumis-media-%u", i);
        w->thread = g_thread_try_new(name, worker_run, w, error);
        if (w->thread == NULL) {
            kumis_sender_free(w->sender);
            kumis_poller_free(w->poller);
            g_main_loop_unref(w->loop);
            g_main_context_unref(w->context);
            pool->n_workers = i;
            kumis_worker_pool_free(pool);
            return NULL;
        }
        pool->n_workers = i + 1;
    }
    return pool;
}

static gboolean worker_quit(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

void kumis_worker_pool_free(struct kumis_worker_pool *pool)
{
    if (pool == NULL)
        return;
    for (guint i = 0; i < pool->n_workers; i++) {
        struct kumis_worker *w = &pool->workers[i];
        /* Queued behind the work already posted, so earlier closes still run. */
        kumis_worker_post(w, worker_quit, g_main_loop_ref(w->loop),
                          (GDestroyNotify)g_main_loop_unref);
    }
    for (guint i = 0; i < pool->n_workers; i++) {
        struct kumis_worker *w = &pool->workers[i];
        g_thread_join(w->thread);
        kumis_sender_free(w->sender); /* the thread is gone: what it queued goes out here */
        kumis_poller_free(w->poller);
        g_main_loop_unref(w->loop);
        g_main_context_unref(w->context); /* destroys what is still queued */
    }
    g_main_context_unref(pool->control);
    g_free(pool->workers);
    g_free(pool);
}

guint kumis_worker_pool_get_size(const struct kumis_worker_pool *pool)
{
    return pool->n_workers;
}

struct kumis_worker *kumis_worker_pool_get(struct kumis_worker_pool *pool, guint index)
{
    g_return_val_if_fail(index < pool->n_workers, NULL);
    return &pool->workers[index];
}

struct kumis_worker *kumis_worker_pool_pick(struct kumis_worker_pool *pool)
{
    struct kumis_worker *best = &pool->workers[0];
    for (guint i = 1; i < pool->n_workers; i++)
        if (kumis_worker_get_load(&pool->workers[i]) < kumis_worker_get_load(best))
            best = &pool->workers[i];
    return best;
}

void kumis_worker_load_add(struct kumis_worker *worker, gint delta)
{
    gint was = g_atomic_int_add(&worker->load, delta);
    g_assert(was + delta >= 0);
}

guint kumis_worker_get_load(const struct kumis_worker *worker)
{
    return (guint)g_atomic_int_get(&worker->load);
}

guint kumis_worker_get_index(const struct kumis_worker *worker)
{
    return worker->index;
}

GMainContext *kumis_worker_get_context(struct kumis_worker *worker)
{
    return worker->context;
}

struct kumis_sender *kumis_worker_get_sender(struct kumis_worker *worker)
{
    return worker->sender;
}

struct kumis_poller *kumis_worker_get_poller(struct kumis_worker *worker)
{
    return worker->poller;
}

GMainContext *kumis_worker_get_control_context(struct kumis_worker *worker)
{
    return worker->pool->control;
}

gboolean kumis_worker_is_current(struct kumis_worker *worker)
{
    return g_main_context_is_owner(worker->context);
}

void kumis_worker_invoke(struct kumis_worker *worker, GSourceFunc func, gpointer data,
                         GDestroyNotify notify)
{
    g_main_context_invoke_full(worker->context, G_PRIORITY_DEFAULT, func, data, notify);
}

void kumis_worker_post(struct kumis_worker *worker, GSourceFunc func, gpointer data,
                       GDestroyNotify notify)
{
    GSource *source = g_idle_source_new();
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, func, data, notify);
    g_source_set_static_name(source, "kumis-worker-post");
    g_source_attach(source, worker->context);
    g_source_unref(source);
}

void kumis_worker_post_control(struct kumis_worker *worker, GSourceFunc func, gpointer data,
                               GDestroyNotify notify)
{
    g_main_context_invoke_full(worker->pool->control, G_PRIORITY_DEFAULT, func, data, notify);
}
