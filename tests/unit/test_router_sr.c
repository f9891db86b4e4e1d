/* Unit tests for router_sr_translate (media/router_rtcp.c): a subscriber's sender report from
 * its publisher's, which is what keeps a speaker's audio and video in sync in the browser. */
#include <glib.h>

#include "media/router_internal.h"

#define NTP_SECOND (G_GUINT64_CONSTANT(1) << 32)

static void test_moves_on(void)
{
    struct router_sr_point pub = {
        .ntp = 3900000000ULL * NTP_SECOND + NTP_SECOND / 2, .rtp = 1000, .arrival_us = 10000000};
    guint64 ntp;
    guint32 rtp;
    router_sr_translate(&pub, 5000, 90000, pub.arrival_us + 250000, &ntp, &rtp);
    g_assert_cmpuint(ntp, ==, pub.ntp + NTP_SECOND / 4);
    g_assert_cmpuint(rtp, ==, 1000 + 5000 + 22500);

    /* Right at the SR's arrival: the publisher's pair, shifted into the output's timestamps. */
    router_sr_translate(&pub, 5000, 90000, pub.arrival_us, &ntp, &rtp);
    g_assert_cmpuint(ntp, ==, pub.ntp);
    g_assert_cmpuint(rtp, ==, 6000);

    /* The RTP timestamp wraps as the stream's own do. */
    pub.rtp = 0xFFFFFF00u;
    router_sr_translate(&pub, 0x200, 48000, pub.arrival_us + 1000000, &ntp, &rtp);
    g_assert_cmpuint(rtp, ==, 0x100u + 48000u);

    /* A clock that went backwards (an SR that arrived "after" now) moves nothing back. */
    router_sr_translate(&pub, 0, 48000, pub.arrival_us - 5000, &ntp, &rtp);
    g_assert_cmpuint(ntp, ==, pub.ntp);
    g_assert_cmpuint(rtp, ==, pub.rtp);
}

/* RTP timestamp at NTP time @at by an SR's pair (@ntp, @rtp) on a @rate Hz clock. */
static gint64 rtp_at(guint64 ntp, guint32 rtp, guint32 rate, guint64 at)
{
    gint64 ticks = (gint64)(((gint64)at - (gint64)ntp) * (__int128)rate / (gint64)NTP_SECOND);
    return (gint64)rtp + ticks;
}

/* A speaker's audio and video captured at the same instant T, with video reaching us 80 ms
 * later than audio (encoding, pacing): the subscriber's two SRs still put both at T, so the
 * browser plays them together. */
static void test_audio_video_agree(void)
{
    guint64 t = 3900000100ULL * NTP_SECOND;
    struct router_sr_point audio = {.ntp = t, .rtp = 480000, .arrival_us = 50000000};
    struct router_sr_point video = {.ntp = t, .rtp = 900000, .arrival_us = 50080000};
    guint32 audio_offset = 12345, video_offset = 777777;
    gint64 now = 50600000;
    guint64 ntp_a, ntp_v;
    guint32 rtp_a, rtp_v;
    router_sr_translate(&audio, audio_offset, 48000, now, &ntp_a, &rtp_a);
    router_sr_translate(&video, video_offset, 90000, now, &ntp_v, &rtp_v);
    /* At T each output stream's SR names the timestamp the publisher gave T, shifted. */
    gint64 a = rtp_at(ntp_a, rtp_a, 48000, t), v = rtp_at(ntp_v, rtp_v, 90000, t);
    g_assert_cmpint(ABS(a - (gint64)(audio.rtp + audio_offset)), <=, 1);
    g_assert_cmpint(ABS(v - (gint64)(video.rtp + video_offset)), <=, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/router/sr/moves-on", test_moves_on);
    g_test_add_func("/router/sr/audio-video-agree", test_audio_video_agree);
    return g_test_run();
}
