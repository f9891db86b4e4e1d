/* Unit tests for media/keyframe_run.c: a run starts at a keyframe and holds every packet since
 * in sequence; a subscriber joins on it only while it is fresh and only right before the packet
 * that continues it; gaps, another SSRC, overflow and age end it; its references go with it. */
#include <glib.h>

#include "media/keyframe_run.h"

#define SSRC 0x11223344u
#define T0   1000000 /* µs */

struct pkt {
    struct kumis_packet_body *body;
    struct kumis_rtp_header h;
};

static struct pkt pkt_make(guint16 seq, guint32 ts, guint32 ssrc)
{
    guint8 buf[40] = {0x80, 96};
    buf[2] = (guint8)(seq >> 8);
    buf[3] = (guint8)seq;
    kumis_put_be32(buf + 4, ts);
    kumis_put_be32(buf + 8, ssrc);
    struct pkt p = {.body = kumis_packet_body_new(buf, sizeof buf)};
    g_assert_true(kumis_rtp_parse(buf, sizeof buf, &p.h));
    return p;
}

/* Notes packet @seq (timestamp @ts) at @now, then drops the caller's reference: the run's
 * own keeps it alive when kept. */
static void note(struct kumis_keyframe_run *run, guint16 seq, guint32 ts, guint32 ssrc,
                 gboolean keyframe, gint64 now)
{
    struct pkt p = pkt_make(seq, ts, ssrc);
    kumis_keyframe_run_note(run, p.body, &p.h, keyframe, now);
    kumis_packet_body_unref(p.body);
}

static guint joinable(const struct kumis_keyframe_run *run, guint16 seq, guint32 ts,
                      gboolean keyframe, gint64 now)
{
    struct pkt p = pkt_make(seq, ts, SSRC);
    guint n = kumis_keyframe_run_joinable(run, &p.h, keyframe, now);
    kumis_packet_body_unref(p.body);
    return n;
}

/* The packets kept are the run's, in order, readable after the caller let go of them. */
static void assert_run(const struct kumis_keyframe_run *run, guint16 first_seq, guint n)
{
    g_assert_true(run->valid);
    g_assert_cmpuint(run->n, ==, n);
    for (guint i = 0; i < n; i++) {
        gsize len;
        const guint8 *data = kumis_packet_body_data(run->bodies[i], &len);
        struct kumis_rtp_header h;
        g_assert_true(kumis_rtp_parse(data, len, &h));
        g_assert_cmpuint(h.seq, ==, (guint16)(first_seq + i));
    }
}

static void test_keyframe_then_deltas(void)
{
    struct kumis_keyframe_run run = {0};
    /* Deltas before any keyframe are not kept: nobody could start on them. */
    note(&run, 10, 3000, SSRC, FALSE, T0);
    g_assert_false(run.valid);
    g_assert_cmpuint(joinable(&run, 11, 3000, FALSE, T0), ==, 0);
    /* A keyframe of 5 packets, then a delta frame; the sequence wraps on the way. */
    for (guint i = 0; i < 5; i++)
        note(&run, (guint16)(65533 + i), 6000, SSRC, i == 0, T0 + i * 20000);
    note(&run, 2, 9000, SSRC, FALSE, T0 + 110000);
    assert_run(&run, 65533, 6);
    /* A subscriber about to get packet 3 gets the six first; one about to get 4 would miss 3. */
    g_assert_cmpuint(joinable(&run, 3, 9000, FALSE, T0 + 120000), ==, 6);
    g_assert_cmpuint(joinable(&run, 4, 9000, FALSE, T0 + 120000), ==, 0);
    /* A keyframe of its own needs no run. */
    g_assert_cmpuint(joinable(&run, 3, 12000, TRUE, T0 + 120000), ==, 0);
    /* Past the window the run is not offered, and the next packet ends it. */
    g_assert_cmpuint(joinable(&run, 3, 9000, FALSE, T0 + KUMIS_KEYFRAME_RUN_WINDOW_US + 1), ==, 0);
    note(&run, 3, 9000, SSRC, FALSE, T0 + KUMIS_KEYFRAME_RUN_WINDOW_US + 1);
    g_assert_false(run.valid);
    g_assert_cmpuint(run.n, ==, 0);
    /* The next keyframe starts a new run. */
    note(&run, 4, 12000, SSRC, TRUE, T0 + 500000);
    assert_run(&run, 4, 1);
    g_assert_cmpuint(joinable(&run, 5, 12000, FALSE, T0 + 500000), ==, 1);
    kumis_keyframe_run_clear(&run);
    g_assert_false(run.valid);
}

static void test_gap_and_ssrc_end_it(void)
{
    struct kumis_keyframe_run run = {0};
    note(&run, 100, 3000, SSRC, TRUE, T0);
    note(&run, 101, 3000, SSRC, FALSE, T0);
    note(&run, 103, 3000, SSRC, FALSE, T0); /* 102 lost: a frame nobody could decode */
    g_assert_false(run.valid);
    g_assert_cmpuint(joinable(&run, 104, 3000, FALSE, T0), ==, 0);
    /* Nor does a late 102 bring it back: only a keyframe does. */
    note(&run, 102, 3000, SSRC, FALSE, T0);
    g_assert_false(run.valid);

    note(&run, 200, 6000, SSRC, TRUE, T0);
    note(&run, 201, 6000, SSRC + 1, FALSE, T0); /* another stream (the publisher restarted) */
    g_assert_false(run.valid);
    note(&run, 300, 9000, SSRC + 1, TRUE, T0);
    g_assert_cmpuint(joinable(&run, 301, 9000, FALSE, T0), ==, 0); /* asked for SSRC */
    kumis_keyframe_run_clear(&run);
}

/* H.264 marks every packet of an IDR picture as keyframe: they extend the run instead of
 * restarting it, and a subscriber about to get one of them starts at the picture's first. */
static void test_keyframe_packets_of_one_picture(void)
{
    struct kumis_keyframe_run run = {0};
    note(&run, 50, 7000, SSRC, TRUE, T0);
    note(&run, 51, 7000, SSRC, TRUE, T0);
    note(&run, 52, 7000, SSRC, TRUE, T0);
    assert_run(&run, 50, 3);
    g_assert_cmpuint(joinable(&run, 53, 7000, TRUE, T0), ==, 3);
    /* A keyframe with another timestamp is a new picture: a new run. */
    note(&run, 53, 10000, SSRC, TRUE, T0 + 100000);
    assert_run(&run, 53, 1);
    g_assert_cmpint(run.start_us, ==, T0 + 100000);
    kumis_keyframe_run_clear(&run);
}

static void test_overflow_ends_it(void)
{
    struct kumis_keyframe_run run = {0};
    note(&run, 0, 3000, SSRC, TRUE, T0);
    for (guint i = 1; i < KUMIS_KEYFRAME_RUN_MAX; i++)
        note(&run, (guint16)i, 3000, SSRC, FALSE, T0);
    assert_run(&run, 0, KUMIS_KEYFRAME_RUN_MAX);
    note(&run, KUMIS_KEYFRAME_RUN_MAX, 3000, SSRC, FALSE, T0);
    g_assert_false(run.valid);
    g_assert_cmpuint(run.n, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/keyframe-run/keyframe-then-deltas", test_keyframe_then_deltas);
    g_test_add_func("/keyframe-run/gap-and-ssrc-end-it", test_gap_and_ssrc_end_it);
    g_test_add_func("/keyframe-run/keyframe-packets-of-one-picture",
                    test_keyframe_packets_of_one_picture);
    g_test_add_func("/keyframe-run/overflow-ends-it", test_overflow_ends_it);
    return g_test_run();
}
