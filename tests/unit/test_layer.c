/* Unit tests for media/layer.c: initial choice, down fast, up with hysteresis, the wish as a
 * ceiling, inactive layers, keyframe gating and PLI throttling; the loss estimator: noisy
 * reports of random loss never make congestion, sustained loss does within 2 s, sequence
 * wrap-around, reordered and duplicate reports, too few packets. */
#include <glib.h>

#include "media/layer.h"

#define SEC G_USEC_PER_SEC

static struct kumis_layer_info layers[3] = {
    {"q", TRUE, 150000},
    {"h", TRUE, 500000},
    {"f", TRUE, 1500000},
};

static void test_initial_and_keyframe_gating(void)
{
    struct kumis_layer_selector sel;
    kumis_layer_selector_init(&sel, NULL);
    g_assert_false(kumis_layer_selector_pending(&sel));
    g_assert_false(kumis_layer_selector_should_pli(&sel, 0));
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 2000000, KUMIS_LAYER_WANT_AUTO, 0),
                    ==, 2);
    g_assert_cmpint(kumis_layer_selector_current(&sel), ==, -1);
    g_assert_true(kumis_layer_selector_pending(&sel));
    /* PLI at once, then at most every 500 ms while the switch is pending. */
    g_assert_true(kumis_layer_selector_should_pli(&sel, 0));
    g_assert_false(kumis_layer_selector_should_pli(&sel, 499000));
    g_assert_true(kumis_layer_selector_should_pli(&sel, 500000));
    /* A keyframe on another layer changes nothing; on the target it switches. */
    g_assert_false(kumis_layer_selector_on_keyframe(&sel, 1));
    g_assert_cmpint(kumis_layer_selector_current(&sel), ==, -1);
    g_assert_true(kumis_layer_selector_on_keyframe(&sel, 2));
    g_assert_cmpint(kumis_layer_selector_current(&sel), ==, 2);
    g_assert_false(kumis_layer_selector_pending(&sel));
    g_assert_false(kumis_layer_selector_should_pli(&sel, 10 * SEC));
    g_assert_false(kumis_layer_selector_on_keyframe(&sel, 2)); /* already there */
    /* A new target gets its PLI at once, even inside the interval of the last one. */
    kumis_layer_selector_update(&sel, layers, 3, 600000, KUMIS_LAYER_WANT_AUTO, 10 * SEC);
    g_assert_cmpint(kumis_layer_selector_target(&sel), ==, 1);
    g_assert_true(kumis_layer_selector_should_pli(&sel, 10 * SEC));
    /* Until the keyframe arrives the old layer goes on being forwarded. */
    g_assert_cmpint(kumis_layer_selector_current(&sel), ==, 2);
}

static void test_down_fast_up_slow(void)
{
    struct kumis_layer_selector sel;
    kumis_layer_selector_init(&sel, NULL);
    gint64 t = 0;
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 3000000, KUMIS_LAYER_WANT_AUTO, t),
                    ==, 2);
    /* Down at once, to the best layer that fits, skipping layers if needed. */
    g_assert_cmpint(
        kumis_layer_selector_update(&sel, layers, 3, 1400000, KUMIS_LAYER_WANT_AUTO, t += 1000), ==,
        1);
    g_assert_cmpint(
        kumis_layer_selector_update(&sel, layers, 3, 100000, KUMIS_LAYER_WANT_AUTO, t += 1000), ==,
        0);
    /* Below the lowest layer there is nowhere to go: stay on it. */
    g_assert_cmpint(
        kumis_layer_selector_update(&sel, layers, 3, 50000, KUMIS_LAYER_WANT_AUTO, t += 1000), ==,
        0);
    /* 590 kbit/s is above layer 1 (500k) but not 1.2x above it: never go up. */
    for (guint i = 0; i < 20; i++)
        g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 590000, KUMIS_LAYER_WANT_AUTO,
                                                    t += SEC / 2),
                        ==, 0);
    /* 650 kbit/s: up, but only after 3 s. */
    gint64 start = t += SEC;
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 650000, KUMIS_LAYER_WANT_AUTO, t),
                    ==, 0);
    g_assert_cmpint(
        kumis_layer_selector_update(&sel, layers, 3, 650000, KUMIS_LAYER_WANT_AUTO, start + SEC),
        ==, 0);
    /* A dip restarts the clock. */
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 550000, KUMIS_LAYER_WANT_AUTO,
                                                start + 2 * SEC),
                    ==, 0);
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 650000, KUMIS_LAYER_WANT_AUTO,
                                                start + 3 * SEC),
                    ==, 0);
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 650000, KUMIS_LAYER_WANT_AUTO,
                                                start + 5 * SEC),
                    ==, 0);
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 650000, KUMIS_LAYER_WANT_AUTO,
                                                start + 6 * SEC),
                    ==, 1);
    /* With plenty of bandwidth, one layer at a time, each after its own hold. */
    t = start + 7 * SEC;
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 5000000, KUMIS_LAYER_WANT_AUTO, t),
                    ==, 1);
    g_assert_cmpint(
        kumis_layer_selector_update(&sel, layers, 3, 5000000, KUMIS_LAYER_WANT_AUTO, t + 3 * SEC),
        ==, 2);
}

static void test_want_and_inactive(void)
{
    struct kumis_layer_selector sel;
    kumis_layer_selector_init(&sel, NULL);
    g_assert_cmpint(kumis_layer_want_from_string("low"), ==, KUMIS_LAYER_WANT_LOW);
    g_assert_cmpint(kumis_layer_want_from_string("medium"), ==, KUMIS_LAYER_WANT_MEDIUM);
    g_assert_cmpint(kumis_layer_want_from_string("high"), ==, KUMIS_LAYER_WANT_HIGH);
    g_assert_cmpint(kumis_layer_want_from_string("bogus"), ==, KUMIS_LAYER_WANT_AUTO);
    g_assert_cmpint(kumis_layer_want_from_string(NULL), ==, KUMIS_LAYER_WANT_AUTO);
    /* The wish is a ceiling: low stays low with any bandwidth; unknown estimate (0) means
     * no limit. */
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 0, KUMIS_LAYER_WANT_LOW, 0), ==,
                    0);
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 0, KUMIS_LAYER_WANT_LOW, 60 * SEC),
                    ==, 0);
    kumis_layer_selector_init(&sel, NULL);
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 0, KUMIS_LAYER_WANT_MEDIUM, 0), ==,
                    1);
    kumis_layer_selector_init(&sel, NULL);
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 0, KUMIS_LAYER_WANT_HIGH, 0), ==,
                    2);
    /* Asking for less takes effect at once. */
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 3, 0, KUMIS_LAYER_WANT_LOW, 1), ==,
                    0);
    /* The top layer stops (the publisher's encoder dropped it): fall back to what is active. */
    struct kumis_layer_info l[3] = {layers[0], layers[1], layers[2]};
    kumis_layer_selector_init(&sel, NULL);
    g_assert_cmpint(kumis_layer_selector_update(&sel, l, 3, 0, KUMIS_LAYER_WANT_AUTO, 0), ==, 2);
    l[2].active = FALSE;
    g_assert_cmpint(kumis_layer_selector_update(&sel, l, 3, 0, KUMIS_LAYER_WANT_AUTO, 1), ==, 1);
    /* Only a layer above the wish is active: better that than nothing. */
    l[0].active = FALSE;
    l[1].active = FALSE;
    l[2].active = TRUE;
    kumis_layer_selector_init(&sel, NULL);
    g_assert_cmpint(kumis_layer_selector_update(&sel, l, 3, 0, KUMIS_LAYER_WANT_LOW, 0), ==, 2);
    /* Nothing active. */
    l[2].active = FALSE;
    kumis_layer_selector_init(&sel, NULL);
    g_assert_cmpint(kumis_layer_selector_update(&sel, l, 3, 1000000, KUMIS_LAYER_WANT_AUTO, 0), ==,
                    -1);
    g_assert_false(kumis_layer_selector_pending(&sel));
    /* A single-layer (non-simulcast) track. */
    kumis_layer_selector_init(&sel, NULL);
    g_assert_cmpint(kumis_layer_selector_update(&sel, layers, 1, 1, KUMIS_LAYER_WANT_HIGH, 0), ==,
                    0);
}

/* Loss estimator ------------------------------------------------------------------------- */

#define REPORT_US (SEC / 4) /* Chromium's receiver reports on video, about every 250 ms */

/* A receiver's view of our stream, in RFC 3550 §6.4.1 terms. */
struct receiver {
    guint32 highest_seq;
    gint32 cumulative_lost;
    gint64 now;
};

/* @n more packets expected, @lost of them missing; then a report at the next 250 ms.
 * Returns: the estimator's verdict on it. */
static gboolean receiver_report(struct kumis_loss_estimator *est, struct receiver *rx, guint n,
                                gint lost)
{
    rx->highest_seq += n;
    rx->cumulative_lost += lost;
    rx->now += REPORT_US;
    return kumis_loss_estimator_on_report(est, rx->highest_seq, rx->cumulative_lost, rx->now);
}

/* One report of @rand's random loss: 7-50 packets (what Chromium's 250 ms reports cover on
 * a simulcast layer), each lost with probability @p. Stores the report's fraction lost as the
 * receiver would send it (of 256) in @fraction. */
static gboolean receiver_report_random(struct kumis_loss_estimator *est, struct receiver *rx,
                                       GRand *rand, gdouble p, guint *fraction)
{
    guint n = (guint)g_rand_int_range(rand, 7, 51);
    g_assert_cmpuint(n, >=, 7);
    guint lost = 0;
    for (guint i = 0; i < n; i++)
        lost += g_rand_double(rand) < p;
    *fraction = lost * 256 / n;
    return receiver_report(est, rx, n, (gint)lost);
}

/* 5 % random loss, as nftables drops it in e2e/sfu-network, counted as never recovered (the
 * worst case: with NACK the cumulative count falls back as retransmissions arrive). Its
 * reports look like Chromium's measured ones (14 of 142 at >= 26/256, up to 81/256): most say
 * 0-10 %, one in ten says more, up to a third. One such report used to lower the layer. */
static void test_loss_noisy_reports(void)
{
    guint old_rule = 0, reports = 0, max_fraction = 0;
    for (guint32 seed = 1; seed <= 20; seed++) {
        /* 142 reports, 35 s: as long as the measured sequence. */
        g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
        struct kumis_loss_estimator est;
        kumis_loss_estimator_init(&est, NULL);
        struct receiver rx = {.highest_seq = 5000};
        for (guint i = 0; i < 142; i++) {
            guint fraction;
            g_assert_false(receiver_report_random(&est, &rx, rand, 0.05, &fraction));
            old_rule += fraction >= 26;
            max_fraction = MAX(max_fraction, fraction);
            reports++;
        }
        /* What the estimator measured is the loss there was. */
        gdouble loss = kumis_loss_estimator_fraction(&est);
        g_assert_cmpfloat(loss, >=, 0);
        g_assert_cmpfloat(loss, <, 0.10);
    }
    g_assert_cmpuint(old_rule, >, reports / 20);
    g_assert_cmpuint(max_fraction, >=, 77); /* 30 % */
    /* Over longer runs a 2 s window of 5 % random loss does sometimes pass 10 % by chance: it
     * must stay rare (about one verdict in 3000 reports, against one in 8 reports before). */
    guint verdicts = 0;
    reports = 0;
    for (guint32 seed = 100; seed < 300; seed++) {
        g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
        struct kumis_loss_estimator est;
        kumis_loss_estimator_init(&est, NULL);
        struct receiver rx = {0};
        for (guint i = 0; i < 142; i++, reports++) {
            guint fraction;
            if (receiver_report_random(&est, &rx, rand, 0.05, &fraction)) {
                verdicts++;
                kumis_loss_estimator_restart(&est);
            }
        }
    }
    g_assert_cmpuint(verdicts * 1000, <=, reports);
}

/* Sustained loss of 15-20 % is congestion, seen within 2 s of reports, whether it starts
 * from a clean link or from 5 % random loss. */
static void test_loss_sustained(void)
{
    for (gint percent = 15; percent <= 20; percent += 5) {
        /* Exactly that share of every report. */
        struct kumis_loss_estimator est;
        kumis_loss_estimator_init(&est, NULL);
        struct receiver rx = {.highest_seq = 100};
        for (guint i = 0; i < 40; i++)
            g_assert_false(receiver_report(&est, &rx, 40, 0));
        gint carry = 0;
        guint reports = 0;
        gboolean congested = FALSE;
        while (!congested) {
            carry += 30 * percent;
            congested = receiver_report(&est, &rx, 30, carry / 100);
            carry %= 100;
            reports++;
        }
        g_assert_cmpuint(reports * REPORT_US, <=, 2 * SEC);
        /* Random loss, after 5 s of 5 %. */
        for (guint32 seed = 1; seed <= 20; seed++) {
            g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
            kumis_loss_estimator_init(&est, NULL);
            rx = (struct receiver){0};
            guint fraction;
            for (guint i = 0; i < 20; i++)
                g_assert_false(receiver_report_random(&est, &rx, rand, 0.05, &fraction));
            for (reports = 1; !receiver_report_random(&est, &rx, rand, percent / 100.0, &fraction);
                 reports++)
                g_assert_cmpuint(reports * REPORT_US, <, 2 * SEC);
        }
    }
    /* Exactly 10 % is not above 10 %. */
    struct kumis_loss_estimator est;
    kumis_loss_estimator_init(&est, NULL);
    struct receiver rx = {0};
    for (guint i = 0; i < 100; i++)
        g_assert_false(receiver_report(&est, &rx, 30, 3));
    g_assert_cmpfloat_with_epsilon(kumis_loss_estimator_fraction(&est), 0.10, 1e-9);
    /* After a verdict and restart, the next one needs a window of losses of its own. */
    g_assert_true(receiver_report(&est, &rx, 100, 100));
    kumis_loss_estimator_restart(&est);
    g_assert_cmpfloat(kumis_loss_estimator_fraction(&est), <, 0);
    for (guint i = 0; i < 7; i++)
        g_assert_false(receiver_report(&est, &rx, 30, 9));
    g_assert_true(receiver_report(&est, &rx, 30, 9));
}

/* The extended highest sequence wraps at 2^32 (and its low 16 bits at every cycle). */
static void test_loss_wrap(void)
{
    struct kumis_loss_estimator est;
    kumis_loss_estimator_init(&est, NULL);
    struct receiver rx = {.highest_seq = G_MAXUINT32 - 300};
    for (guint i = 0; i < 20; i++)
        g_assert_false(receiver_report(&est, &rx, 40, 0));
    g_assert_cmpuint(rx.highest_seq, <, 1000); /* wrapped */
    g_assert_cmpfloat(kumis_loss_estimator_fraction(&est), ==, 0);
    /* Loss across the wrap is seen as it is. */
    kumis_loss_estimator_init(&est, NULL);
    rx = (struct receiver){.highest_seq = G_MAXUINT32 - 100, .cumulative_lost = 1000};
    guint reports = 0;
    while (!receiver_report(&est, &rx, 40, 8))
        reports++;
    g_assert_cmpuint(reports, <=, 8);
    g_assert_cmpfloat_with_epsilon(kumis_loss_estimator_fraction(&est), 0.20, 1e-9);
    /* A jump of more than 2^16 is a new count (the receiver restarted), not 70000 packets. */
    g_assert_false(kumis_loss_estimator_on_report(&est, rx.highest_seq + 70000, rx.cumulative_lost,
                                                  rx.now + REPORT_US));
    g_assert_cmpfloat(kumis_loss_estimator_fraction(&est), <, 0);
}

/* TRUE when @a and @b hold the same window. */
static gboolean loss_same(const struct kumis_loss_estimator *a,
                          const struct kumis_loss_estimator *b)
{
    if (a->n != b->n || a->first != b->first)
        return FALSE;
    for (guint i = 0; i < KUMIS_LOSS_REPORTS; i++) {
        const struct kumis_loss_report *x = &a->reports[i], *y = &b->reports[i];
        if (x->highest_seq != y->highest_seq || x->cumulative_lost != y->cumulative_lost ||
            x->at_us != y->at_us)
            return FALSE;
    }
    return TRUE;
}

/* Reports that add no expected packet change nothing: duplicates, reordered ones, one with
 * nothing received since the last. The cumulative count may go down (RFC 3550 §6.4.1: late
 * packets and duplicates count as received): losses recovered are no loss. */
static void test_loss_reordered_duplicate_empty(void)
{
    struct kumis_loss_estimator est;
    kumis_loss_estimator_init(&est, NULL);
    struct receiver rx = {.highest_seq = 700, .cumulative_lost = -5};
    g_assert_false(receiver_report(&est, &rx, 30, 0));
    for (guint i = 0; i < 10; i++)
        g_assert_false(receiver_report(&est, &rx, 30, 1));
    g_assert_cmpfloat_with_epsilon(kumis_loss_estimator_fraction(&est), 1.0 / 30, 1e-9);
    struct kumis_loss_estimator before = est;
    /* 0 expected packets, even with a count that grew: nothing changes. */
    g_assert_false(kumis_loss_estimator_on_report(&est, rx.highest_seq, rx.cumulative_lost + 30,
                                                  rx.now + REPORT_US));
    g_assert_true(loss_same(&before, &est));
    /* A duplicate, and a report older than the last arriving late. */
    g_assert_false(
        kumis_loss_estimator_on_report(&est, rx.highest_seq, rx.cumulative_lost, rx.now));
    g_assert_false(kumis_loss_estimator_on_report(&est, rx.highest_seq - 30,
                                                  rx.cumulative_lost + 25, rx.now + REPORT_US));
    g_assert_true(loss_same(&before, &est));
    /* A burst of losses, recovered by retransmissions before the next reports: the count
     * goes down again, and the window's loss is what stayed lost. (The window holding the
     * burst and not yet its recovery says 9 %.) */
    g_assert_false(receiver_report(&est, &rx, 30, 15));
    g_assert_cmpfloat(kumis_loss_estimator_fraction(&est), >, 0.09);
    g_assert_false(receiver_report(&est, &rx, 30, -15));
    for (guint i = 0; i < 20; i++)
        g_assert_false(receiver_report(&est, &rx, 30, i % 2 ? -2 : 2));
    g_assert_cmpfloat(kumis_loss_estimator_fraction(&est), <, 0.01);
    /* More duplicates than losses: no negative loss. */
    for (guint i = 0; i < 10; i++)
        g_assert_false(receiver_report(&est, &rx, 30, -3));
    g_assert_cmpfloat(kumis_loss_estimator_fraction(&est), ==, 0);
}

/* Too few packets for a verdict: half of 2 s of a nearly idle stream lost is no congestion
 * yet (the window waits for 100 packets), and neither is a single report. */
static void test_loss_too_few_packets(void)
{
    struct kumis_loss_estimator est;
    kumis_loss_estimator_init(&est, NULL);
    struct receiver rx = {0};
    g_assert_false(receiver_report(&est, &rx, 10, 0));
    g_assert_cmpfloat(kumis_loss_estimator_fraction(&est), <, 0);
    g_assert_false(receiver_report(&est, &rx, 200, 200));
    g_assert_cmpfloat(kumis_loss_estimator_fraction(&est), <, 0); /* 250 ms only */
    kumis_loss_estimator_init(&est, NULL);
    rx = (struct receiver){0};
    for (guint i = 0; i < 10; i++) /* the first is where the window starts */
        g_assert_false(receiver_report(&est, &rx, 10, 5));
    g_assert_cmpfloat(kumis_loss_estimator_fraction(&est), <, 0); /* 2.25 s, 90 packets */
    g_assert_true(receiver_report(&est, &rx, 10, 5));
    g_assert_cmpfloat_with_epsilon(kumis_loss_estimator_fraction(&est), 0.5, 1e-9);
    /* A receiver counting more lost than expected is believed no further than all of it. */
    g_assert_true(receiver_report(&est, &rx, 10, 1000));
    g_assert_cmpfloat(kumis_loss_estimator_fraction(&est), ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/layer/initial-and-keyframe-gating", test_initial_and_keyframe_gating);
    g_test_add_func("/layer/down-fast-up-slow", test_down_fast_up_slow);
    g_test_add_func("/layer/want-and-inactive", test_want_and_inactive);
    g_test_add_func("/layer/loss/noisy-reports", test_loss_noisy_reports);
    g_test_add_func("/layer/loss/sustained", test_loss_sustained);
    g_test_add_func("/layer/loss/wrap", test_loss_wrap);
    g_test_add_func("/layer/loss/reordered-duplicate-empty", test_loss_reordered_duplicate_empty);
    g_test_add_func("/layer/loss/too-few-packets", test_loss_too_few_packets);
    return g_test_run();
}
