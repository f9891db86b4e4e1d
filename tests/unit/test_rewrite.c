/* Unit tests for media/rewrite.c: continuity across source switches, wrap-around, reordering,
 * duplicates, old packets, gaps, NACK reverse mapping, and VP8 picture ID / TL0PICIDX. */
#include <glib.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <string.h>

#include "media/codec_vp8.h"
#include "media/codec_vp9.h"
#include "media/rewrite.h"

#define MS 1000 /* µs */

/* GLib leaks its first quark block on purpose when the quark table grows past it (GStreamer's
 * plugins register thousands of quarks); that block is allocated in GLib's library constructor.
 * Under ASan, unwind slowly enough to see the constructor frame and suppress just that. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:_dl_init\n";
}
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

static guint16 oseq;
static guint32 ots;

static enum kumis_rewrite_result map(struct kumis_rewrite *rw, guint32 ssrc, guint16 seq,
                                     guint32 ts, gint64 now)
{
    return kumis_rewrite_map(rw, ssrc, seq, ts, now, &oseq, &ots);
}

static void test_single_source_wrap(void)
{
    struct kumis_rewrite rw;
    kumis_rewrite_init(&rw, 0xFEED, 90000, KUMIS_REWRITE_CODEC_OTHER);
    /* Seq wraps 65535 -> 0 and ts wraps 2^32 -> 0 within one source: output follows. */
    guint16 seq = 65533;
    guint32 ts = G_MAXUINT32 - 3000 * 2;
    guint16 first_out = 0;
    guint32 first_ts = 0;
    for (guint i = 0; i < 6; i++) {
        g_assert_cmpint(map(&rw, 0xA, seq, ts, i * 33 * MS), ==, KUMIS_REWRITE_FORWARD);
        if (i == 0) {
            first_out = oseq;
            first_ts = ots;
        }
        g_assert_cmpuint(oseq, ==, (guint16)(first_out + i));
        g_assert_cmpuint(ots, ==, first_ts + i * 3000);
        seq++;
        ts += 3000;
    }
}

static void test_switch_continuity(void)
{
    struct kumis_rewrite rw;
    kumis_rewrite_init(&rw, 0xFEED, 90000, KUMIS_REWRITE_CODEC_OTHER);
    gint64 now = 1000 * MS;
    for (guint i = 0; i < 10; i++)
        g_assert_cmpint(map(&rw, 0xA, 100 + i, 5000 + i * 3000, now + i * 33 * MS), ==,
                        KUMIS_REWRITE_FORWARD);
    guint16 last_seq = oseq;
    guint32 last_ts = ots;
    gint64 last_now = now + 9 * 33 * MS;

    /* Source B has unrelated numbers; it starts 40 ms after A's last timestamp went out. */
    g_assert_cmpint(map(&rw, 0xB, 40000, 123456789, last_now + 40 * MS), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(last_seq + 1));
    g_assert_cmpuint(ots, ==, last_ts + 3600); /* 40 ms at 90 kHz */
    g_assert_cmpuint(rw.switches, ==, 1);
    /* B's own spacing is kept after the switch. */
    g_assert_cmpint(map(&rw, 0xB, 40001, 123456789 + 3000, last_now + 73 * MS), ==,
                    KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(last_seq + 2));
    g_assert_cmpuint(ots, ==, last_ts + 3600 + 3000);

    /* Switching back and forth immediately still moves the clock by at least one tick. */
    guint32 before = ots;
    gint64 t = last_now + 73 * MS;
    g_assert_cmpint(map(&rw, 0xA, 110, 5000 + 10 * 3000, t), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(last_seq + 3));
    g_assert_cmpuint(ots, ==, before + 1);
    /* The output seq wraps across a switch too. */
    kumis_rewrite_init(&rw, 1, 48000, KUMIS_REWRITE_CODEC_OTHER);
    g_assert_cmpint(map(&rw, 0xA, 65535, 0, 0), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpint(map(&rw, 0xB, 7, 0, 20 * MS), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, 0);
    g_assert_cmpuint(ots, ==, 960); /* 20 ms at 48 kHz */
}

static void test_reorder_duplicates_old(void)
{
    struct kumis_rewrite rw;
    kumis_rewrite_init(&rw, 1, 90000, KUMIS_REWRITE_CODEC_OTHER);
    g_assert_cmpint(map(&rw, 0xA, 65534, 1000, 0), ==, KUMIS_REWRITE_FORWARD);
    guint16 base = oseq;
    /* 65534, 1 (gap over 65535 and 0), then 0 and 65535 late: all map consistently. */
    g_assert_cmpint(map(&rw, 0xA, 1, 1000, 0), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(base + 3)); /* gap kept */
    g_assert_cmpint(map(&rw, 0xA, 0, 1000, 0), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(base + 2));
    g_assert_cmpint(map(&rw, 0xA, 65535, 1000, 0), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(base + 1));
    /* Duplicates: of the highest, and of a late one. */
    g_assert_cmpint(map(&rw, 0xA, 1, 1000, 0), ==, KUMIS_REWRITE_DROP_DUPLICATE);
    g_assert_cmpint(map(&rw, 0xA, 0, 1000, 0), ==, KUMIS_REWRITE_DROP_DUPLICATE);
    g_assert_cmpint(map(&rw, 0xA, 65534, 1000, 0), ==, KUMIS_REWRITE_DROP_DUPLICATE);
    g_assert_cmpuint(rw.dropped_duplicate, ==, 3);
    /* Far ahead, then one just inside the window and one just outside. */
    for (guint16 s = 2; s < 2000; s++)
        g_assert_cmpint(map(&rw, 0xA, s, 1000, 0), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpint(map(&rw, 0xA, 1999 - 1023, 1000, 0), ==, KUMIS_REWRITE_DROP_DUPLICATE);
    g_assert_cmpint(map(&rw, 0xA, 1999 - 1024, 1000, 0), ==, KUMIS_REWRITE_DROP_OLD);
    /* A missing one inside the window is still accepted late. */
    g_assert_cmpint(map(&rw, 0xA, 2005, 1000, 0), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpint(map(&rw, 0xA, 2001, 1000, 0), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(base + 2001 + 2));
}

static void test_switch_drops_stale(void)
{
    struct kumis_rewrite rw;
    kumis_rewrite_init(&rw, 1, 90000, KUMIS_REWRITE_CODEC_OTHER);
    for (guint16 s = 0; s < 50; s++)
        map(&rw, 0xA, s, s * 10, 0);
    guint16 a_last = oseq;
    g_assert_cmpint(map(&rw, 0xB, 500, 0, 10 * MS), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(a_last + 1));
    /* B's packets from before the switch point would collide with A's output seqs: drop. */
    g_assert_cmpint(map(&rw, 0xB, 499, 0, 10 * MS), ==, KUMIS_REWRITE_DROP_OLD);
    g_assert_cmpint(map(&rw, 0xB, 502, 0, 10 * MS), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpint(map(&rw, 0xB, 501, 0, 10 * MS), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(a_last + 2));
}

static void test_source_restart(void)
{
    struct kumis_rewrite rw;
    kumis_rewrite_init(&rw, 1, 90000, KUMIS_REWRITE_CODEC_OTHER);
    for (guint16 s = 10000; s < 10010; s++)
        map(&rw, 0xA, s, 0, 0);
    guint16 last = oseq;
    /* Same SSRC, sequence restarted far behind: output stays continuous. */
    g_assert_cmpint(map(&rw, 0xA, 3, 0, 5 * MS), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(last + 1));
    g_assert_cmpint(map(&rw, 0xA, 4, 0, 5 * MS), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpuint(oseq, ==, (guint16)(last + 2));
}

static void test_reverse_map(void)
{
    struct kumis_rewrite rw;
    kumis_rewrite_init(&rw, 1, 90000, KUMIS_REWRITE_CODEC_OTHER);
    guint32 ssrc;
    guint16 src;
    g_assert_false(kumis_rewrite_reverse(&rw, 0, &ssrc, &src));
    /* A: 65530..65535, 2 (0 and 1 lost). B: 700, 702 (701 lost). */
    for (guint s = 65530; s <= 65535; s++)
        map(&rw, 0xA, (guint16)s, 0, 0);
    guint16 a0 = (guint16)(oseq - 5);
    map(&rw, 0xA, 2, 0, 0);
    map(&rw, 0xB, 700, 0, 0);
    guint16 b0 = oseq;
    map(&rw, 0xB, 702, 0, 0);
    g_assert_cmpuint(b0, ==, (guint16)(a0 + 9));

    g_assert_true(kumis_rewrite_reverse(&rw, a0, &ssrc, &src));
    g_assert_cmpuint(ssrc, ==, 0xA);
    g_assert_cmpuint(src, ==, 65530);
    g_assert_true(kumis_rewrite_reverse(&rw, (guint16)(a0 + 7), &ssrc, &src)); /* A's gap */
    g_assert_cmpuint(ssrc, ==, 0xA);
    g_assert_cmpuint(src, ==, 1);
    g_assert_true(kumis_rewrite_reverse(&rw, (guint16)(b0 + 1), &ssrc, &src)); /* B's gap */
    g_assert_cmpuint(ssrc, ==, 0xB);
    g_assert_cmpuint(src, ==, 701);
    g_assert_false(kumis_rewrite_reverse(&rw, (guint16)(b0 + 3), &ssrc, &src)); /* ahead */
    g_assert_false(kumis_rewrite_reverse(&rw, (guint16)(a0 - 1), &ssrc, &src)); /* before all */

    /* A long-running source (more than 2^15 packets since its switch) still maps back, and
     * seqs older than the window do not. */
    for (guint i = 0; i < 50000; i++)
        map(&rw, 0xB, (guint16)(703 + i), 0, 0);
    guint16 last = oseq;
    g_assert_true(kumis_rewrite_reverse(&rw, (guint16)(last - 10), &ssrc, &src));
    g_assert_cmpuint(ssrc, ==, 0xB);
    g_assert_cmpuint(src, ==, (guint16)(703 + 50000 - 1 - 10));
    g_assert_true(kumis_rewrite_reverse(&rw, (guint16)(last - 1023), &ssrc, &src));
    g_assert_false(kumis_rewrite_reverse(&rw, (guint16)(last - 1024), &ssrc, &src));
    /* A reordered packet of that long-running source is still accepted, not taken for one
     * from before the switch. */
    g_assert_cmpint(map(&rw, 0xB, (guint16)(703 + 50000 + 2), 0, 0), ==, KUMIS_REWRITE_FORWARD);
    g_assert_cmpint(map(&rw, 0xB, (guint16)(703 + 50000), 0, 0), ==, KUMIS_REWRITE_FORWARD);
}

/* An RTP packet carrying a VP8 descriptor with a 15- or 7-bit picture ID and TL0PICIDX. */
static gsize vp8_packet(guint8 *p, guint32 ssrc, guint16 seq, guint32 ts, guint16 picid,
                        gboolean long_picid, guint8 tl0, gboolean key)
{
    memset(p, 0, 12);
    p[0] = 0x80;
    p[1] = 96;
    p[2] = (guint8)(seq >> 8), p[3] = (guint8)seq;
    p[4] = (guint8)(ts >> 24), p[5] = (guint8)(ts >> 16), p[6] = (guint8)(ts >> 8);
    p[7] = (guint8)ts;
    p[8] = (guint8)(ssrc >> 24), p[9] = (guint8)(ssrc >> 16), p[10] = (guint8)(ssrc >> 8);
    p[11] = (guint8)ssrc;
    gsize i = 12;
    p[i++] = 0x90; /* X, S, PID 0 */
    p[i++] = 0xE0; /* I, L, T */
    if (long_picid) {
        p[i++] = (guint8)(0x80 | (picid >> 8));
        p[i++] = (guint8)picid;
    } else {
        p[i++] = (guint8)(picid & 0x7F);
    }
    p[i++] = tl0;
    p[i++] = 0x00; /* TID 0 */
    p[i++] = key ? 0x10 : 0x11;
    p[i++] = 0xAB;
    return i;
}

static void rewrite_vp8(struct kumis_rewrite *rw, guint32 ssrc, guint16 seq, guint16 picid,
                        gboolean long_picid, guint8 tl0, gint64 now,
                        struct kumis_vp8_descriptor *out)
{
    guint8 p[64];
    gsize len = vp8_packet(p, ssrc, seq, seq * 3000u, picid, long_picid, tl0, FALSE);
    struct kumis_rtp_header h;
    g_assert_true(kumis_rtp_parse(p, len, &h));
    g_assert_cmpint(kumis_rewrite_packet(rw, p, len, &h, now), ==, KUMIS_REWRITE_FORWARD);
    struct kumis_rtp_header h2;
    g_assert_true(kumis_rtp_parse(p, len, &h2));
    g_assert_cmpuint(h2.ssrc, ==, rw->out_ssrc);
    g_assert_cmpuint(h2.seq, ==, h.seq);
    g_assert_true(kumis_vp8_parse(p + h2.payload_offset, h2.payload_len, out));
    g_assert_cmpuint(out->descriptor_len + 2, ==, h2.payload_len); /* same size */
}

static void test_vp8_continuity(void)
{
    struct kumis_rewrite rw;
    kumis_rewrite_init(&rw, 0x5EED, 90000, KUMIS_REWRITE_CODEC_VP8);
    struct kumis_vp8_descriptor d;
    /* Layer A: picture IDs 32766, 32767, 0 (15-bit wrap), TL0PICIDX 254, 255, 0. */
    rewrite_vp8(&rw, 0xA, 10, 32766, TRUE, 254, 0, &d);
    g_assert_cmpuint(d.picture_id, ==, 32766);
    g_assert_cmpuint(d.tl0picidx, ==, 254);
    rewrite_vp8(&rw, 0xA, 11, 32767, TRUE, 255, 33 * MS, &d);
    rewrite_vp8(&rw, 0xA, 12, 32767, TRUE, 255, 34 * MS, &d); /* second packet, same frame */
    g_assert_cmpuint(d.picture_id, ==, 32767);
    rewrite_vp8(&rw, 0xA, 13, 0, TRUE, 0, 66 * MS, &d);
    g_assert_cmpuint(d.picture_id, ==, 0);
    g_assert_cmpuint(d.tl0picidx, ==, 0);
    /* Switch to layer B with unrelated numbers: both continue at last + 1. */
    rewrite_vp8(&rw, 0xB, 5000, 1234, TRUE, 77, 100 * MS, &d);
    g_assert_cmpuint(d.picture_id, ==, 1);
    g_assert_cmpuint(d.tl0picidx, ==, 1);
    rewrite_vp8(&rw, 0xB, 5001, 1235, TRUE, 78, 133 * MS, &d);
    g_assert_cmpuint(d.picture_id, ==, 2);
    g_assert_cmpuint(d.tl0picidx, ==, 2);
    /* Switch to a source with 7-bit picture IDs: the 7-bit field continues mod 128. */
    rewrite_vp8(&rw, 0xC, 9, 120, FALSE, 3, 166 * MS, &d);
    g_assert_false(d.picture_id_15bit);
    g_assert_cmpuint(d.picture_id, ==, 3);
    g_assert_cmpuint(d.tl0picidx, ==, 3);
    rewrite_vp8(&rw, 0xC, 10, 121, FALSE, 4, 200 * MS, &d);
    g_assert_cmpuint(d.picture_id, ==, 4);
    /* Back to B: continues after C's last (4), in 15 bits. */
    rewrite_vp8(&rw, 0xB, 5100, 1300, TRUE, 90, 233 * MS, &d);
    g_assert_cmpuint(d.picture_id, ==, 5);
    g_assert_cmpuint(d.tl0picidx, ==, 5);
}

/* The same continuity for VP9 (RFC 9628 non-flexible mode): I L B | M picture ID | TID 0 SID 0
 * | TL0PICIDX; switching to a source with other numbers continues both at last + 1. */
static void rewrite_vp9(struct kumis_rewrite *rw, guint32 ssrc, guint16 seq, guint16 picid,
                        guint8 tl0, gint64 now, struct kumis_vp9_descriptor *out)
{
    guint8 p[64];
    vp8_packet(p, ssrc, seq, seq * 3000u, 0, TRUE, 0, FALSE); /* for its RTP header */
    gsize i = 12;
    p[i++] = 0xA8;
    p[i++] = (guint8)(0x80 | (picid >> 8));
    p[i++] = (guint8)picid;
    p[i++] = 0x00;
    p[i++] = tl0;
    p[i++] = 0x82;
    gsize len = i;
    struct kumis_rtp_header h;
    g_assert_true(kumis_rtp_parse(p, len, &h));
    g_assert_cmpint(kumis_rewrite_packet(rw, p, len, &h, now), ==, KUMIS_REWRITE_FORWARD);
    g_assert_true(kumis_rtp_parse(p, len, &h));
    g_assert_true(kumis_vp9_parse(p + h.payload_offset, h.payload_len, out));
    g_assert_cmpuint(p[len - 1], ==, 0x82);
}

static void test_vp9_continuity(void)
{
    struct kumis_rewrite rw;
    kumis_rewrite_init(&rw, 0x5EED, 90000, KUMIS_REWRITE_CODEC_VP9);
    struct kumis_vp9_descriptor d;
    rewrite_vp9(&rw, 0xA, 10, 32767, 255, 0, &d);
    g_assert_cmpuint(d.picture_id, ==, 32767);
    g_assert_cmpuint(d.tl0picidx, ==, 255);
    rewrite_vp9(&rw, 0xA, 11, 0, 0, 33 * MS, &d); /* both wrap */
    g_assert_cmpuint(d.picture_id, ==, 0);
    g_assert_cmpuint(d.tl0picidx, ==, 0);
    rewrite_vp9(&rw, 0xB, 700, 4321, 99, 66 * MS, &d);
    g_assert_cmpuint(d.picture_id, ==, 1);
    g_assert_cmpuint(d.tl0picidx, ==, 1);
    rewrite_vp9(&rw, 0xB, 701, 4322, 100, 100 * MS, &d);
    g_assert_cmpuint(d.picture_id, ==, 2);
    g_assert_cmpuint(d.tl0picidx, ==, 2);
}

/* The RTP packets of @n_frames VP8 frames from GStreamer (keyframe every 10), as GBytes, with
 * the frame index of each in @frame_of. */
static GPtrArray *vp8_stream(guint ssrc, guint picid_offset, GArray *frame_of)
{
    g_autofree char *desc = g_strdup_printf(
        "videotestsrc num-buffers=20 pattern=ball ! video/x-raw,width=320,height=240 ! "
        "vp8enc keyframe-max-dist=10 deadline=1 ! rtpvp8pay picture-id-mode=15-bit "
        "picture-id-offset=%u ssrc=%u mtu=500 ! appsink name=sink sync=false",
        picid_offset, ssrc);
    GError *error = NULL;
    GstElement *pipeline = gst_parse_launch(desc, &error);
    g_assert_no_error(error);
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    GPtrArray *packets = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    GstSample *sample;
    gint frame = -1;
    guint32 ts = 0;
    while ((sample = gst_app_sink_pull_sample(GST_APP_SINK(sink))) != NULL) {
        GstMapInfo map;
        GstBuffer *buffer = gst_sample_get_buffer(sample);
        g_assert_true(gst_buffer_map(buffer, &map, GST_MAP_READ));
        struct kumis_rtp_header h;
        g_assert_true(kumis_rtp_parse(map.data, map.size, &h));
        if (frame < 0 || h.timestamp != ts)
            frame++;
        ts = h.timestamp;
        g_array_append_val(frame_of, frame);
        g_ptr_array_add(packets, g_bytes_new(map.data, map.size));
        gst_buffer_unmap(buffer, &map);
        gst_sample_unref(sample);
    }
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
    return packets;
}

/* A simulcast-like switch on real VP8 packets: layer A (frames 0-9), then layer B from its
 * keyframe at frame 10. The subscriber sees one stream: seq +1, picture ID +1 per frame, one
 * frame interval of timestamp across the switch, and NACKs map back to the right layer. */
static void test_vp8_gstreamer_switch(void)
{
    GArray *fa = g_array_new(FALSE, FALSE, sizeof(gint));
    GArray *fb = g_array_new(FALSE, FALSE, sizeof(gint));
    GPtrArray *a = vp8_stream(0xA0A0, 100, fa);
    GPtrArray *b = vp8_stream(0xB0B0, 20000, fb);
    struct kumis_rewrite rw;
    kumis_rewrite_init(&rw, 0x5EED, 90000, KUMIS_REWRITE_CODEC_VP8);
    gboolean have_prev = FALSE, switched = FALSE;
    guint16 prev_seq = 0, prev_picid = 0, b_first_out = 0, b_first_src = 0;
    guint32 prev_ts = 0;
    for (guint pass = 0; pass < 2; pass++) {
        GPtrArray *packets = pass == 0 ? a : b;
        GArray *frame_of = pass == 0 ? fa : fb;
        for (guint i = 0; i < packets->len; i++) {
            gint frame = g_array_index(frame_of, gint, i);
            if ((pass == 0 && frame >= 10) || (pass == 1 && frame < 10))
                continue;
            gsize size;
            const guint8 *src = g_bytes_get_data(packets->pdata[i], &size);
            guint8 p[1500];
            memcpy(p, src, size);
            struct kumis_rtp_header h;
            g_assert_true(kumis_rtp_parse(p, size, &h));
            guint16 src_seq = h.seq;
            struct kumis_vp8_descriptor d;
            g_assert_true(kumis_vp8_parse(p + h.payload_offset, h.payload_len, &d));
            gboolean first_of_b = pass == 1 && !switched;
            if (first_of_b) {
                g_assert_true(d.keyframe); /* the switch happens on a keyframe */
                switched = TRUE;
            }
            gint64 now = frame * 33 * 1000; /* a frame every 33 ms */
            g_assert_cmpint(kumis_rewrite_packet(&rw, p, size, &h, now), ==, KUMIS_REWRITE_FORWARD);
            g_assert_true(kumis_rtp_parse(p, size, &h));
            g_assert_true(kumis_vp8_parse(p + h.payload_offset, h.payload_len, &d));
            g_assert_cmpuint(h.ssrc, ==, 0x5EED);
            if (have_prev) {
                g_assert_cmpuint(h.seq, ==, (guint16)(prev_seq + 1));
                if (h.timestamp != prev_ts) {
                    g_assert_cmpuint(d.picture_id, ==, (prev_picid + 1) & 0x7FFF);
                    g_assert_cmpint((gint32)(h.timestamp - prev_ts), >, 0);
                } else {
                    g_assert_cmpuint(d.picture_id, ==, prev_picid);
                }
            }
            if (first_of_b) {
                g_assert_cmpuint(h.timestamp - prev_ts, ==, 33 * 90); /* 33 ms at 90 kHz */
                b_first_out = h.seq;
                b_first_src = src_seq;
            }
            /* The payload after the descriptor is untouched. */
            g_assert_cmpmem(
                p + h.payload_offset + d.descriptor_len, h.payload_len - d.descriptor_len,
                src + h.payload_offset + d.descriptor_len, h.payload_len - d.descriptor_len);
            have_prev = TRUE;
            prev_seq = h.seq;
            prev_ts = h.timestamp;
            prev_picid = d.picture_id;
        }
    }
    g_assert_true(switched);
    guint32 ssrc;
    guint16 seq;
    g_assert_true(kumis_rewrite_reverse(&rw, (guint16)(b_first_out + 2), &ssrc, &seq));
    g_assert_cmpuint(ssrc, ==, 0xB0B0);
    g_assert_cmpuint(seq, ==, (guint16)(b_first_src + 2));
    g_assert_true(kumis_rewrite_reverse(&rw, (guint16)(b_first_out - 1), &ssrc, &seq));
    g_assert_cmpuint(ssrc, ==, 0xA0A0);
    g_ptr_array_unref(a);
    g_ptr_array_unref(b);
    g_array_unref(fa);
    g_array_unref(fb);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    gst_init(NULL, NULL);
    g_test_add_func("/rewrite/single-source-wrap", test_single_source_wrap);
    g_test_add_func("/rewrite/switch-continuity", test_switch_continuity);
    g_test_add_func("/rewrite/reorder-duplicates-old", test_reorder_duplicates_old);
    g_test_add_func("/rewrite/switch-drops-stale", test_switch_drops_stale);
    g_test_add_func("/rewrite/source-restart", test_source_restart);
    g_test_add_func("/rewrite/reverse-map", test_reverse_map);
    g_test_add_func("/rewrite/vp8-continuity", test_vp8_continuity);
    g_test_add_func("/rewrite/vp8-gstreamer-switch", test_vp8_gstreamer_switch);
    g_test_add_func("/rewrite/vp9-continuity", test_vp9_continuity);
    return g_test_run();
}
