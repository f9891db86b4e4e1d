/* Unit tests for media/worker.c: threads with their own contexts, least-loaded choice, work
 * posted both ways, clean stop. */
#include <glib.h>

#include "media/worker.h"

struct probe {
    struct kumis_worker *worker;
    GThread *thread;
    gboolean was_current;
    gint ran;
    gint freed;
};

static gboolean probe_run(gpointer data)
{
    struct probe *p = data;
    p->thread = g_thread_self();
    p->was_current = kumis_worker_is_current(p->worker);
    g_atomic_int_inc(&p->ran);
    return G_SOURCE_REMOVE;
}

static void probe_free(gpointer data)
{
    struct probe *p = data;
    g_atomic_int_inc(&p->freed);
}

static void wait_for(gint *counter, gint value)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (g_atomic_int_get(counter) < value && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_assert_cmpint(g_atomic_int_get(counter), >=, value);
}

static void test_pool_basics(void)
{
    g_autoptr(GError) error = NULL;
    struct kumis_worker_pool *pool = kumis_worker_pool_new(3, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(kumis_worker_pool_get_size(pool), ==, 3);

    /* Least loaded, lowest index on a tie. */
    struct kumis_worker *w0 = kumis_worker_pool_get(pool, 0), *w1 = kumis_worker_pool_get(pool, 1),
                        *w2 = kumis_worker_pool_get(pool, 2);
    g_assert_true(kumis_worker_pool_pick(pool) == w0);
    kumis_worker_load_add(w0, 2);
    kumis_worker_load_add(w1, 1);
    g_assert_true(kumis_worker_pool_pick(pool) == w2);
    kumis_worker_load_add(w2, 3);
    g_assert_true(kumis_worker_pool_pick(pool) == w1);
    kumis_worker_load_add(w0, -2);
    g_assert_true(kumis_worker_pool_pick(pool) == w0);
    g_assert_cmpuint(kumis_worker_get_load(w2), ==, 3);
    g_assert_cmpuint(kumis_worker_get_index(w2), ==, 2);
    kumis_worker_load_add(w1, -1);
    kumis_worker_load_add(w2, -3);

    /* Work runs on the worker's own thread, which owns its context. */
    struct probe p0 = {.worker = w0}, p1 = {.worker = w1};
    kumis_worker_invoke(w0, probe_run, &p0, probe_free);
    kumis_worker_post(w1, probe_run, &p1, probe_free);
    wait_for(&p0.freed, 1);
    wait_for(&p1.freed, 1);
    g_assert_cmpint(p0.ran, ==, 1);
    g_assert_true(p0.was_current);
    g_assert_true(p1.was_current);
    g_assert_true(p0.thread != g_thread_self());
    g_assert_true(p0.thread != p1.thread);
    g_assert_false(kumis_worker_is_current(w0));
    g_assert_true(kumis_worker_get_control_context(w0) == g_main_context_default());

    /* Events come back to the control context and run there, on this thread. */
    struct probe pc = {.worker = w0};
    kumis_worker_post_control(w2, probe_run, &pc, probe_free);
    wait_for(&pc.ran, 1);
    g_assert_true(pc.thread == g_thread_self());
    kumis_worker_pool_free(pool);
}

static gboolean block_run(gpointer data)
{
    g_usleep(100 * 1000);
    g_atomic_int_inc((gint *)data);
    return G_SOURCE_REMOVE;
}

/* Stopping joins the threads after the work already queued; nothing leaks. */
static void test_pool_stop(void)
{
    struct kumis_worker_pool *pool = kumis_worker_pool_new(0, NULL, NULL);
    g_assert_cmpuint(kumis_worker_pool_get_size(pool), ==, g_get_num_processors());
    gint done = 0;
    kumis_worker_post(kumis_worker_pool_get(pool, 0), block_run, &done, NULL);
    kumis_worker_post(kumis_worker_pool_get(pool, 0), block_run, &done, NULL);
    kumis_worker_pool_free(pool);
    g_assert_cmpint(done, ==, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/worker/pool", test_pool_basics);
    g_test_add_func("/worker/stop", test_pool_stop);
    return g_test_run();
}
