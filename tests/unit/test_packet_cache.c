/* Unit tests for media/packet_cache.c: hits, misses, overwrite, wrap-around, bounds. */
#include <glib.h>
#include <string.h>

#include "media/packet_cache.h"

static gsize fill(guint8 *buf, guint16 seq, gsize len)
{
    for (gsize i = 0; i < len; i++)
        buf[i] = (guint8)(seq + i);
    return len;
}

static void assert_holds(struct kumis_packet_cache *c, guint16 seq, gsize want_len)
{
    gsize len = 0;
    const guint8 *data = kumis_packet_cache_lookup(c, seq, &len);
    g_assert_nonnull(data);
    g_assert_cmpuint(len, ==, want_len);
    guint8 expect[KUMIS_PACKET_CACHE_MTU];
    fill(expect, seq, want_len);
    g_assert_cmpmem(data, len, expect, want_len);
}

static void test_hits_and_misses(void)
{
    struct kumis_packet_cache *c = kumis_packet_cache_new(500);
    g_assert_cmpuint(kumis_packet_cache_size(c), ==, 512);
    guint8 buf[KUMIS_PACKET_CACHE_MTU];
    gsize len;
    g_assert_null(kumis_packet_cache_lookup(c, 0, &len)); /* empty */
    for (guint16 s = 100; s < 200; s++)
        g_assert_true(kumis_packet_cache_store(c, s, buf, fill(buf, s, 100 + s)));
    assert_holds(c, 100, 200);
    assert_holds(c, 199, 299);
    g_assert_null(kumis_packet_cache_lookup(c, 99, &len));        /* never stored */
    g_assert_null(kumis_packet_cache_lookup(c, 200, &len));       /* ahead */
    g_assert_null(kumis_packet_cache_lookup(c, 100 + 512, &len)); /* same slot, other seq */
    guint8 out[300];
    g_assert_cmpint(kumis_packet_cache_copy(c, 150, out, sizeof(out)), ==, 250);
    g_assert_cmpint(kumis_packet_cache_copy(c, 150, out, 249), ==, -1); /* too small */
    g_assert_cmpint(kumis_packet_cache_copy(c, 201, out, sizeof(out)), ==, -1);
    /* Oversized and empty packets are not cached. */
    guint8 big[KUMIS_PACKET_CACHE_MTU + 1] = {0};
    g_assert_false(kumis_packet_cache_store(c, 200, big, sizeof(big)));
    g_assert_false(kumis_packet_cache_store(c, 200, big, 0));
    g_assert_null(kumis_packet_cache_lookup(c, 200, &len));
    kumis_packet_cache_clear(c);
    g_assert_null(kumis_packet_cache_lookup(c, 150, &len));
    kumis_packet_cache_free(c);
}

static void test_overwrite_and_wrap(void)
{
    struct kumis_packet_cache *c = kumis_packet_cache_new(16);
    guint8 buf[64];
    /* Across 65535 -> 0: the last 16 are held, older ones were overwritten. */
    for (guint i = 0; i < 40; i++) {
        guint16 s = (guint16)(65520 + i);
        g_assert_true(kumis_packet_cache_store(c, s, buf, fill(buf, s, 10)));
    }
    gsize len;
    for (guint i = 24; i < 40; i++)
        assert_holds(c, (guint16)(65520 + i), 10);
    for (guint i = 0; i < 24; i++)
        g_assert_null(kumis_packet_cache_lookup(c, (guint16)(65520 + i), &len));
    /* A late (reordered) packet inside the window is stored and found. */
    g_assert_true(kumis_packet_cache_store(c, 14, buf, fill(buf, 14, 7)));
    assert_holds(c, 14, 7); /* 65520 + 30, wrapped */
    kumis_packet_cache_free(c);
}

static void test_jumps(void)
{
    struct kumis_packet_cache *c = kumis_packet_cache_new(16);
    guint8 buf[64];
    gsize len;
    for (guint16 s = 0; s < 16; s++)
        kumis_packet_cache_store(c, s, buf, fill(buf, s, 5));
    /* A jump of 20: the slots it skips must not answer for seqs 16..19 + n*16 later. */
    kumis_packet_cache_store(c, 35, buf, fill(buf, 35, 5));
    assert_holds(c, 35, 5);
    for (guint16 s = 20; s < 35; s++)
        g_assert_null(kumis_packet_cache_lookup(c, s, &len));
    for (guint16 s = 0; s < 20; s++)
        g_assert_null(kumis_packet_cache_lookup(c, s, &len)); /* out of the window */
    /* A huge jump empties everything else. */
    kumis_packet_cache_store(c, 30000, buf, fill(buf, 30000, 5));
    g_assert_null(kumis_packet_cache_lookup(c, 35, &len));
    assert_holds(c, 30000, 5);
    /* A sender restart far behind: the cache starts over from there. */
    g_assert_true(kumis_packet_cache_store(c, 5, buf, fill(buf, 5, 9)));
    assert_holds(c, 5, 9);
    g_assert_null(kumis_packet_cache_lookup(c, 30000, &len));
    g_assert_true(kumis_packet_cache_store(c, 6, buf, fill(buf, 6, 9)));
    assert_holds(c, 6, 9);
    kumis_packet_cache_free(c);
}

static void test_bounded_memory(void)
{
    /* Whatever the peer sends, lookups stay exact and nothing grows: hammer it with a
     * pseudo-random sequence and check every hit is the packet stored under that seq. */
    struct kumis_packet_cache *c = kumis_packet_cache_new(64);
    GRand *r = g_rand_new_with_seed(7);
    guint8 buf[KUMIS_PACKET_CACHE_MTU];
    guint16 base = 0;
    for (guint i = 0; i < 100000; i++) {
        base = (guint16)(base + g_rand_int_range(r, -5, 40));
        gsize n = (gsize)g_rand_int_range(r, 1, KUMIS_PACKET_CACHE_MTU + 1);
        kumis_packet_cache_store(c, base, buf, fill(buf, base, n));
        guint16 q = (guint16)(base - g_rand_int_range(r, 0, 80));
        gsize len;
        const guint8 *data = kumis_packet_cache_lookup(c, q, &len);
        if (data != NULL) {
            g_assert_cmpuint(data[0], ==, (guint8)q);
            g_assert_cmpuint(data[len - 1], ==, (guint8)(q + len - 1));
        }
    }
    g_rand_free(r);
    g_assert_cmpuint(kumis_packet_cache_size(c), ==, 64);
    kumis_packet_cache_free(c);
    c = kumis_packet_cache_new(G_MAXUINT);
    g_assert_cmpuint(kumis_packet_cache_size(c), ==, 32768);
    kumis_packet_cache_free(c);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/packet-cache/hits-and-misses", test_hits_and_misses);
    g_test_add_func("/packet-cache/overwrite-and-wrap", test_overwrite_and_wrap);
    g_test_add_func("/packet-cache/jumps", test_jumps);
    g_test_add_func("/packet-cache/bounded-memory", test_bounded_memory);
    return g_test_run();
}
