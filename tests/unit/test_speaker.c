/* Unit tests for media/speaker.c: first speaker, takeover only after the hold time, short
 * bursts and background noise ignored, silence keeps the last speaker, removal. */
#include <glib.h>

#include "media/speaker.h"

#define MS 1000

/* Feeds 100 ms of Opus packets (5 of 20 ms) per source, then ticks. levels[i] < 0: no packets
 * (DTX). Returns TRUE when the tick reported a change. */
static gboolean step(struct kumis_speaker_detector *det, gint64 *now, const gint *levels, guint n,
                     guint32 *dominant, gboolean *has)
{
    for (guint p = 0; p < 5; p++) {
        *now += 20 * MS;
        for (guint i = 0; i < n; i++) {
            if (levels[i] >= 0)
                kumis_speaker_detector_level(det, i + 1, (guint8)levels[i], TRUE, *now);
        }
    }
    return kumis_speaker_detector_tick(det, *now, dominant, has);
}

static void test_takeover(void)
{
    struct kumis_speaker_detector *det = kumis_speaker_detector_new(8, NULL);
    for (guint32 id = 1; id <= 3; id++)
        g_assert_true(kumis_speaker_detector_add(det, id));
    g_assert_false(kumis_speaker_detector_add(det, 2)); /* already tracked */
    gint64 now = 1000 * MS;
    guint32 dom = 0;
    gboolean has = FALSE;
    /* Silence: nobody becomes dominant. */
    const gint silent[] = {127, 127, -1};
    for (guint i = 0; i < 10; i++)
        g_assert_false(step(det, &now, silent, 3, &dom, &has));
    /* 1 speaks (-30 dBov): dominant at the first tick, nobody held the floor. */
    const gint one[] = {30, 127, -1};
    g_assert_true(step(det, &now, one, 3, &dom, &has));
    g_assert_true(has);
    g_assert_cmpuint(dom, ==, 1);
    for (guint i = 0; i < 20; i++)
        g_assert_false(step(det, &now, one, 3, &dom, &has));
    /* 3 coughs loudly for 300 ms: not enough to take over. */
    const gint cough[] = {30, 127, 5};
    for (guint i = 0; i < 3; i++)
        g_assert_false(step(det, &now, cough, 3, &dom, &has));
    for (guint i = 0; i < 30; i++)
        g_assert_false(step(det, &now, one, 3, &dom, &has));
    /* 2 speaks louder than 1 and keeps at it: takes over after more than 1.5 s, within 3.5. */
    const gint two[] = {30, 10, -1};
    gint64 start = now;
    gboolean changed = FALSE;
    while (!changed && now - start < 5000 * MS)
        changed = step(det, &now, two, 3, &dom, &has);
    g_assert_true(changed);
    g_assert_cmpuint(dom, ==, 2);
    g_assert_cmpint(now - start, >=, 1500 * MS);
    g_assert_cmpint(now - start, <=, 3500 * MS);
    /* Everybody quiet (DTX, then comfort-noise levels): 2 stays dominant. */
    const gint quiet[] = {-1, -1, 90};
    for (guint i = 0; i < 50; i++)
        g_assert_false(step(det, &now, quiet, 3, &dom, &has));
    /* Removing the dominant speaker while 1 talks: 1 takes the floor at once. */
    kumis_speaker_detector_remove(det, 2);
    g_assert_true(step(det, &now, one, 3, &dom, &has));
    g_assert_true(has);
    g_assert_cmpuint(dom, ==, 1);
    /* Removing it while nobody else talks: no dominant speaker any more. */
    kumis_speaker_detector_remove(det, 1);
    g_assert_true(step(det, &now, quiet, 3, &dom, &has));
    g_assert_false(has);
    for (guint i = 0; i < 30; i++)
        g_assert_false(step(det, &now, quiet, 3, &dom, &has));
    kumis_speaker_detector_free(det);

    det = kumis_speaker_detector_new(2, NULL);
    g_assert_true(kumis_speaker_detector_add(det, 1));
    g_assert_true(kumis_speaker_detector_add(det, 2));
    g_assert_false(kumis_speaker_detector_add(det, 3)); /* full */
    g_assert_true(step(det, &now, one, 2, &dom, &has));
    kumis_speaker_detector_remove(det, 1);
    g_assert_true(step(det, &now, silent, 2, &dom, &has));
    g_assert_false(has);
    kumis_speaker_detector_free(det);
}

static void test_noise_never_wins(void)
{
    struct kumis_speaker_detector *det = kumis_speaker_detector_new(4, NULL);
    kumis_speaker_detector_add(det, 1);
    kumis_speaker_detector_add(det, 2);
    gint64 now = 0;
    guint32 dom;
    gboolean has;
    /* 1 is a quiet but real speaker (-60 dBov), 2 a fan at -75 dBov (below the threshold). */
    const gint levels[] = {60, 75};
    g_assert_true(step(det, &now, levels, 2, &dom, &has));
    g_assert_cmpuint(dom, ==, 1);
    const gint fan[] = {-1, 75};
    for (guint i = 0; i < 100; i++)
        g_assert_false(step(det, &now, fan, 2, &dom, &has));
    /* Unknown ids are ignored, levels above 127 are clamped. */
    kumis_speaker_detector_level(det, 99, 0, TRUE, now);
    kumis_speaker_detector_level(det, 2, 255, FALSE, now);
    g_assert_false(kumis_speaker_detector_tick(det, now + 100 * MS, &dom, &has));
    kumis_speaker_detector_free(det);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/speaker/takeover", test_takeover);
    g_test_add_func("/speaker/noise-never-wins", test_noise_never_wins);
    return g_test_run();
}
