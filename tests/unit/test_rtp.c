/* Unit tests for media/rtp.c: header parsing, RFC 8285 extensions, writers, demultiplexing. */
#include <glib.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <string.h>

#include "media/rtp.h"

/* A Chromium-style Opus packet: V=2 X=1 M=1 PT=111 seq=0x1234 ts=0xDEADBEEF ssrc=0x11223344,
 * one-byte extensions (RFC 8285 §4.2): id 1 audio level (V=1, 42 dBov), id 3 abs-send-time,
 * id 5 TWCC seq 0x0102, id 4 mid "0", a padding byte, then 3 bytes of payload. */

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

static const guint8 opus_packet[] = {0x90, 0xEF, 0x12, 0x34, 0xDE, 0xAD,
                                     0xBE, 0xEF, 0x11, 0x22, 0x33, 0x44, /* fixed */
                                     0xBE, 0xDE, 0x00, 0x04,             /* 4 words */
                                     0x10, 0xAA,                         /* id1 L=0 */
                                     0x32, 0x12, 0x34, 0x56,             /* id3 L=2 */
                                     0x51, 0x01, 0x02,                   /* id5 L=1 */
                                     0x40, '0',                          /* id4 L=0 */
                                     0x00, 0x00, 0x00, 0x00, 0x00,       /* padding */
                                     0xF0, 0x0D, 0x01};

static void test_parse_basic(void)
{
    struct kumis_rtp_header h;
    g_assert_true(kumis_rtp_parse(opus_packet, sizeof(opus_packet), &h));
    g_assert_cmpuint(h.version, ==, 2);
    g_assert_true(h.extension);
    g_assert_true(h.marker);
    g_assert_false(h.padding);
    g_assert_cmpuint(h.payload_type, ==, 111);
    g_assert_cmpuint(h.seq, ==, 0x1234);
    g_assert_cmpuint(h.timestamp, ==, 0xDEADBEEF);
    g_assert_cmpuint(h.ssrc, ==, 0x11223344);
    g_assert_cmpuint(h.ext_profile, ==, 0xBEDE);
    g_assert_cmpuint(h.ext_len, ==, 16);
    g_assert_cmpuint(h.payload_offset, ==, 32);
    g_assert_cmpuint(h.payload_len, ==, 3);
    g_assert_cmpuint(opus_packet[h.payload_offset], ==, 0xF0);
}

static void test_parse_csrc_padding(void)
{
    /* CC=2, P=1: 2 CSRCs, 4 payload bytes, 3 bytes padding (last byte = 3). */
    guint8 p[] = {0xA2, 0x60, 0x00, 0x01, 0,    0,    0, 1, 0, 0, 0, 9, 0xC1, 0xC1,
                  0xC1, 0xC1, 0xC2, 0xC2, 0xC2, 0xC2, 1, 2, 3, 4, 0, 0, 3};
    struct kumis_rtp_header h;
    g_assert_true(kumis_rtp_parse(p, sizeof(p), &h));
    g_assert_cmpuint(h.csrc_count, ==, 2);
    g_assert_true(h.padding);
    g_assert_cmpuint(h.padding_len, ==, 3);
    g_assert_cmpuint(h.payload_offset, ==, 20);
    g_assert_cmpuint(h.payload_len, ==, 4);
    g_assert_false(h.marker);
    g_assert_cmpuint(h.payload_type, ==, 96);

    /* Padding count 0, and padding longer than the payload, are lies. */
    p[sizeof(p) - 1] = 0;
    g_assert_false(kumis_rtp_parse(p, sizeof(p), &h));
    p[sizeof(p) - 1] = 8;
    g_assert_false(kumis_rtp_parse(p, sizeof(p), &h));
    p[sizeof(p) - 1] = 7; /* exactly the payload: empty payload is allowed */
    g_assert_true(kumis_rtp_parse(p, sizeof(p), &h));
    g_assert_cmpuint(h.payload_len, ==, 0);
}

static void test_parse_rejects(void)
{
    struct kumis_rtp_header h;
    /* Every truncation of a valid packet that cuts into its header is refused. */
    for (gsize len = 0; len < 32; len++)
        g_assert_false(kumis_rtp_parse(opus_packet, len, &h));
    g_assert_true(kumis_rtp_parse(opus_packet, 32, &h));
    g_assert_false(kumis_rtp_parse(NULL, 100, &h));

    guint8 p[sizeof(opus_packet)];
    memcpy(p, opus_packet, sizeof(p));
    p[0] = 0x50; /* version 1 */
    g_assert_false(kumis_rtp_parse(p, sizeof(p), &h));
    memcpy(p, opus_packet, sizeof(p));
    p[15] = 0x09; /* extension length says 9 words: past the end */
    g_assert_false(kumis_rtp_parse(p, sizeof(p), &h));
    memcpy(p, opus_packet, sizeof(p));
    p[0] = 0x9F; /* 15 CSRCs: 72 bytes of header in a 35-byte packet */
    g_assert_false(kumis_rtp_parse(p, sizeof(p), &h));
}

static void test_ext_one_byte(void)
{
    struct kumis_rtp_header h;
    g_assert_true(kumis_rtp_parse(opus_packet, sizeof(opus_packet), &h));
    guint8 level = 0;
    gboolean voice = FALSE;
    g_assert_true(kumis_rtp_ext_audio_level(opus_packet, &h, 1, &level, &voice));
    g_assert_cmpuint(level, ==, 42);
    g_assert_true(voice);
    guint32 ast = 0;
    g_assert_true(kumis_rtp_ext_abs_send_time(opus_packet, &h, 3, &ast));
    g_assert_cmpuint(ast, ==, 0x123456);
    guint16 tw = 0;
    g_assert_true(kumis_rtp_ext_twcc_seq(opus_packet, &h, 5, &tw));
    g_assert_cmpuint(tw, ==, 0x0102);
    char mid[17];
    g_assert_cmpint(kumis_rtp_ext_string(opus_packet, &h, 4, mid, sizeof(mid)), ==, 1);
    g_assert_cmpstr(mid, ==, "0");
    /* Absent ids, ids out of the one-byte range, and wrong lengths. */
    const guint8 *v;
    gsize n;
    g_assert_false(kumis_rtp_ext_find(opus_packet, &h, 2, &v, &n));
    g_assert_false(kumis_rtp_ext_find(opus_packet, &h, 0, &v, &n));
    g_assert_false(kumis_rtp_ext_find(opus_packet, &h, 15, &v, &n));
    g_assert_false(kumis_rtp_ext_twcc_seq(opus_packet, &h, 3, &tw));
    g_assert_false(kumis_rtp_ext_audio_level(opus_packet, &h, 5, &level, &voice));
    g_assert_cmpint(kumis_rtp_ext_string(opus_packet, &h, 4, mid, 1), ==, -1); /* no room */
}

static void test_ext_malformed(void)
{
    struct kumis_rtp_header h;
    guint8 p[sizeof(opus_packet)];
    memcpy(p, opus_packet, sizeof(p));
    p[22] = 0x5F; /* id 5 claims 16 bytes: runs past the extension block */
    g_assert_true(kumis_rtp_parse(p, sizeof(p), &h));
    guint16 tw;
    g_assert_false(kumis_rtp_ext_twcc_seq(p, &h, 5, &tw));
    /* id 1 before it is still found: the walk stops only where it breaks */
    guint8 level;
    gboolean voice;
    g_assert_true(kumis_rtp_ext_audio_level(p, &h, 1, &level, &voice));

    /* RFC 8285 §4.2: ID 15 ends processing. */
    memcpy(p, opus_packet, sizeof(p));
    p[18] = 0xF2;
    g_assert_true(kumis_rtp_parse(p, sizeof(p), &h));
    g_assert_false(kumis_rtp_ext_twcc_seq(p, &h, 5, &tw));

    /* A mid with a control byte is refused. */
    memcpy(p, opus_packet, sizeof(p));
    p[26] = 0x01;
    g_assert_true(kumis_rtp_parse(p, sizeof(p), &h));
    char mid[8];
    g_assert_cmpint(kumis_rtp_ext_string(p, &h, 4, mid, sizeof(mid)), ==, -1);

    /* An unknown profile has no elements we understand. */
    memcpy(p, opus_packet, sizeof(p));
    p[12] = 0x12;
    g_assert_true(kumis_rtp_parse(p, sizeof(p), &h));
    g_assert_false(kumis_rtp_ext_audio_level(p, &h, 1, &level, &voice));
}

static void test_ext_two_byte(void)
{
    /* RFC 8285 §4.3: profile 0x1000, elements id, length, value; rid "hi" under id 20, a
     * padding byte, an empty element id 7, and a 20-byte mid under id 9. */
    guint8 p[12 + 4 + 32 + 2] = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 0x00, 0, 8};
    guint8 *e = p + 16;
    e[0] = 20, e[1] = 2, e[2] = 'h', e[3] = 'i';
    e[4] = 0;
    e[5] = 7, e[6] = 0;
    e[7] = 9, e[8] = 20;
    memcpy(e + 9, "abcdefghijklmnopqrst", 20);
    struct kumis_rtp_header h;
    g_assert_true(kumis_rtp_parse(p, sizeof(p), &h));
    char buf[32];
    g_assert_cmpint(kumis_rtp_ext_string(p, &h, 20, buf, sizeof(buf)), ==, 2);
    g_assert_cmpstr(buf, ==, "hi");
    g_assert_cmpint(kumis_rtp_ext_string(p, &h, 9, buf, sizeof(buf)), ==, 20);
    g_assert_cmpstr(buf, ==, "abcdefghijklmnopqrst");
    const guint8 *v;
    gsize n = 99;
    g_assert_true(kumis_rtp_ext_find(p, &h, 7, &v, &n));
    g_assert_cmpuint(n, ==, 0);
    g_assert_cmpint(kumis_rtp_ext_string(p, &h, 7, buf, sizeof(buf)), ==, -1); /* empty */
    e[8] = 200;                                                                /* lying length */
    g_assert_false(kumis_rtp_ext_find(p, &h, 9, &v, &n));
}

static void test_writers(void)
{
    guint8 p[sizeof(opus_packet)];
    memcpy(p, opus_packet, sizeof(p));
    struct kumis_rtp_header h;
    g_assert_true(kumis_rtp_parse(p, sizeof(p), &h));
    kumis_rtp_set_seq(p, &h, 0xFFFF);
    kumis_rtp_set_timestamp(p, &h, 0x01020304);
    kumis_rtp_set_ssrc(p, &h, 0xCAFEBABE);
    kumis_rtp_set_payload_type(p, &h, 100);
    guint8 tw[2] = {0xAB, 0xCD};
    g_assert_true(kumis_rtp_ext_write(p, &h, 5, tw, 2));
    g_assert_false(kumis_rtp_ext_write(p, &h, 5, tw, 1)); /* length must not change */
    g_assert_false(kumis_rtp_ext_write(p, &h, 9, tw, 2)); /* absent */
    struct kumis_rtp_header h2;
    g_assert_true(kumis_rtp_parse(p, sizeof(p), &h2));
    g_assert_cmpuint(h2.seq, ==, 0xFFFF);
    g_assert_cmpuint(h2.timestamp, ==, 0x01020304);
    g_assert_cmpuint(h2.ssrc, ==, 0xCAFEBABE);
    g_assert_cmpuint(h2.payload_type, ==, 100);
    g_assert_true(h2.marker); /* kept */
    guint16 seq;
    g_assert_true(kumis_rtp_ext_twcc_seq(p, &h2, 5, &seq));
    g_assert_cmpuint(seq, ==, 0xABCD);
    kumis_rtp_set_marker(p, &h2, FALSE);
    g_assert_cmpuint(p[1], ==, 100);
    g_assert_cmpmem(p + 12, 11, opus_packet + 12, 11);
    g_assert_cmpmem(p + 25, sizeof(p) - 25, opus_packet + 25, sizeof(p) - 25);
}

/* RFC 4588 §4: the retransmission keeps timestamp, marker, extensions and padding, and carries
 * the original sequence number before the payload; too little room changes nothing. */
static void test_to_rtx(void)
{
    guint8 buf[64];
    memcpy(buf, opus_packet, sizeof opus_packet);
    struct kumis_rtp_header h;
    g_assert_true(kumis_rtp_parse(buf, sizeof opus_packet, &h));
    g_assert_cmpuint(
        kumis_rtp_to_rtx(buf, sizeof opus_packet, sizeof opus_packet + 1, &h, 97, 0xCAFEF00D, 7),
        ==, 0);
    g_assert_cmpmem(buf, sizeof opus_packet, opus_packet, sizeof opus_packet);

    gsize len = kumis_rtp_to_rtx(buf, sizeof opus_packet, sizeof buf, &h, 97, 0xCAFEF00D, 7);
    g_assert_cmpuint(len, ==, sizeof opus_packet + 2);
    struct kumis_rtp_header r;
    g_assert_true(kumis_rtp_parse(buf, len, &r));
    g_assert_cmpuint(r.payload_type, ==, 97);
    g_assert_true(r.marker);
    g_assert_cmpuint(r.ssrc, ==, 0xCAFEF00D);
    g_assert_cmpuint(r.seq, ==, 7);
    g_assert_cmpuint(r.timestamp, ==, 0xDEADBEEF);
    g_assert_cmpuint(r.payload_len, ==, 3 + 2);
    g_assert_cmpuint(kumis_be16(buf + r.payload_offset), ==, 0x1234); /* OSN */
    g_assert_cmpmem(buf + r.payload_offset + 2, 3, "\xF0\x0D\x01", 3);
    g_assert_cmpmem(buf + 12, r.payload_offset - 12, opus_packet + 12, r.payload_offset - 12);
    g_assert_cmpuint(h.payload_type, ==, 97); /* @h follows */
    g_assert_cmpuint(h.payload_len, ==, 5);

    /* And back: the packet it repairs, byte for byte. */
    g_assert_true(kumis_rtp_from_rtx(buf, &len, &r, 111, 0x11223344));
    g_assert_cmpuint(len, ==, sizeof opus_packet);
    g_assert_cmpmem(buf, len, opus_packet, sizeof opus_packet);
    g_assert_cmpuint(r.seq, ==, 0x1234);
    g_assert_cmpuint(r.payload_len, ==, 3);
    struct kumis_rtp_header back;
    g_assert_true(kumis_rtp_parse(buf, len, &back));
    g_assert_cmpuint(back.payload_len, ==, 3);

    /* Padding stays at the end, after the payload. */
    guint8 p[40] = {0xA0, 0x60, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 9, 1, 2, 3, 4, 0, 0, 3};
    g_assert_true(kumis_rtp_parse(p, 19, &h));
    len = kumis_rtp_to_rtx(p, 19, sizeof p, &h, 97, 42, 1);
    g_assert_cmpuint(len, ==, 21);
    g_assert_true(kumis_rtp_parse(p, len, &r));
    g_assert_true(r.padding);
    g_assert_cmpuint(r.padding_len, ==, 3);
    g_assert_cmpuint(r.payload_len, ==, 6);
    g_assert_cmpmem(p + 12, 8, "\x00\x05\x01\x02\x03\x04\x00\x00", 8);

    /* A padding-only RTX packet (Chromium's bandwidth probe) has no OSN: left alone. */
    guint8 probe[16] = {0xA0, 97, 0, 9, 0, 0, 0, 1, 0, 0, 0, 42, 0, 0, 0, 4};
    gsize probe_len = sizeof probe;
    g_assert_true(kumis_rtp_parse(probe, probe_len, &h));
    g_assert_false(kumis_rtp_from_rtx(probe, &probe_len, &h, 96, 7));
    g_assert_cmpuint(probe_len, ==, sizeof probe);
}

static void test_demux(void)
{
    /* RFC 7983 §7 ranges at their edges. */
    static const struct {
        guint8 b;
        enum kumis_demux want;
    } cases[] = {
        {0, KUMIS_DEMUX_STUN},          {3, KUMIS_DEMUX_STUN},
        {4, KUMIS_DEMUX_OTHER},         {16, KUMIS_DEMUX_ZRTP},
        {19, KUMIS_DEMUX_ZRTP},         {20, KUMIS_DEMUX_DTLS},
        {22, KUMIS_DEMUX_DTLS},         {63, KUMIS_DEMUX_DTLS},
        {64, KUMIS_DEMUX_TURN_CHANNEL}, {79, KUMIS_DEMUX_TURN_CHANNEL},
        {80, KUMIS_DEMUX_OTHER},        {127, KUMIS_DEMUX_OTHER},
        {128, KUMIS_DEMUX_RTP_RTCP},    {0x90, KUMIS_DEMUX_RTP_RTCP},
        {191, KUMIS_DEMUX_RTP_RTCP},    {192, KUMIS_DEMUX_OTHER},
        {255, KUMIS_DEMUX_OTHER},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
        g_assert_cmpint(kumis_demux_classify(&cases[i].b, 1), ==, cases[i].want);
    g_assert_cmpint(kumis_demux_classify(NULL, 0), ==, KUMIS_DEMUX_OTHER);

    /* RFC 5761 §4: second byte 192..223 is RTCP (SR 200, RR 201, PSFB 206); RTP with marker
     * and PT 96..127 (224..255) or without (96) is not. */
    guint8 p[8] = {0x80, 200, 0, 1, 0, 0, 0, 0};
    g_assert_true(kumis_rtp_is_rtcp(p, sizeof(p)));
    p[1] = 206;
    g_assert_true(kumis_rtp_is_rtcp(p, sizeof(p)));
    p[1] = 192;
    g_assert_true(kumis_rtp_is_rtcp(p, sizeof(p)));
    p[1] = 223;
    g_assert_true(kumis_rtp_is_rtcp(p, sizeof(p)));
    p[1] = 224;
    g_assert_false(kumis_rtp_is_rtcp(p, sizeof(p)));
    p[1] = 96;
    g_assert_false(kumis_rtp_is_rtcp(p, sizeof(p)));
    p[1] = 0xEF; /* marker + 111: Opus */
    g_assert_false(kumis_rtp_is_rtcp(p, sizeof(p)));
    p[1] = 200;
    g_assert_false(kumis_rtp_is_rtcp(p, 3));
    p[0] = 0x40;
    g_assert_false(kumis_rtp_is_rtcp(p, sizeof(p)));
}

/* Real bytes from an independent writer: GStreamer's Opus payloader with its ssrc-audio-level
 * (RFC 6464) and transport-wide-cc header extensions, fed a sine at 0.3 of full scale. */
static void test_gstreamer_opus_extensions(void)
{
    GError *error = NULL;
    GstElement *pipeline = gst_parse_launch(
        "audiotestsrc num-buffers=30 samplesperbuffer=960 volume=0.3 ! "
        "audio/x-raw,rate=48000,channels=1 ! level audio-level-meta=true ! opusenc ! "
        "rtpopuspay name=pay ! appsink name=sink sync=false",
        &error);
    g_assert_no_error(error);
    GstElement *pay = gst_bin_get_by_name(GST_BIN(pipeline), "pay");
    static const struct {
        const char *factory;
        guint id;
    } exts[] = {{"rtphdrextclientaudiolevel", 1}, {"rtphdrexttwcc", 3}};
    for (gsize i = 0; i < G_N_ELEMENTS(exts); i++) {
        GstRTPHeaderExtension *ext =
            GST_RTP_HEADER_EXTENSION(gst_element_factory_make(exts[i].factory, NULL));
        g_assert_nonnull(ext);
        gst_rtp_header_extension_set_id(ext, exts[i].id);
        g_signal_emit_by_name(pay, "add-extension", ext);
        gst_object_unref(ext);
    }
    gst_object_unref(pay);
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    guint16 last_seq = 0, last_tw = 0;
    guint32 last_ts = 0;
    for (guint k = 0; k < 20; k++) {
        GstSample *sample = gst_app_sink_pull_sample(GST_APP_SINK(sink));
        g_assert_nonnull(sample);
        GstMapInfo map;
        GstBuffer *buffer = gst_sample_get_buffer(sample);
        g_assert_true(gst_buffer_map(buffer, &map, GST_MAP_READ));
        struct kumis_rtp_header h;
        g_assert_true(kumis_rtp_parse(map.data, map.size, &h));
        g_assert_cmpuint(h.payload_type, ==, 96);
        g_assert_cmpuint(h.ext_profile, ==, 0xBEDE);
        g_assert_cmpuint(h.payload_len, >, 0);
        guint8 level;
        gboolean voice;
        guint16 tw;
        g_assert_true(kumis_rtp_ext_audio_level(map.data, &h, 1, &level, &voice));
        g_assert_true(kumis_rtp_ext_twcc_seq(map.data, &h, 3, &tw));
        /* 0.3 x full scale sine: RMS -13.5 dBov (the first buffer may still be ramping). */
        if (k > 0) {
            g_assert_cmpuint(level, >=, 12);
            g_assert_cmpuint(level, <=, 15);
            g_assert_cmpuint(h.seq, ==, (guint16)(last_seq + 1));
            g_assert_cmpuint(tw, ==, (guint16)(last_tw + 1));
            /* 20 ms at 48 kHz (after the first, shortened by the encoder's lookahead) */
            if (k > 1)
                g_assert_cmpuint(h.timestamp - last_ts, ==, 960);
        }
        last_seq = h.seq;
        last_tw = tw;
        last_ts = h.timestamp;
        gst_buffer_unmap(buffer, &map);
        gst_sample_unref(sample);
    }
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    gst_init(NULL, NULL);
    g_test_add_func("/rtp/parse/basic", test_parse_basic);
    g_test_add_func("/rtp/parse/csrc-padding", test_parse_csrc_padding);
    g_test_add_func("/rtp/parse/rejects", test_parse_rejects);
    g_test_add_func("/rtp/ext/one-byte", test_ext_one_byte);
    g_test_add_func("/rtp/ext/malformed", test_ext_malformed);
    g_test_add_func("/rtp/ext/two-byte", test_ext_two_byte);
    g_test_add_func("/rtp/writers", test_writers);
    g_test_add_func("/rtp/rtx", test_to_rtx);
    g_test_add_func("/rtp/demux", test_demux);
    g_test_add_func("/rtp/interop/gstreamer-opus-extensions", test_gstreamer_opus_extensions);
    return g_test_run();
}
