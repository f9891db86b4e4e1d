/* Unit tests for media/codec_vp8.c, codec_vp9.c and codec_h264.c: the RFC 7741 and RFC 9628
 * payload descriptors, VP8, VP9 and H.264 keyframes. */
#include <glib.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <string.h>

#include "media/rtp.h"

#include "media/codec_h264.h"
#include "media/codec_vp8.h"
#include "media/codec_vp9.h"

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

static void test_vp8_full_descriptor(void)
{
    /* X=1 N=1 S=1 PID=0 | I L T K | M=1 picture ID 0x1234 | TL0PICIDX 9 | TID 2 Y KEYIDX 5 |
     * then a VP8 keyframe payload header (P=0) with its start code (RFC 6386 §9.1). */
    const guint8 p[] = {0xB0, 0xF0, 0x92, 0x34, 9, 0xA5, 0x50, 0x02, 0x00, 0x9D, 0x01, 0x2A};
    struct kumis_vp8_descriptor d;
    g_assert_true(kumis_vp8_parse(p, sizeof(p), &d));
    g_assert_true(d.non_reference);
    g_assert_true(d.start_of_partition);
    g_assert_cmpuint(d.partition_id, ==, 0);
    g_assert_true(d.has_picture_id);
    g_assert_true(d.picture_id_15bit);
    g_assert_cmpuint(d.picture_id, ==, 0x1234);
    g_assert_true(d.has_tl0picidx);
    g_assert_cmpuint(d.tl0picidx, ==, 9);
    g_assert_true(d.has_tid);
    g_assert_cmpuint(d.tid, ==, 2);
    g_assert_true(d.layer_sync);
    g_assert_true(d.has_keyidx);
    g_assert_cmpuint(d.keyidx, ==, 5);
    g_assert_cmpuint(d.descriptor_len, ==, 6);
    g_assert_true(d.keyframe);
    /* Every truncation into the descriptor fails. */
    for (gsize len = 0; len <= 6; len++)
        g_assert_false(kumis_vp8_parse(p, len, &d));
}

static void test_vp8_keyframe_rules(void)
{
    struct kumis_vp8_descriptor d;
    /* Minimal descriptor, S=1 PID=0, P=0: keyframe. */
    guint8 p[] = {0x10, 0x00, 0x00};
    g_assert_true(kumis_vp8_parse(p, sizeof(p), &d));
    g_assert_true(d.keyframe);
    g_assert_false(d.has_picture_id);
    p[1] = 0x01; /* P=1: interframe */
    g_assert_true(kumis_vp8_parse(p, sizeof(p), &d));
    g_assert_false(d.keyframe);
    p[1] = 0x00;
    p[0] = 0x00; /* not the start of a partition: a continuation, even if its byte is even */
    g_assert_true(kumis_vp8_parse(p, sizeof(p), &d));
    g_assert_false(d.keyframe);
    p[0] = 0x11; /* start of partition 1: not the payload header */
    g_assert_true(kumis_vp8_parse(p, sizeof(p), &d));
    g_assert_false(d.keyframe);
    /* Short picture ID; only K set (TID stays 0). */
    const guint8 q[] = {0x90, 0x90, 0x05, 0x1F, 0x01};
    g_assert_true(kumis_vp8_parse(q, sizeof(q), &d));
    g_assert_false(d.picture_id_15bit);
    g_assert_cmpuint(d.picture_id, ==, 5);
    g_assert_false(d.has_tid);
    g_assert_cmpuint(d.tid, ==, 0);
    g_assert_cmpuint(d.keyidx, ==, 31);
    g_assert_false(d.keyframe);
}

static void test_vp8_writers(void)
{
    guint8 p[] = {0x90, 0xC0, 0xFF, 0xFF, 200, 0x00};
    struct kumis_vp8_descriptor d;
    g_assert_true(kumis_vp8_parse(p, sizeof(p), &d));
    g_assert_cmpuint(d.picture_id, ==, 0x7FFF);
    kumis_vp8_set_picture_id(p, &d, 0x8001); /* masked to 15 bits */
    kumis_vp8_set_tl0picidx(p, &d, 201);
    g_assert_true(kumis_vp8_parse(p, sizeof(p), &d));
    g_assert_cmpuint(d.picture_id, ==, 1);
    g_assert_true(d.picture_id_15bit);
    g_assert_cmpuint(d.tl0picidx, ==, 201);
    guint8 s[] = {0x90, 0x80, 0x7F, 0x00};
    g_assert_true(kumis_vp8_parse(s, sizeof(s), &d));
    kumis_vp8_set_picture_id(s, &d, 130); /* 7 bits: 130 & 127 = 2, M stays 0 */
    g_assert_cmpuint(s[2], ==, 2);
    kumis_vp8_set_tl0picidx(s, &d, 5); /* absent: nothing written */
    g_assert_cmpuint(s[3], ==, 0);
}

static void test_h264_keyframes(void)
{
    const guint8 idr[] = {0x65, 0x88};
    const guint8 sps[] = {0x67, 0x42};
    const guint8 p_slice[] = {0x41, 0x9A};
    g_assert_true(kumis_h264_is_keyframe(idr, sizeof(idr)));
    g_assert_true(kumis_h264_is_keyframe(sps, sizeof(sps)));
    g_assert_false(kumis_h264_is_keyframe(p_slice, sizeof(p_slice)));
    g_assert_false(kumis_h264_is_keyframe(idr, 0));
    /* STAP-A with SEI (6) then PPS... then IDR; and one with a lying NALU size. */
    guint8 stap[] = {0x78, 0x00, 0x02, 0x06, 0x01, 0x00, 0x02, 0x68, 0xCE, 0x00, 0x02, 0x65, 0x88};
    g_assert_true(kumis_h264_is_keyframe(stap, sizeof(stap)));
    stap[11] = 0x41;
    g_assert_false(kumis_h264_is_keyframe(stap, sizeof(stap)));
    stap[11] = 0x65;
    stap[10] = 0x09;
    g_assert_false(kumis_h264_is_keyframe(stap, sizeof(stap)));
    /* FU-A: start fragment of an IDR, a middle fragment of it, and a start of a P slice. */
    const guint8 fu_start[] = {0x7C, 0x85, 0x00};
    const guint8 fu_mid[] = {0x7C, 0x05, 0x00};
    const guint8 fu_p[] = {0x7C, 0x81, 0x00};
    g_assert_true(kumis_h264_is_keyframe(fu_start, sizeof(fu_start)));
    g_assert_false(kumis_h264_is_keyframe(fu_mid, sizeof(fu_mid)));
    g_assert_false(kumis_h264_is_keyframe(fu_p, sizeof(fu_p)));
    g_assert_false(kumis_h264_is_keyframe(fu_start, 1));
}

/* Runs @desc (ending in "appsink name=sink") to EOS. Returns: (transfer full) the RTP packets,
 * as GBytes. */
static GPtrArray *gst_packets(const char *desc)
{
    GError *error = NULL;
    GstElement *pipeline = gst_parse_launch(desc, &error);
    g_assert_no_error(error);
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    GPtrArray *packets = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    GstSample *sample;
    while ((sample = gst_app_sink_pull_sample(GST_APP_SINK(sink))) != NULL) {
        GstMapInfo map;
        GstBuffer *buffer = gst_sample_get_buffer(sample);
        g_assert_true(gst_buffer_map(buffer, &map, GST_MAP_READ));
        g_ptr_array_add(packets, g_bytes_new(map.data, map.size));
        gst_buffer_unmap(buffer, &map);
        gst_sample_unref(sample);
    }
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
    return packets;
}

/* Real bytes from an independent writer: GStreamer's VP8 encoder and payloader, a keyframe
 * every 10 frames, frames split over several packets (mtu 400). */
static void test_vp8_gstreamer_stream(void)
{
    GPtrArray *packets =
        gst_packets("videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=320,height=240 ! "
                    "vp8enc keyframe-max-dist=10 deadline=1 ! rtpvp8pay picture-id-mode=15-bit "
                    "picture-id-offset=32760 mtu=400 ! appsink name=sink sync=false");
    guint frames = 0, keyframes = 0;
    guint16 picid = 0;
    guint32 ts = 0;
    gboolean prev_marker = TRUE;
    g_assert_cmpuint(packets->len, >, 30);
    for (guint i = 0; i < packets->len; i++) {
        gsize size;
        const guint8 *data = g_bytes_get_data(packets->pdata[i], &size);
        struct kumis_rtp_header h;
        struct kumis_vp8_descriptor d;
        g_assert_true(kumis_rtp_parse(data, size, &h));
        g_assert_true(kumis_vp8_parse(data + h.payload_offset, h.payload_len, &d));
        g_assert_true(d.has_picture_id);
        g_assert_true(d.picture_id_15bit);
        gboolean new_frame = i == 0 || h.timestamp != ts;
        /* A frame starts with S=1, PID=0 right after the previous frame's marker packet. */
        g_assert_cmpint(new_frame, ==, prev_marker);
        if (new_frame) {
            g_assert_true(d.start_of_partition);
            g_assert_cmpuint(d.partition_id, ==, 0);
            if (i > 0)
                g_assert_cmpuint(d.picture_id, ==, (picid + 1) & 0x7FFF); /* wraps at 2^15 */
            /* keyframe every 10 frames, and only then */
            g_assert_cmpint(d.keyframe, ==, frames % 10 == 0);
            keyframes += d.keyframe;
            frames++;
        } else {
            g_assert_cmpuint(d.picture_id, ==, picid);
            g_assert_false(d.keyframe);
        }
        picid = d.picture_id;
        ts = h.timestamp;
        prev_marker = h.marker;
    }
    g_assert_cmpuint(frames, ==, 30);
    g_assert_cmpuint(keyframes, ==, 3);
    g_ptr_array_unref(packets);
}

/* GStreamer's OpenH264 encoder and RFC 6184 payloader: IDRs (with SPS/PPS in front, as
 * STAP-A or single NAL units) every 10 frames, large slices fragmented as FU-A. */
static void test_h264_gstreamer_stream(void)
{
    GPtrArray *packets =
        gst_packets("videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=320,height=240 ! "
                    "openh264enc gop-size=10 ! h264parse ! rtph264pay config-interval=-1 mtu=300 "
                    "aggregate-mode=zero-latency ! appsink name=sink sync=false");
    guint frames = 0, key_frames = 0, fua = 0;
    guint32 ts = 0;
    gboolean frame_has_key = FALSE;
    for (guint i = 0; i < packets->len; i++) {
        gsize size;
        const guint8 *data = g_bytes_get_data(packets->pdata[i], &size);
        struct kumis_rtp_header h;
        g_assert_true(kumis_rtp_parse(data, size, &h));
        const guint8 *payload = data + h.payload_offset;
        if (i == 0 || h.timestamp != ts) {
            key_frames += frame_has_key;
            frame_has_key = FALSE;
            frames++;
        }
        if (kumis_h264_is_keyframe(payload, h.payload_len)) {
            /* only in the frames the GOP says */
            g_assert_cmpuint((frames - 1) % 10, ==, 0);
            frame_has_key = TRUE;
        }
        fua += (payload[0] & 0x1F) == 28;
        ts = h.timestamp;
    }
    key_frames += frame_has_key;
    g_assert_cmpuint(frames, ==, 30);
    g_assert_cmpuint(key_frames, ==, 3);
    g_assert_cmpuint(fua, >, 0);
    g_ptr_array_unref(packets);
}

/* RFC 9628 §4.2, non-flexible mode with everything present: I P=0 L F=0 B V | M=1 picture ID
 * 0x1234 | TID 2 U SID 0 | TL0PICIDX 9 | SS: one layer 320x240 (Y), one picture group (G) with
 * one reference | then a VP9 payload byte. */
static void test_vp9_full_descriptor(void)
{
    const guint8 p[] = {0xAA, 0x92, 0x34, 0x50, 9,    0x18, 0x01,
                        0x40, 0x00, 0xF0, 1,    0x04, 0x01, 0x82};
    struct kumis_vp9_descriptor d;
    g_assert_true(kumis_vp9_parse(p, sizeof(p), &d));
    g_assert_true(d.has_picture_id);
    g_assert_true(d.picture_id_15bit);
    g_assert_cmpuint(d.picture_id, ==, 0x1234);
    g_assert_cmpuint(d.picture_id_offset, ==, 1);
    g_assert_true(d.has_layer);
    g_assert_cmpuint(d.tid, ==, 2);
    g_assert_cmpuint(d.sid, ==, 0);
    g_assert_true(d.has_tl0picidx);
    g_assert_cmpuint(d.tl0picidx, ==, 9);
    g_assert_cmpuint(d.tl0picidx_offset, ==, 4);
    g_assert_true(d.has_ss);
    g_assert_true(d.start_of_frame);
    g_assert_false(d.end_of_frame);
    g_assert_cmpuint(d.descriptor_len, ==, 13);
    g_assert_true(d.keyframe);
    /* Every truncation into the descriptor fails. */
    for (gsize len = 0; len <= 13; len++)
        g_assert_false(kumis_vp9_parse(p, len, &d));
}

static void test_vp9_keyframe_rules(void)
{
    struct kumis_vp9_descriptor d;
    /* B=1 P=0, no layer indices: keyframe. */
    const guint8 key[] = {0x08, 0x82};
    g_assert_true(kumis_vp9_parse(key, sizeof(key), &d));
    g_assert_true(d.keyframe);
    /* P=1 (inter picture), or B=0 (not the frame's first packet): not a keyframe. */
    const guint8 inter[] = {0x48, 0x82};
    g_assert_true(kumis_vp9_parse(inter, sizeof(inter), &d));
    g_assert_false(d.keyframe);
    const guint8 middle[] = {0x00, 0x82};
    g_assert_true(kumis_vp9_parse(middle, sizeof(middle), &d));
    g_assert_false(d.keyframe);
    /* An upper spatial layer (SID 1) of an intra picture: no place to start decoding. */
    const guint8 upper[] = {0x28, 0x02, 7, 0x82};
    g_assert_true(kumis_vp9_parse(upper, sizeof(upper), &d));
    g_assert_cmpuint(d.sid, ==, 1);
    g_assert_false(d.keyframe);
    /* Flexible mode: I P F B, 7-bit picture ID 5, two reference indices (N=1, then N=0). */
    const guint8 flex[] = {0xD8, 0x05, 0x03, 0x04, 0x82};
    g_assert_true(kumis_vp9_parse(flex, sizeof(flex), &d));
    g_assert_false(d.picture_id_15bit);
    g_assert_cmpuint(d.picture_id, ==, 5);
    g_assert_false(d.has_tl0picidx);
    g_assert_cmpuint(d.descriptor_len, ==, 4);
    /* A fourth reference index is more than RFC 9628 allows. */
    const guint8 flex4[] = {0xD8, 0x05, 0x03, 0x03, 0x03, 0x04, 0x82};
    g_assert_false(kumis_vp9_parse(flex4, sizeof(flex4), &d));
    /* Only the descriptor, no VP9 byte after it. */
    g_assert_false(kumis_vp9_parse(key, 1, &d));
}

static void test_vp9_writers(void)
{
    guint8 p[] = {0xA8, 0xFF, 0xFF, 0x00, 200, 0x82};
    struct kumis_vp9_descriptor d;
    g_assert_true(kumis_vp9_parse(p, sizeof(p), &d));
    g_assert_cmpuint(d.picture_id, ==, 0x7FFF);
    kumis_vp9_set_picture_id(p, &d, 0x8001); /* masked to 15 bits */
    kumis_vp9_set_tl0picidx(p, &d, 3);
    g_assert_true(kumis_vp9_parse(p, sizeof(p), &d));
    g_assert_cmpuint(d.picture_id, ==, 1);
    g_assert_true(d.picture_id_15bit);
    g_assert_cmpuint(d.tl0picidx, ==, 3);
    g_assert_cmpuint(p[5], ==, 0x82); /* the payload is untouched */
}

/* Real bytes from an independent writer: GStreamer's VP9 encoder and RFC 9628 payloader, a
 * keyframe every 10 frames, frames split over several packets (mtu 400). */
static void test_vp9_gstreamer_stream(void)
{
    GPtrArray *packets =
        gst_packets("videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=320,height=240 ! "
                    "vp9enc keyframe-max-dist=10 deadline=1 ! rtpvp9pay picture-id-mode=15-bit "
                    "mtu=400 ! appsink name=sink sync=false");
    guint frames = 0, keyframes = 0;
    guint16 picid = 0;
    guint32 ts = 0;
    g_assert_cmpuint(packets->len, >, 30);
    for (guint i = 0; i < packets->len; i++) {
        gsize size;
        const guint8 *data = g_bytes_get_data(packets->pdata[i], &size);
        struct kumis_rtp_header h;
        struct kumis_vp9_descriptor d;
        g_assert_true(kumis_rtp_parse(data, size, &h));
        g_assert_true(kumis_vp9_parse(data + h.payload_offset, h.payload_len, &d));
        g_assert_true(d.has_picture_id);
        g_assert_true(d.picture_id_15bit);
        gboolean new_frame = i == 0 || h.timestamp != ts;
        /* B marks a frame's first packet, E (and the RTP marker) its last. */
        g_assert_cmpint(d.start_of_frame, ==, new_frame);
        g_assert_cmpint(d.end_of_frame, ==, h.marker);
        if (new_frame) {
            if (i > 0)
                g_assert_cmpuint(d.picture_id, ==, (picid + 1) & 0x7FFF);
            g_assert_cmpint(d.keyframe, ==, frames % 10 == 0);
            keyframes += d.keyframe;
            frames++;
        } else {
            g_assert_cmpuint(d.picture_id, ==, picid);
            g_assert_false(d.keyframe);
        }
        picid = d.picture_id;
        ts = h.timestamp;
    }
    g_assert_cmpuint(frames, ==, 30);
    g_assert_cmpuint(keyframes, ==, 3);
    g_ptr_array_unref(packets);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    gst_init(NULL, NULL);
    g_test_add_func("/codec/vp8/full-descriptor", test_vp8_full_descriptor);
    g_test_add_func("/codec/vp8/keyframe-rules", test_vp8_keyframe_rules);
    g_test_add_func("/codec/vp8/writers", test_vp8_writers);
    g_test_add_func("/codec/h264/keyframes", test_h264_keyframes);
    g_test_add_func("/codec/vp8/gstreamer-stream", test_vp8_gstreamer_stream);
    g_test_add_func("/codec/h264/gstreamer-stream", test_h264_gstreamer_stream);
    g_test_add_func("/codec/vp9/full-descriptor", test_vp9_full_descriptor);
    g_test_add_func("/codec/vp9/keyframe-rules", test_vp9_keyframe_rules);
    g_test_add_func("/codec/vp9/writers", test_vp9_writers);
    g_test_add_func("/codec/vp9/gstreamer-stream", test_vp9_gstreamer_stream);
    return g_test_run();
}
