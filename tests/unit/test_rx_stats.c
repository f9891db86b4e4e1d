/* Unit tests for media/rx_stats.c: the report blocks we send publishers (RFC 3550 A.1, A.3,
 * A.8). */
#include <glib.h>

#include "media/rx_stats.h"

#define VIDEO_HZ 90000

static void feed(struct kumis_rx_stats *st, guint16 seq, gint64 at_us)
{
    /* 30 fps, one packet per frame, sent and received evenly: no jitter. */
    kumis_rx_stats_update(st, 0x1234, seq, (guint32)(at_us * VIDEO_HZ / G_USEC_PER_SEC), at_us,
                          VIDEO_HZ);
}

static void test_loss_and_wrap(void)
{
    struct kumis_rx_stats st = {0};
    struct kumis_rtcp_report_block rb;
    g_assert_false(kumis_rx_stats_report(&st, &rb));

    /* 100 packets from 65500 across the wrap, every 10th lost. */
    guint16 seq = 65500;
    for (int i = 0; i < 100; i++, seq++)
        if (i % 10 != 9)
            feed(&st, seq, 1000000 + i * 33333);
    g_assert_true(kumis_rx_stats_report(&st, &rb));
    g_assert_cmpint(rb.cumulative_lost, ==, 9); /* the 100th is lost and not yet known */
    g_assert_cmpuint(rb.highest_seq, ==, 65536 + (guint16)(65500 + 98));
    g_assert_cmpuint(rb.fraction_lost, ==, 9 * 256 / 99);
    g_assert_cmpuint(rb.jitter, ==, 0);

    /* The next interval: nothing lost; the 100th is now known lost, and a late packet from
     * before (a resend) counts as received. */
    for (int i = 0; i < 50; i++, seq++)
        feed(&st, seq, 5000000 + i * 33333);
    feed(&st, (guint16)(65500 + 9), 7000000);
    g_assert_true(kumis_rx_stats_report(&st, &rb));
    g_assert_cmpuint(rb.fraction_lost, ==, 0);
    g_assert_cmpint(rb.cumulative_lost, ==, 10 - 1);

    /* Everything lost in an interval but one packet. */
    seq += 20;
    feed(&st, seq, 9000000);
    g_assert_true(kumis_rx_stats_report(&st, &rb));
    g_assert_cmpuint(rb.fraction_lost, ==, 20 * 256 / 21);
    g_assert_cmpuint(rb.ssrc, ==, 0x1234);

    /* A new SSRC (the camera off and on again) starts over: nothing lost, its own numbers. */
    kumis_rx_stats_update(&st, 0x5678, 100, 0, 10000000, VIDEO_HZ);
    kumis_rx_stats_update(&st, 0x5678, 101, 3000, 10033333, VIDEO_HZ);
    g_assert_true(kumis_rx_stats_report(&st, &rb));
    g_assert_cmpuint(rb.ssrc, ==, 0x5678);
    g_assert_cmpint(rb.cumulative_lost, ==, 0);
    g_assert_cmpuint(rb.fraction_lost, ==, 0);
    g_assert_cmpuint(rb.highest_seq, ==, 101);
}

static void test_jitter(void)
{
    struct kumis_rx_stats st = {0};
    struct kumis_rtcp_report_block rb;
    /* Every other packet 10 ms late: |D| = 900 ticks each time, jitter converges to 900. */
    for (int i = 0; i < 400; i++) {
        gint64 sent = 1000000 + i * 20000;
        kumis_rx_stats_update(&st, 0x1234, (guint16)i, (guint32)(sent * VIDEO_HZ / G_USEC_PER_SEC),
                              sent + (i % 2 ? 10000 : 0), VIDEO_HZ);
    }
    g_assert_true(kumis_rx_stats_report(&st, &rb));
    g_assert_cmpuint(rb.jitter, >=, 850);
    g_assert_cmpuint(rb.jitter, <=, 900);

    /* Hostile timestamps jump around: the jitter stays bounded. */
    for (int i = 0; i < 1000; i++)
        kumis_rx_stats_update(&st, 0x1234, (guint16)(400 + i), g_random_int(), 9000000 + i,
                              VIDEO_HZ);
    g_assert_true(kumis_rx_stats_report(&st, &rb));
    g_assert_cmpuint(rb.jitter, <=, 1u << 24);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rx-stats/loss-and-wrap", test_loss_and_wrap);
    g_test_add_func("/rx-stats/jitter", test_jitter);
    return g_test_run();
}
