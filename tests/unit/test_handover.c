/* Unit tests for the hand-over of packets between media workers (media/router_batch.c): a
 * packet whose subscribers are on another worker goes to that worker's inbox, and the worker
 * is woken when the packet ends a burst (audio, a video frame's marker), when a burst's worth
 * waits, or a burst's hold after the first unwoken packet; never left waiting. Two real
 * workers; the subscriber group is empty, so what is checked is the inbox and the wake-ups. */
#include <glib.h>

#include "media/burst.h"
#include "media/router_internal.h"
#include "media/rtp.h"
#include "media/worker.h"

#define DRAIN_WAIT_US 200000 /* a hold is 10 ms; the workers' own RTCP tick comes each second */

struct fixture {
    struct kumis_worker_pool *pool;
    struct router *router;
    struct router_worker *from, *to;
    struct sink_set *set;
};

/* One push, run on the source worker's thread as the router does. */
struct push {
    struct fixture *fx;
    gboolean marker;
    guint16 seq;
    /* read on the source worker right after the push */
    int signalled;
    guint pending;
    struct handover ho;
    /* the test thread waits for it */
    GMutex lock;
    GCond cond;
    gboolean done;
};

static gboolean push_run(gpointer data)
{
    struct push *p = data;
    guint8 pkt[12 + 20] = {0x80,
                           (guint8)(96 | (p->marker ? 0x80 : 0)),
                           (guint8)(p->seq >> 8),
                           (guint8)p->seq,
                           0,
                           0,
                           0x10,
                           0,
                           0x11,
                           0x22,
                           0x33,
                           0x44};
    struct kumis_rtp_header h;
    g_assert_true(kumis_rtp_parse(pkt, sizeof pkt, &h));
    struct fixture *fx = p->fx;
    router_handover_packet(fx->from, fx->set, 0, 0, FALSE, pkt, sizeof pkt, &h,
                           g_get_monotonic_time());
    p->signalled = atomic_load(&fx->to->inbox.signalled);
    p->pending = atomic_load(&fx->to->inbox.pending);
    p->ho = fx->from->handover[fx->to->index];
    g_mutex_lock(&p->lock);
    p->done = TRUE;
    g_cond_signal(&p->cond);
    g_mutex_unlock(&p->lock);
    return G_SOURCE_REMOVE;
}

static void push(struct fixture *fx, struct push *p, gboolean marker, guint16 seq)
{
    *p = (struct push){.fx = fx, .marker = marker, .seq = seq};
    g_mutex_init(&p->lock);
    g_cond_init(&p->cond);
    kumis_worker_post(kumis_worker_pool_get(fx->pool, fx->from->index), push_run, p, NULL);
    g_mutex_lock(&p->lock);
    while (!p->done)
        g_cond_wait(&p->cond, &p->lock);
    g_mutex_unlock(&p->lock);
    g_mutex_clear(&p->lock);
    g_cond_clear(&p->cond);
}

/* Returns: how long the receiving worker took to take everything from its inbox (µs), or -1
 * when it did not within DRAIN_WAIT_US. */
static gint64 drained_after(struct fixture *fx, gint64 since)
{
    while (atomic_load(&fx->to->inbox.pending) > 0) {
        if (g_get_monotonic_time() - since > DRAIN_WAIT_US)
            return -1;
        g_usleep(200);
    }
    return g_get_monotonic_time() - since;
}

static void fixture_set_up(struct fixture *fx, gboolean video)
{
    fx->pool = kumis_worker_pool_new(2, NULL, NULL);
    g_assert_nonnull(fx->pool);
    fx->router = router_new(fx->pool);
    fx->from = router_worker_at(fx->router, 0);
    fx->to = router_worker_at(fx->router, 1);
    fx->set = g_malloc0(sizeof *fx->set + sizeof fx->set->groups[0]);
    atomic_init(&fx->set->refs, 1);
    fx->set->owner = fx;
    fx->set->video = video;
    fx->set->n_groups = 1;
    fx->set->groups[0] = (struct sink_group){.rw = fx->to, .sinks = g_ptr_array_new()};
}

static void fixture_tear_down(struct fixture *fx)
{
    kumis_worker_pool_free(fx->pool);
    router_free(fx->router);
    router_set_unref(fx->set);
}

/* A frame's packets before its marker do not wake the other worker; it takes them when the
 * marker comes, or by the source worker's nudge a hold later when the marker never comes. */
static void test_video_waits_for_marker(void)
{
    struct fixture fx;
    fixture_set_up(&fx, TRUE);
    struct push p;
    for (guint16 i = 0; i < 3; i++) {
        push(&fx, &p, FALSE, i);
        g_assert_cmpint(p.signalled, ==, 0);
        g_assert_cmpint(p.ho.due_us, >, 0);
        g_assert_cmpuint(p.ho.waiting, ==, i + 1u);
    }
    push(&fx, &p, TRUE, 3);
    g_assert_cmpint(p.ho.due_us, ==, -1); /* woken: nothing waits unwoken */
    g_assert_cmpuint(p.ho.waiting, ==, 0);
    g_assert_true(p.signalled == 1 || p.pending == 0);
    g_assert_cmpint(drained_after(&fx, g_get_monotonic_time()), >=, 0);

    /* The marker is lost: the packet still goes, about a hold later. */
    gint64 t0 = g_get_monotonic_time();
    push(&fx, &p, FALSE, 4);
    g_assert_cmpint(p.signalled, ==, 0);
    gint64 took = drained_after(&fx, t0);
    g_assert_cmpint(took, >=, 0);
    g_test_message("a packet without its marker was taken after %" G_GINT64_FORMAT " us", took);
    fixture_tear_down(&fx);
}

/* A burst's worth of packets without a marker (a keyframe in many packets) wakes the other
 * worker at once, as its own burst would flush at that size. */
static void test_video_burst_full(void)
{
    struct fixture fx;
    fixture_set_up(&fx, TRUE);
    struct push p;
    for (guint16 i = 0; i + 1 < KUMIS_BURST_MAX; i++) {
        push(&fx, &p, FALSE, i);
        g_assert_cmpint(p.signalled, ==, 0);
    }
    push(&fx, &p, FALSE, KUMIS_BURST_MAX - 1);
    g_assert_cmpint(p.ho.due_us, ==, -1);
    g_assert_true(p.signalled == 1 || p.pending == 0);
    g_assert_cmpint(drained_after(&fx, g_get_monotonic_time()), >=, 0);
    fixture_tear_down(&fx);
}

/* Audio never waits: every packet wakes the other worker (or finds it woken). */
static void test_audio_wakes(void)
{
    struct fixture fx;
    fixture_set_up(&fx, FALSE);
    struct push p;
    for (guint16 i = 0; i < 5; i++) {
        push(&fx, &p, FALSE, i);
        g_assert_cmpint(p.ho.due_us, ==, -1);
        g_assert_true(p.signalled == 1 || p.pending == 0);
        g_assert_cmpint(drained_after(&fx, g_get_monotonic_time()), >=, 0);
    }
    fixture_tear_down(&fx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/handover/video-waits-for-marker", test_video_waits_for_marker);
    g_test_add_func("/handover/video-burst-full", test_video_burst_full);
    g_test_add_func("/handover/audio-wakes", test_audio_wakes);
    return g_test_run();
}
