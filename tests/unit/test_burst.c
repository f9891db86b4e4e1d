/* Unit tests for media/burst.c: a track's video packets wait for the end of their frame (the
 * marker), for at most KUMIS_BURST_HOLD_US or KUMIS_BURST_MAX packets, and leave in order, to
 * the subscribers they were meant for. */
#include <glib.h>

#include "media/burst.h"

/* A key as the router's sink set is one: reference counted. */
struct key {
    int refs;
    const char *name;
};

struct flushed {
    const char *key;
    guint group;
    guint n;
    guint16 first_seq, last_seq;
    gboolean cut_short;
};

struct recorder {
    GArray *flushes; /* struct flushed */
    gboolean in_order;
};

static void *key_ref(void *k)
{
    ((struct key *)k)->refs++;
    return k;
}

static void key_unref(void *k)
{
    ((struct key *)k)->refs--;
}

static void on_flush(void *user_data, void *key, guint group,
                     const struct kumis_burst_packet *packets, guint n, gboolean cut_short)
{
    struct recorder *r = user_data;
    for (guint i = 1; i < n; i++)
        r->in_order &= packets[i].h.seq == (guint16)(packets[i - 1].h.seq + 1);
    /* Each packet's body is the packet its header was parsed from. */
    for (guint i = 0; i < n; i++) {
        gsize len;
        const guint8 *data = kumis_packet_body_data(packets[i].body, &len);
        r->in_order &= len == 20 && (data[2] << 8 | data[3]) == packets[i].h.seq;
    }
    struct flushed f = {((struct key *)key)->name, group,    n, packets[0].h.seq,
                        packets[n - 1].h.seq,      cut_short};
    g_array_append_val(r->flushes, f);
}

static const struct kumis_bursts_funcs funcs = {key_ref, key_unref, on_flush};

/* Adds the packet with sequence number @seq (marker @marker) of @owner's track. */
static void add(struct kumis_bursts *b, struct key *k, const void *owner, guint16 seq,
                gboolean marker, gint64 now)
{
    guint8 p[20] = {0x80, (guint8)(96 | (marker ? 0x80 : 0)), (guint8)(seq >> 8), (guint8)seq};
    struct kumis_rtp_header h;
    g_assert_true(kumis_rtp_parse(p, sizeof p, &h));
    struct kumis_packet_body *body = kumis_packet_body_new(p, sizeof p);
    kumis_bursts_add(b, k, owner, 1, body, &h, 0, FALSE, now);
    kumis_packet_body_unref(body);
}

static struct flushed *nth(struct recorder *r, guint i)
{
    g_assert_cmpuint(r->flushes->len, >, i);
    return &g_array_index(r->flushes, struct flushed, i);
}

static void test_frame_waits_for_marker(void)
{
    struct recorder r = {g_array_new(FALSE, FALSE, sizeof(struct flushed)), TRUE};
    struct kumis_bursts *b = kumis_bursts_new(&funcs, &r);
    struct key k = {0, "a"};
    int track;
    g_assert_cmpint(kumis_bursts_deadline(b), ==, -1);
    for (guint16 s = 100; s < 105; s++)
        add(b, &k, &track, s, FALSE, 1000 + s);
    /* Nothing left yet; the hold runs from the first packet; the burst holds its key. */
    g_assert_cmpuint(r.flushes->len, ==, 0);
    g_assert_cmpint(kumis_bursts_deadline(b), ==, 1100 + KUMIS_BURST_HOLD_US);
    g_assert_cmpint(k.refs, ==, 1);
    kumis_bursts_flush_due(b, 1100 + KUMIS_BURST_HOLD_US - 1);
    g_assert_cmpuint(r.flushes->len, ==, 0);
    add(b, &k, &track, 105, TRUE, 1200);
    g_assert_cmpuint(r.flushes->len, ==, 1);
    struct flushed *f = nth(&r, 0);
    g_assert_cmpstr(f->key, ==, "a");
    g_assert_cmpuint(f->group, ==, 1);
    g_assert_cmpuint(f->n, ==, 6);
    g_assert_cmpuint(f->first_seq, ==, 100);
    g_assert_cmpuint(f->last_seq, ==, 105);
    g_assert_false(f->cut_short);
    g_assert_cmpint(kumis_bursts_deadline(b), ==, -1);
    g_assert_cmpint(k.refs, ==, 0);
    g_assert_true(r.in_order);
    kumis_bursts_free(b);
    g_array_unref(r.flushes);
}

static void test_hold_and_cap(void)
{
    struct recorder r = {g_array_new(FALSE, FALSE, sizeof(struct flushed)), TRUE};
    struct kumis_bursts *b = kumis_bursts_new(&funcs, &r);
    struct key k = {0, "a"};
    int track;
    /* The marker never comes (lost upstream): the burst leaves when its hold ends. */
    add(b, &k, &track, 1, FALSE, 5000);
    add(b, &k, &track, 2, FALSE, 9000);
    kumis_bursts_flush_due(b, 5000 + KUMIS_BURST_HOLD_US);
    g_assert_cmpuint(r.flushes->len, ==, 1);
    g_assert_cmpuint(nth(&r, 0)->n, ==, 2);
    g_assert_true(nth(&r, 0)->cut_short);
    /* A keyframe of 40 packets leaves in bursts of KUMIS_BURST_MAX, the last one with its
     * marker. */
    for (guint16 s = 3; s < 43; s++)
        add(b, &k, &track, s, s == 42, 20000);
    g_assert_cmpuint(r.flushes->len, ==, 1 + 3);
    g_assert_cmpuint(nth(&r, 1)->n, ==, KUMIS_BURST_MAX);
    g_assert_true(nth(&r, 1)->cut_short);
    g_assert_cmpuint(nth(&r, 2)->first_seq, ==, 3 + KUMIS_BURST_MAX);
    g_assert_cmpuint(nth(&r, 3)->n, ==, 40 - 2 * KUMIS_BURST_MAX);
    g_assert_false(nth(&r, 3)->cut_short);
    g_assert_true(r.in_order);
    kumis_bursts_free(b);
    g_array_unref(r.flushes);
}

static void test_tracks_and_keys(void)
{
    struct recorder r = {g_array_new(FALSE, FALSE, sizeof(struct flushed)), TRUE};
    struct kumis_bursts *b = kumis_bursts_new(&funcs, &r);
    struct key k1 = {0, "track1"}, k2 = {0, "track2"}, k1b = {0, "track1-new"};
    int track1, track2;
    /* Two tracks wait side by side, each with its own hold. */
    add(b, &k1, &track1, 10, FALSE, 0);
    add(b, &k2, &track2, 500, FALSE, 3000);
    g_assert_cmpint(kumis_bursts_deadline(b), ==, KUMIS_BURST_HOLD_US);
    add(b, &k2, &track2, 501, TRUE, 4000);
    g_assert_cmpuint(r.flushes->len, ==, 1);
    g_assert_cmpstr(nth(&r, 0)->key, ==, "track2");
    /* Track 1's subscribers change (a new key): what waited goes first, to the old ones. */
    add(b, &k1b, &track1, 11, FALSE, 5000);
    g_assert_cmpuint(r.flushes->len, ==, 2);
    g_assert_cmpstr(nth(&r, 1)->key, ==, "track1");
    g_assert_cmpuint(nth(&r, 1)->last_seq, ==, 10);
    g_assert_true(nth(&r, 1)->cut_short);
    g_assert_cmpint(k1.refs, ==, 0);
    g_assert_cmpint(kumis_bursts_deadline(b), ==, 5000 + KUMIS_BURST_HOLD_US);
    add(b, &k1b, &track1, 12, TRUE, 6000);
    g_assert_cmpstr(nth(&r, 2)->key, ==, "track1-new");
    g_assert_cmpuint(nth(&r, 2)->first_seq, ==, 11);
    /* Freed with packets waiting: dropped unsent, references given back (ASan: no leak). */
    add(b, &k2, &track2, 502, FALSE, 7000);
    kumis_bursts_free(b);
    g_assert_cmpuint(r.flushes->len, ==, 3);
    g_assert_cmpint(k2.refs, ==, 0);
    g_assert_cmpint(k1b.refs, ==, 0);
    g_assert_true(r.in_order);
    g_array_unref(r.flushes);
}

/* Pads for packets given as (layer, payload length) pairs. */
static void pads_of(const int (*spec)[2], guint n, guint8 *pads)
{
    struct kumis_burst_packet packets[KUMIS_BURST_MAX];
    g_assert_cmpuint(n, <=, KUMIS_BURST_MAX);
    for (guint i = 0; i < n; i++)
        packets[i] = (struct kumis_burst_packet){.layer = spec[i][0],
                                                 .h = {.payload_len = (gsize)spec[i][1]}};
    kumis_burst_pads(packets, n, pads);
}

#define PADS(spec, ...)                                                                            \
    do {                                                                                           \
        guint8 got[G_N_ELEMENTS(spec)];                                                            \
        const guint8 want[] = {__VA_ARGS__};                                                       \
        G_STATIC_ASSERT(G_N_ELEMENTS(want) == G_N_ELEMENTS(spec));                                 \
        pads_of(spec, G_N_ELEMENTS(spec), got);                                                    \
        g_assert_cmpmem(got, sizeof got, want, sizeof want);                                       \
    } while (0)

/* A browser's frame (sizes a byte apart, the longer last) becomes one size but for a shorter
 * last packet; what is far shorter, a layer's last packet and empty packets stay as they are;
 * each simulcast layer on its own. */
static void test_pads(void)
{
    const int browser[][2] = {{0, 1043}, {0, 1043}, {0, 1044}, {0, 1044}, {0, 1044}};
    PADS(browser, 1, 1, 0, 0, 0);
    const int mtu_fill[][2] = {{0, 1184}, {0, 1184}, {0, 500}};
    PADS(mtu_fill, 0, 0, 0);
    const int last_shorter[][2] = {{0, 957}, {0, 958}, {0, 957}};
    PADS(last_shorter, 1, 0, 0);
    const int odd_one[][2] = {
        {0, 1044}, {0, 1044 - KUMIS_BURST_PAD_MAX - 1}, {0, 1044 - KUMIS_BURST_PAD_MAX}, {0, 1044}};
    PADS(odd_one, 0, 0, KUMIS_BURST_PAD_MAX, 0);
    const int layers[][2] = {{0, 300}, {1, 799}, {0, 301}, {1, 800}, {1, 790}, {2, 5}};
    PADS(layers, 1, 1, 0, 0, 0, 0);
    const int empty[][2] = {{0, 1043}, {0, 0}, {0, 1044}, {0, 0}};
    PADS(empty, 1, 0, 0, 0);
    const int alone[][2] = {{0, 1043}, {0, 0}};
    PADS(alone, 0, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/burst/frame-waits-for-marker", test_frame_waits_for_marker);
    g_test_add_func("/burst/hold-and-cap", test_hold_and_cap);
    g_test_add_func("/burst/tracks-and-keys", test_tracks_and_keys);
    g_test_add_func("/burst/pads", test_pads);
    return g_test_run();
}
