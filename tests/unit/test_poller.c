/* Unit tests for media/poller.c: private contexts holding UDP sockets' sources are iterated by
 * one epoll source of an outer context, only when their fds are ready. Real sockets on
 * 127.0.0.1. */
#include <gio/gio.h>

#include "media/poller.h"

struct endpoint {
    GMainContext *context;
    GSocket *socket;
    GSource *source;
    struct kumis_poller_watch *watch;
    guint received;
    struct endpoint *remove_on_receive; /* its watch is removed from within our dispatch */
};

static gboolean endpoint_on_readable(GSocket *socket, GIOCondition condition, gpointer data)
{
    (void)condition;
    struct endpoint *e = data;
    char buf[64];
    while (g_socket_receive(socket, buf, sizeof buf, NULL, NULL) > 0)
        e->received++;
    if (e->remove_on_receive != NULL) {
        g_clear_pointer(&e->remove_on_receive->watch, kumis_poller_remove);
        e->remove_on_receive = NULL;
    }
    return G_SOURCE_CONTINUE;
}

static void endpoint_attach_source(struct endpoint *e)
{
    e->source = g_socket_create_source(e->socket, G_IO_IN, NULL);
    g_source_set_callback(e->source, G_SOURCE_FUNC(endpoint_on_readable), e, NULL);
    g_source_attach(e->source, e->context);
}

static void endpoint_init(struct endpoint *e, gboolean with_source)
{
    g_autoptr(GError) error = NULL;
    e->context = g_main_context_new();
    e->socket =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
    g_assert_no_error(error);
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    g_assert_true(g_socket_bind(e->socket, any, FALSE, &error));
    g_assert_no_error(error);
    g_socket_set_blocking(e->socket, FALSE);
    if (with_source)
        endpoint_attach_source(e);
}

static void endpoint_clear(struct endpoint *e)
{
    g_clear_pointer(&e->watch, kumis_poller_remove);
    if (e->source) {
        g_source_destroy(e->source);
        g_source_unref(e->source);
    }
    g_object_unref(e->socket);
    g_main_context_unref(e->context);
}

static void send_to(struct endpoint *e, guint n)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketAddress) to = g_socket_get_local_address(e->socket, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < n; i++)
        g_assert_cmpint(g_socket_send_to(e->socket, to, "x", 1, NULL, &error), ==, 1);
}

/* The outer context (a worker's, here the test thread's) and its poller. */
struct harness {
    GMainContext *outer;
    struct kumis_poller *poller;
};

static void harness_open(struct harness *h)
{
    h->outer = g_main_context_new();
    g_main_context_push_thread_default(h->outer);
    h->poller = kumis_poller_new(h->outer);
}

static void harness_close(struct harness *h)
{
    kumis_poller_free(h->poller);
    g_main_context_pop_thread_default(h->outer);
    g_main_context_unref(h->outer);
}

/* An endpoint with its socket's source, its context watched by @poller. */
static void endpoint_open_watched(struct endpoint *e, struct kumis_poller *poller)
{
    endpoint_init(e, TRUE);
    e->watch = kumis_poller_add(poller, e->context);
}

/* Iterates @outer until @e got @n datagrams (5 s at most), then until nothing is left. */
static void run_until(GMainContext *outer, struct endpoint *e, guint n)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (e->received < n && g_get_monotonic_time() < deadline)
        g_main_context_iteration(outer, TRUE);
    g_assert_cmpuint(e->received, ==, n);
    while (g_main_context_iteration(outer, FALSE))
        ;
}

/* Only the context whose socket is readable is iterated, once per burst: GLib 2.74 would wake
 * a context after each dispatch of a source that may not recurse (putting its fd back into
 * the poll set), which cost an extra iteration and two system calls per datagram burst. */
static void test_only_ready(void)
{
    struct harness hs;
    harness_open(&hs);
    GMainContext *outer = hs.outer;
    struct kumis_poller *poller = hs.poller;
    struct endpoint a = {0}, b = {0};
    endpoint_open_watched(&a, poller);
    endpoint_open_watched(&b, poller);
    while (g_main_context_iteration(outer, FALSE))
        ;
    guint64 before = kumis_poller_get_iterations(poller);

    for (guint round = 1; round <= 3; round++) {
        send_to(&a, 4);
        run_until(outer, &a, 4 * round);
    }
    g_assert_cmpuint(b.received, ==, 0);
    g_assert_cmpuint(kumis_poller_get_iterations(poller) - before, ==, 3);

    send_to(&b, 2);
    run_until(outer, &b, 2);
    g_assert_cmpuint(a.received, ==, 12);
    g_assert_cmpuint(kumis_poller_get_iterations(poller) - before, ==, 4);

    endpoint_clear(&a);
    endpoint_clear(&b);
    harness_close(&hs);
}

/* A source attached to a watched context later (libnice attaches its socket's source when it
 * gathers) is watched too: attaching it wakes the context, whose wake-up fd is watched. */
static void test_late_source(void)
{
    struct harness hs;
    harness_open(&hs);
    GMainContext *outer = hs.outer;
    struct kumis_poller *poller = hs.poller;
    struct endpoint e = {0};
    endpoint_init(&e, FALSE);
    e.watch = kumis_poller_add(poller, e.context);
    endpoint_attach_source(&e);
    send_to(&e, 3);
    run_until(outer, &e, 3);
    endpoint_clear(&e);
    harness_close(&hs);
}

/* A watch removed from within another context's dispatch of the same round (a transport
 * closing another) is neither iterated nor touched afterwards (ASan checks the latter). */
static void test_remove_in_dispatch(void)
{
    struct harness hs;
    harness_open(&hs);
    GMainContext *outer = hs.outer;
    struct kumis_poller *poller = hs.poller;
    struct endpoint a = {0}, b = {0};
    endpoint_open_watched(&a, poller);
    endpoint_open_watched(&b, poller);
    a.remove_on_receive = &b;
    b.remove_on_receive = &a;
    send_to(&a, 1);
    send_to(&b, 1);
    g_usleep(10000); /* both readable before the poller looks */
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (a.received + b.received == 0 && g_get_monotonic_time() < deadline)
        g_main_context_iteration(outer, TRUE);
    while (g_main_context_iteration(outer, FALSE))
        ;
    /* Whichever ran first removed the other, so exactly one received. */
    g_assert_cmpuint(a.received + b.received, ==, 1);
    g_assert_true((a.watch == NULL) != (b.watch == NULL));
    endpoint_clear(&a);
    endpoint_clear(&b);
    harness_close(&hs);
}

/* A timer of a watched context (libnice's checks, keep-alives and consent) fires on time with
 * no fd ready, from the poller's one ready time, without the poller spinning meanwhile. */
static gboolean on_timer(gpointer data)
{
    gint64 *fired = data;
    *fired = g_get_monotonic_time();
    return G_SOURCE_REMOVE;
}

static GSource *timer_attach(GMainContext *context, guint ms, gint64 *fired)
{
    GSource *timer = g_timeout_source_new(ms);
    g_source_set_callback(timer, on_timer, fired, NULL);
    g_source_attach(timer, context);
    return timer;
}

static gboolean on_guard(gpointer data)
{
    (void)data;
    return G_SOURCE_CONTINUE;
}

/* Iterates @outer until *@fired is set (2 s at most: a guard timer of @outer's own ends a
 * wait nothing else would). Returns: the loop iterations it took. */
static guint run_until_fired(GMainContext *outer, const gint64 *fired)
{
    g_autoptr(GSource) guard = g_timeout_source_new(500);
    g_source_set_callback(guard, on_guard, NULL, NULL);
    g_source_attach(guard, outer);
    gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    guint turns = 0;
    while (*fired == 0 && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(outer, TRUE);
        turns++;
    }
    g_source_destroy(guard);
    g_assert_cmpint(*fired, !=, 0);
    return turns;
}

static void test_timer(void)
{
    struct harness hs;
    harness_open(&hs);
    struct endpoint e = {0};
    endpoint_init(&e, TRUE);
    gint64 fired = 0;
    gint64 start = g_get_monotonic_time();
    GSource *timer = timer_attach(e.context, 100, &fired);
    e.watch = kumis_poller_add(hs.poller, e.context);
    guint turns = run_until_fired(hs.outer, &fired);
    g_source_unref(timer);
    g_assert_cmpint(fired - start, >=, 100000);
    g_assert_cmpint(fired - start, <, 1000000);
    g_assert_cmpuint(turns, <=, 3);
    endpoint_clear(&e);
    harness_close(&hs);
}

/* A timer the poller's own thread adds (a job calling into libnice) is seen after
 * kumis_poller_refresh(); one added from another thread wakes the context by itself. */
struct attach_job {
    GMainContext *context;
    gint64 *fired;
};

static gpointer attach_from_thread(gpointer data)
{
    struct attach_job *job = data;
    return timer_attach(job->context, 50, job->fired);
}

static void test_timer_added_later(void)
{
    struct harness hs;
    harness_open(&hs);
    struct endpoint e = {0};
    endpoint_open_watched(&e, hs.poller);
    while (g_main_context_iteration(hs.outer, FALSE))
        ;
    gint64 fired = 0;
    GSource *timer = timer_attach(e.context, 50, &fired);
    kumis_poller_refresh(e.watch);
    run_until_fired(hs.outer, &fired);
    g_source_unref(timer);

    gint64 fired_other = 0;
    struct attach_job job = {e.context, &fired_other};
    GSource *timer_other = g_thread_join(g_thread_new("attach", attach_from_thread, &job));
    run_until_fired(hs.outer, &fired_other);
    g_source_unref(timer_other);
    endpoint_clear(&e);
    harness_close(&hs);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/poller/only-ready", test_only_ready);
    g_test_add_func("/poller/late-source", test_late_source);
    g_test_add_func("/poller/remove-in-dispatch", test_remove_in_dispatch);
    g_test_add_func("/poller/timer", test_timer);
    g_test_add_func("/poller/timer-added-later", test_timer_added_later);
    return g_test_run();
}
