/* Unit tests for media/layer.c: initial choice, down fast, up with hysteresis, the wish as a
 * ceiling, inactive layers, keyframe gating and PLI throttling. */
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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/layer/initial-and-keyframe-gating", test_initial_and_keyframe_gating);
    g_test_add_func("/layer/down-fast-up-slow", test_down_fast_up_slow);
    g_test_add_func("/layer/want-and-inactive", test_want_and_inactive);
    return g_test_run();
}
