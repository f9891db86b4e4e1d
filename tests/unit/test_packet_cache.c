/* Unit tests for media/packet_cache.c: hits, misses, overwrite, wrap-around, bounds, and the
 * packets' bodies shared between subscribers' caches. */
#include <glib.h>
#include <string.h>

#include "media/packet_cache.h"

#define PREFIX 20

static gsize fill(guint8 *buf, guint16 seq, gsize len)
{
    for (gsize i = 0; i < len; i++)
        buf[i] = (guint8)(seq + i);
    return len;
}

/* Stores the packet fill(seq, len) as a cache of the router does: its first bytes as the
 * prefix, the rest from a body of its own. */
static gboolean store(struct kumis_packet_cache *c, guint16 seq, gsize len)
{
    guint8 buf[KUMIS_PACKET_CACHE_MTU + 64];
    fill(buf, seq, len);
    gsize own = MIN(len, PREFIX);
    struct kumis_packet_body *body = kumis_packet_body_new(buf, len);
    gboolean ok = kumis_packet_cache_store(c, seq, buf, own, body, own, len - own);
    kumis_packet_body_unref(body);
    return ok;
}

static gboolean holds(struct kumis_packet_cache *c, guint16 seq)
{
    guint8 out[KUMIS_PACKET_CACHE_MTU];
    return kumis_packet_cache_copy(c, seq, out, sizeof out) >= 0;
}

static void assert_holds(struct kumis_packet_cache *c, guint16 seq, gsize want_len)
{
    guint8 out[KUMIS_PACKET_CACHE_MTU], expect[KUMIS_PACKET_CACHE_MTU];
    gssize len = kumis_packet_cache_copy(c, seq, out, sizeof out);
    g_assert_cmpint(len, ==, (gssize)want_len);
    fill(expect, seq, want_len);
    g_assert_cmpmem(out, want_len, expect, want_len);
}

static void test_hits_and_misses(void)
{
    struct kumis_packet_cache *c = kumis_packet_cache_new(500);
    g_assert_cmpuint(kumis_packet_cache_size(c), ==, 512);
    g_assert_false(holds(c, 0)); /* empty */
    for (guint16 s = 100; s < 200; s++)
        g_assert_true(store(c, s, 100 + s));
    assert_holds(c, 100, 200);
    assert_holds(c, 199, 299);
    g_assert_false(holds(c, 99));        /* never stored */
    g_assert_false(holds(c, 200));       /* ahead */
    g_assert_false(holds(c, 100 + 512)); /* same slot, other seq */
    guint8 out[300];
    g_assert_cmpint(kumis_packet_cache_copy(c, 150, out, sizeof(out)), ==, 250);
    g_assert_cmpint(kumis_packet_cache_copy(c, 150, out, 249), ==, -1); /* too small */
    g_assert_cmpint(kumis_packet_cache_copy(c, 201, out, sizeof(out)), ==, -1);
    /* Oversized and empty packets, prefixes too long, tails outside their body: not cached. */
    g_assert_false(store(c, 200, KUMIS_PACKET_CACHE_MTU + 1));
    g_assert_false(store(c, 200, 0));
    guint8 big[KUMIS_PACKET_CACHE_PREFIX + 1] = {0};
    g_assert_false(kumis_packet_cache_store(c, 200, big, sizeof big, NULL, 0, 0));
    struct kumis_packet_body *body = kumis_packet_body_new(big, 10);
    g_assert_false(kumis_packet_cache_store(c, 200, big, 4, body, 5, 6));
    g_assert_false(kumis_packet_cache_store(c, 200, big, 4, body, 11, 1));
    g_assert_false(kumis_packet_cache_store(c, 200, big, 4, NULL, 0, 1));
    g_assert_false(holds(c, 200));
    /* A packet all prefix, or all body, is fine. */
    g_assert_true(kumis_packet_cache_store(c, 200, big, 4, NULL, 0, 0));
    g_assert_cmpint(kumis_packet_cache_copy(c, 200, out, sizeof(out)), ==, 4);
    g_assert_true(kumis_packet_cache_store(c, 201, big, 0, body, 0, 10));
    g_assert_cmpint(kumis_packet_cache_copy(c, 201, out, sizeof(out)), ==, 10);
    kumis_packet_body_unref(body);
    kumis_packet_cache_clear(c);
    g_assert_false(holds(c, 150));
    kumis_packet_cache_free(c);
}

/* Three subscribers sent one publisher packet under their own headers: each cache gives back
 * exactly the bytes its subscriber got, and the shared body lives as long as one cache holds
 * it (under AddressSanitizer a body freed too early or never is an error). */
static void test_shared_body(void)
{
    guint8 packet[1200];
    fill(packet, 7, sizeof packet);
    struct kumis_packet_body *body = kumis_packet_body_new(packet, sizeof packet);
    struct kumis_packet_cache *caches[3];
    for (guint i = 0; i < 3; i++) {
        caches[i] = kumis_packet_cache_new(16);
        guint8 own[36];
        memset(own, 0xA0 + (int)i, sizeof own);
        /* Our header of 20 bytes replaced the publisher's 12: the tail starts 16 bytes into
         * its payload. */
        g_assert_true(kumis_packet_cache_store(caches[i], (guint16)(1000 * i), own, sizeof own,
                                               body, 12 + 16, sizeof packet - 12 - 16));
    }
    kumis_packet_body_unref(body);
    kumis_packet_cache_free(caches[1]);
    /* Stored again over: the slot drops the body it held. */
    g_assert_true(store(caches[2], 2000 + 16, 100));
    for (guint i = 0; i < 3; i += 2) {
        guint8 out[KUMIS_PACKET_CACHE_MTU];
        gssize len = kumis_packet_cache_copy(caches[i], (guint16)(1000 * i), out, sizeof out);
        if (i == 2) {
            g_assert_cmpint(len, ==, -1);
            continue;
        }
        g_assert_cmpint(len, ==, 36 + 1200 - 28);
        for (guint k = 0; k < 36; k++)
            g_assert_cmpuint(out[k], ==, 0xA0 + i);
        g_assert_cmpmem(out + 36, (gsize)len - 36, packet + 28, sizeof packet - 28);
    }
    kumis_packet_cache_free(caches[0]);
    kumis_packet_cache_free(caches[2]);
}

static void test_overwrite_and_wrap(void)
{
    struct kumis_packet_cache *c = kumis_packet_cache_new(16);
    /* Across 65535 -> 0: the last 16 are held, older ones were overwritten. */
    for (guint i = 0; i < 40; i++)
        g_assert_true(store(c, (guint16)(65520 + i), 30));
    for (guint i = 24; i < 40; i++)
        assert_holds(c, (guint16)(65520 + i), 30);
    for (guint i = 0; i < 24; i++)
        g_assert_false(holds(c, (guint16)(65520 + i)));
    /* A late (reordered) packet inside the window is stored and found. */
    g_assert_true(store(c, 14, 27));
    assert_holds(c, 14, 27); /* 65520 + 30, wrapped */
    kumis_packet_cache_free(c);
}

static void test_jumps(void)
{
    struct kumis_packet_cache *c = kumis_packet_cache_new(16);
    for (guint16 s = 0; s < 16; s++)
        store(c, s, 25);
    /* A jump of 20: the slots it skips must not answer for seqs 16..19 + n*16 later. */
    store(c, 35, 25);
    assert_holds(c, 35, 25);
    for (guint16 s = 20; s < 35; s++)
        g_assert_false(holds(c, s));
    for (guint16 s = 0; s < 20; s++)
        g_assert_false(holds(c, s)); /* out of the window */
    /* A huge jump empties everything else. */
    store(c, 30000, 25);
    g_assert_false(holds(c, 35));
    assert_holds(c, 30000, 25);
    /* A sender restart far behind: the cache starts over from there. */
    g_assert_true(store(c, 5, 29));
    assert_holds(c, 5, 29);
    g_assert_false(holds(c, 30000));
    g_assert_true(store(c, 6, 29));
    assert_holds(c, 6, 29);
    kumis_packet_cache_free(c);
}

static void test_bounded_memory(void)
{
    /* Whatever the peer sends, lookups stay exact and nothing grows: hammer it with a
     * pseudo-random sequence and check every hit is the packet stored under that seq. */
    struct kumis_packet_cache *c = kumis_packet_cache_new(64);
    GRand *r = g_rand_new_with_seed(7);
    guint16 base = 0;
    for (guint i = 0; i < 100000; i++) {
        base = (guint16)(base + g_rand_int_range(r, -5, 40));
        store(c, base, (gsize)g_rand_int_range(r, 1, KUMIS_PACKET_CACHE_MTU + 1));
        guint16 q = (guint16)(base - g_rand_int_range(r, 0, 80));
        guint8 out[KUMIS_PACKET_CACHE_MTU];
        gssize len = kumis_packet_cache_copy(c, q, out, sizeof out);
        if (len > 0) {
            g_assert_cmpuint(out[0], ==, (guint8)q);
            g_assert_cmpuint(out[len - 1], ==, (guint8)(q + len - 1));
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
    g_test_add_func("/packet-cache/shared-body", test_shared_body);
    g_test_add_func("/packet-cache/overwrite-and-wrap", test_overwrite_and_wrap);
    g_test_add_func("/packet-cache/jumps", test_jumps);
    g_test_add_func("/packet-cache/bounded-memory", test_bounded_memory);
    return g_test_run();
}
