/* Unit tests for media/rx_backlog.c: order, the bound, and what an overloaded worker drops
 * first (video, never the small datagrams that carry the speaker's voice). */
#include <string.h>

#include <glib.h>

#include "media/rx_backlog.h"

#define BIG   1200 /* a VP8 packet */
#define SMALL 120  /* an Opus packet */

struct seen {
    GArray *ids; /* guint32: the first four bytes of each datagram handled */
    GArray *lens;
};

static void on_datagram(guint8 *data, gsize len, void *user_data)
{
    struct seen *seen = user_data;
    guint32 id;
    memcpy(&id, data, sizeof id);
    g_array_append_val(seen->ids, id);
    guint l = (guint)len;
    g_array_append_val(seen->lens, l);
}

/* Pushes a datagram of @len bytes that starts with @id. Returns what push returns. */
static guint push(struct kumis_rx_backlog *b, guint32 id, gsize len)
{
    guint8 buf[BIG];
    g_assert_cmpuint(len, <=, sizeof buf);
    memset(buf, 0xab, len);
    memcpy(buf, &id, sizeof id);
    return kumis_rx_backlog_push(b, buf, len);
}

static void drain(GMainContext *ctx)
{
    while (g_main_context_iteration(ctx, FALSE))
        ;
}

struct fixture {
    GMainContext *ctx;
    struct seen seen;
    struct kumis_rx_backlog *b;
};

static void fixture_init(struct fixture *f)
{
    f->ctx = g_main_context_new();
    f->seen.ids = g_array_new(FALSE, FALSE, sizeof(guint32));
    f->seen.lens = g_array_new(FALSE, FALSE, sizeof(guint));
    f->b = kumis_rx_backlog_new(f->ctx, on_datagram, &f->seen);
}

static void fixture_clear(struct fixture *f)
{
    kumis_rx_backlog_free(f->b);
    g_array_unref(f->seen.ids);
    g_array_unref(f->seen.lens);
    g_main_context_unref(f->ctx);
}

static void test_order(void)
{
    struct fixture f;
    fixture_init(&f);
    for (guint32 i = 0; i < 10; i++)
        g_assert_cmpuint(push(f.b, i, i % 2 ? SMALL : BIG), ==, 0);
    g_assert_cmpuint(kumis_rx_backlog_length(f.b), ==, 10);
    drain(f.ctx);
    g_assert_cmpuint(f.seen.ids->len, ==, 10);
    for (guint i = 0; i < 10; i++)
        g_assert_cmpuint(g_array_index(f.seen.ids, guint32, i), ==, i);
    g_assert_cmpuint(kumis_rx_backlog_length(f.b), ==, 0);
    fixture_clear(&f);
}

/* Full of video: more video is refused; a small datagram takes the place of the oldest video
 * datagram and is handled, after the rest, in order. */
static void test_full_of_video(void)
{
    struct fixture f;
    fixture_init(&f);
    for (guint32 i = 0; i < KUMIS_RX_BACKLOG_MAX; i++)
        g_assert_cmpuint(push(f.b, i, BIG), ==, 0);
    g_assert_cmpuint(push(f.b, 1000, BIG), ==, 1);   /* refused */
    g_assert_cmpuint(push(f.b, 2000, SMALL), ==, 1); /* evicts video 0 */
    g_assert_cmpuint(push(f.b, 2001, SMALL), ==, 1); /* evicts video 1 */
    g_assert_cmpuint(kumis_rx_backlog_length(f.b), ==, KUMIS_RX_BACKLOG_MAX);
    drain(f.ctx);
    g_assert_cmpuint(f.seen.ids->len, ==, KUMIS_RX_BACKLOG_MAX);
    g_assert_cmpuint(g_array_index(f.seen.ids, guint32, 0), ==, 2);
    g_assert_cmpuint(g_array_index(f.seen.ids, guint32, KUMIS_RX_BACKLOG_MAX - 3), ==,
                     KUMIS_RX_BACKLOG_MAX - 1);
    g_assert_cmpuint(g_array_index(f.seen.ids, guint32, KUMIS_RX_BACKLOG_MAX - 2), ==, 2000);
    g_assert_cmpuint(g_array_index(f.seen.lens, guint, KUMIS_RX_BACKLOG_MAX - 2), ==, SMALL);
    g_assert_cmpuint(g_array_index(f.seen.ids, guint32, KUMIS_RX_BACKLOG_MAX - 1), ==, 2001);
    for (guint i = 0; i < f.seen.ids->len; i++)
        g_assert_cmpuint(g_array_index(f.seen.ids, guint32, i), !=, 1000);
    fixture_clear(&f);
}

/* Full of small datagrams: nothing to evict, the newest is refused, nothing else changes. */
static void test_full_of_audio(void)
{
    struct fixture f;
    fixture_init(&f);
    for (guint32 i = 0; i < KUMIS_RX_BACKLOG_MAX; i++)
        g_assert_cmpuint(push(f.b, i, SMALL), ==, 0);
    g_assert_cmpuint(push(f.b, 5000, SMALL), ==, 1);
    g_assert_cmpuint(push(f.b, 5001, BIG), ==, 1);
    drain(f.ctx);
    g_assert_cmpuint(f.seen.ids->len, ==, KUMIS_RX_BACKLOG_MAX);
    for (guint i = 0; i < f.seen.ids->len; i++)
        g_assert_cmpuint(g_array_index(f.seen.ids, guint32, i), ==, i);
    fixture_clear(&f);
}

/* A worker that never catches up: video and audio keep coming at 4:1, the backlog stays full;
 * every audio datagram gets through, video pays for all of the drops. */
static void test_overload_keeps_audio(void)
{
    struct fixture f;
    fixture_init(&f);
    guint dropped = 0, audio_sent = 0;
    for (guint32 i = 0; i < 5 * KUMIS_RX_BACKLOG_MAX; i++) {
        gboolean audio = i % 5 == 4;
        audio_sent += audio;
        dropped += push(f.b, i, audio ? SMALL : BIG);
    }
    drain(f.ctx);
    guint audio_seen = 0;
    for (guint i = 0; i < f.seen.lens->len; i++)
        audio_seen += g_array_index(f.seen.lens, guint, i) == SMALL;
    g_test_message("pushed %u (%u audio), dropped %u, handled %u (%u audio)",
                   5 * KUMIS_RX_BACKLOG_MAX, audio_sent, dropped, f.seen.ids->len, audio_seen);
    g_assert_cmpuint(audio_seen, ==, audio_sent);
    g_assert_cmpuint(dropped + f.seen.ids->len, ==, 5 * KUMIS_RX_BACKLOG_MAX);
    fixture_clear(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rx_backlog/order", test_order);
    g_test_add_func("/rx_backlog/full-of-video", test_full_of_video);
    g_test_add_func("/rx_backlog/full-of-audio", test_full_of_audio);
    g_test_add_func("/rx_backlog/overload-keeps-audio", test_overload_keeps_audio);
    return g_test_run();
}
