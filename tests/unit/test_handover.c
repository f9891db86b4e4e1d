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

#define BURST_MAX_PUSHES KUMIS_BURST_MAX

/* What the source worker saw right after one push. */
struct seen {
    int signalled;      /* the receiving inbox's flag */
    struct handover ho; /* the source worker's hand-over state towards it */
};

/* Pushes run back to back in one job on the source worker's thread, as the router does for a
 * packet's copies: nothing else of that worker (its drain's deadline) runs in between, however
 * slowly the test machine goes. */
struct job {
    struct fixture *fx;
    guint n;
    gboolean marker_last; /* the last packet has the marker */
    guint16 first_seq;
    struct seen seen[BURST_MAX_PUSHES];
    GMutex lock;
    GCond cond;
    gboolean done;
};

static gboolean job_run(gpointer data)
{
    struct job *j = data;
    struct fixture *fx = j->fx;
    for (guint i = 0; i < j->n; i++) {
        guint16 seq = (guint16)(j->first_seq + i);
        gboolean marker = j->marker_last && i + 1 == j->n;
        guint8 pkt[12 + 20] = {0x80,
                               (guint8)(96 | (marker ? 0x80 : 0)),
                               (guint8)(seq >> 8),
                               (guint8)seq,
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
        router_handover_packet(fx->from, fx->set, 0, 0, FALSE, pkt, sizeof pkt, &h,
                               g_get_monotonic_time());
        j->seen[i].signalled = atomic_load(&fx->to->inbox.signalled);
        j->seen[i].ho = fx->from->handover[fx->to->index];
    }
    g_mutex_lock(&j->lock);
    j->done = TRUE;
    g_cond_signal(&j->cond);
    g_mutex_unlock(&j->lock);
    return G_SOURCE_REMOVE;
}

static void push(struct fixture *fx, struct job *j, guint n, gboolean marker_last,
                 guint16 first_seq)
{
    g_assert_cmpuint(n, <=, BURST_MAX_PUSHES);
    *j = (struct job){.fx = fx, .n = n, .marker_last = marker_last, .first_seq = first_seq};
    g_mutex_init(&j->lock);
    g_cond_init(&j->cond);
    kumis_worker_post(kumis_worker_pool_get(fx->pool, fx->from->index), job_run, j, NULL);
    g_mutex_lock(&j->lock);
    while (!j->done)
        g_cond_wait(&j->cond, &j->lock);
    g_mutex_unlock(&j->lock);
    g_mutex_clear(&j->lock);
    g_cond_clear(&j->cond);
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

/* A frame's packets before its marker do not wake the other worker; the marker does (a wake
 * was issued: nothing waits unwoken), and the other worker takes them all. */
static void test_video_waits_for_marker(void)
{
    struct fixture fx;
    fixture_set_up(&fx, TRUE);
    struct job j;
    push(&fx, &j, 4, TRUE, 0);
    for (guint i = 0; i < 3; i++) {
        g_assert_cmpint(j.seen[i].signalled, ==, 0);
        g_assert_cmpint(j.seen[i].ho.due_us, >, 0);
        g_assert_cmpuint(j.seen[i].ho.waiting, ==, i + 1);
    }
    g_assert_cmpint(j.seen[3].ho.due_us, ==, -1);
    g_assert_cmpuint(j.seen[3].ho.waiting, ==, 0);
    g_assert_cmpint(drained_after(&fx, g_get_monotonic_time()), >=, 0);
    fixture_tear_down(&fx);
}

/* The marker is lost: the source worker still wakes the other one, about a hold later. */
static void test_video_marker_lost(void)
{
    struct fixture fx;
    fixture_set_up(&fx, TRUE);
    struct job j;
    g_usleep(50000); /* the workers settle after start-up: the time taken is then the nudge's */
    gint64 t0 = g_get_monotonic_time();
    push(&fx, &j, 1, FALSE, 100);
    g_assert_cmpint(j.seen[0].signalled, ==, 0);
    g_assert_cmpint(j.seen[0].ho.due_us, >, 0);
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
    struct job j;
    push(&fx, &j, KUMIS_BURST_MAX, FALSE, 0);
    for (guint i = 0; i + 1 < KUMIS_BURST_MAX; i++)
        g_assert_cmpint(j.seen[i].signalled, ==, 0);
    g_assert_cmpint(j.seen[KUMIS_BURST_MAX - 1].ho.due_us, ==, -1);
    g_assert_cmpuint(j.seen[KUMIS_BURST_MAX - 1].ho.waiting, ==, 0);
    g_assert_cmpint(drained_after(&fx, g_get_monotonic_time()), >=, 0);
    fixture_tear_down(&fx);
}

/* Audio never waits: every packet wakes the other worker. */
static void test_audio_wakes(void)
{
    struct fixture fx;
    fixture_set_up(&fx, FALSE);
    struct job j;
    for (guint16 i = 0; i < 5; i++) {
        push(&fx, &j, 1, FALSE, i);
        g_assert_cmpint(j.seen[0].ho.due_us, ==, -1);
        g_assert_cmpuint(j.seen[0].ho.waiting, ==, 0);
        g_assert_cmpint(drained_after(&fx, g_get_monotonic_time()), >=, 0);
    }
    fixture_tear_down(&fx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/handover/video-waits-for-marker", test_video_waits_for_marker);
    g_test_add_func("/handover/video-marker-lost", test_video_marker_lost);
    g_test_add_func("/handover/video-burst-full", test_video_burst_full);
    g_test_add_func("/handover/audio-wakes", test_audio_wakes);
    return g_test_run();
}
