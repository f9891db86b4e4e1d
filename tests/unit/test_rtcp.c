/* Unit tests for media/rtcp.c: build-then-parse round trips, hand-written wire bytes, packets
 * written by an independent implementation (GStreamer's GstRTCPBuffer) and back, and
 * truncated or lying packets. */
#include <glib.h>
#include <gst/rtp/rtp.h>
#include <string.h>

#include "media/rtcp.h"

static struct kumis_rtcp_report_block block(guint32 ssrc, gint32 lost)
{
    return (struct kumis_rtcp_report_block){.ssrc = ssrc,
                                            .fraction_lost = 25,
                                            .cumulative_lost = lost,
                                            .highest_seq = 0x0001FFFF,
                                            .jitter = 321,
                                            .lsr = 0xABCD1234,
                                            .dlsr = 65536};
}

static void assert_block_eq(const struct kumis_rtcp_report_block *a,
                            const struct kumis_rtcp_report_block *b)
{
    g_assert_cmpuint(a->ssrc, ==, b->ssrc);
    g_assert_cmpuint(a->fraction_lost, ==, b->fraction_lost);
    g_assert_cmpint(a->cumulative_lost, ==, b->cumulative_lost);
    g_assert_cmpuint(a->highest_seq, ==, b->highest_seq);
    g_assert_cmpuint(a->jitter, ==, b->jitter);
    g_assert_cmpuint(a->lsr, ==, b->lsr);
    g_assert_cmpuint(a->dlsr, ==, b->dlsr);
}

/* A compound SR + SDES + NACK + PLI + FIR + REMB + RR, then everything parsed back. */
static void test_round_trip_compound(void)
{
    guint8 buf[1500];
    gsize len = 0;
    struct kumis_rtcp_sr sr = {.ssrc = 0x1111,
                               .ntp_sec = 0xE0000001,
                               .ntp_frac = 0x80000000,
                               .rtp_timestamp = 0xFFFFFFF0,
                               .packet_count = 1000,
                               .octet_count = 1200000,
                               .n_reports = 2};
    sr.reports[0] = block(0xA, 5);
    sr.reports[1] = block(0xB, -3); /* duplicates make the cumulative loss negative */
    gssize n = kumis_rtcp_build_sr(buf + len, sizeof(buf) - len, &sr);
    g_assert_cmpint(n, ==, 28 + 48);
    len += n;
    n = kumis_rtcp_build_sdes_cname(buf + len, sizeof(buf) - len, 0x1111, "kumis@forum");
    g_assert_cmpint(n % 4, ==, 0);
    len += n;
    const guint16 lost[] = {65534, 65535, 0, 1, 15, 16, 40};
    n = kumis_rtcp_build_nack(buf + len, sizeof(buf) - len, 0x1111, 0x2222, lost, 7);
    g_assert_cmpint(n, ==, 12 + 3 * 4); /* 65534 + BLP to 1, 15 + BLP to 16, then 40 */
    len += n;
    n = kumis_rtcp_build_pli(buf + len, sizeof(buf) - len, 0x1111, 0x3333);
    g_assert_cmpint(n, ==, 12);
    len += n;
    n = kumis_rtcp_build_fir(buf + len, sizeof(buf) - len, 0x1111, 0x4444, 7);
    g_assert_cmpint(n, ==, 20);
    len += n;
    const guint32 remb_ssrcs[] = {0x5555, 0x6666};
    n = kumis_rtcp_build_remb(buf + len, sizeof(buf) - len, 0x1111, 2500000, remb_ssrcs, 2);
    g_assert_cmpint(n, ==, 28);
    len += n;
    struct kumis_rtcp_rr rr = {.ssrc = 0x7777, .n_reports = 0};
    n = kumis_rtcp_build_rr(buf + len, sizeof(buf) - len, &rr);
    g_assert_cmpint(n, ==, 8);
    len += n;

    struct kumis_rtcp_iter it;
    struct kumis_rtcp_packet p;
    kumis_rtcp_iter_init(&it, buf, len);

    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_sr sr2;
    g_assert_true(kumis_rtcp_sr_parse(&p, &sr2));
    g_assert_cmpuint(sr2.ssrc, ==, sr.ssrc);
    g_assert_cmpuint(sr2.ntp_sec, ==, sr.ntp_sec);
    g_assert_cmpuint(sr2.ntp_frac, ==, sr.ntp_frac);
    g_assert_cmpuint(sr2.rtp_timestamp, ==, sr.rtp_timestamp);
    g_assert_cmpuint(sr2.packet_count, ==, sr.packet_count);
    g_assert_cmpuint(sr2.octet_count, ==, sr.octet_count);
    g_assert_cmpuint(sr2.n_reports, ==, 2);
    assert_block_eq(&sr2.reports[0], &sr.reports[0]);
    assert_block_eq(&sr2.reports[1], &sr.reports[1]);
    struct kumis_rtcp_rr wrong;
    g_assert_false(kumis_rtcp_rr_parse(&p, &wrong));

    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_sdes sdes;
    g_assert_true(kumis_rtcp_sdes_parse(&p, &sdes));
    g_assert_cmpuint(sdes.n_chunks, ==, 1);
    g_assert_cmpuint(sdes.chunks[0].ssrc, ==, 0x1111);
    g_assert_cmpmem(sdes.chunks[0].cname, sdes.chunks[0].cname_len, "kumis@forum", 11);

    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    guint16 seqs[64];
    guint32 media = 0;
    g_assert_cmpint(kumis_rtcp_nack_parse(&p, &media, seqs, 64), ==, 7);
    g_assert_cmpuint(media, ==, 0x2222);
    g_assert_cmpmem(seqs, sizeof(lost), lost, sizeof(lost));
    g_assert_cmpint(kumis_rtcp_nack_parse(&p, &media, seqs, 3), ==, 3); /* bounded output */

    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    guint32 sender = 0;
    g_assert_true(kumis_rtcp_pli_parse(&p, &sender, &media));
    g_assert_cmpuint(sender, ==, 0x1111);
    g_assert_cmpuint(media, ==, 0x3333);

    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    g_assert_false(kumis_rtcp_pli_parse(&p, &sender, &media));
    struct kumis_rtcp_fir_entry fir[4];
    g_assert_cmpint(kumis_rtcp_fir_parse(&p, &sender, fir, 4), ==, 1);
    g_assert_cmpuint(fir[0].ssrc, ==, 0x4444);
    g_assert_cmpuint(fir[0].seq_nr, ==, 7);

    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_remb remb;
    g_assert_true(kumis_rtcp_remb_parse(&p, &remb));
    g_assert_cmpuint(remb.sender_ssrc, ==, 0x1111);
    /* 2.5 Mbit/s needs 22 bits: the 18-bit mantissa keeps it within 1/2^17. */
    g_assert_cmpuint(remb.bitrate_bps, <=, 2500000);
    g_assert_cmpuint(remb.bitrate_bps, >=, 2500000 - 16);
    g_assert_cmpuint(remb.n_ssrcs, ==, 2);
    g_assert_cmpuint(remb.ssrcs[1], ==, 0x6666);

    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_rr rr2;
    g_assert_true(kumis_rtcp_rr_parse(&p, &rr2));
    g_assert_cmpuint(rr2.ssrc, ==, 0x7777);
    g_assert_cmpuint(rr2.n_reports, ==, 0);

    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 0);
}

static void test_builders_too_small(void)
{
    guint8 buf[64];
    struct kumis_rtcp_sr sr = {.n_reports = 2};
    g_assert_cmpint(kumis_rtcp_build_sr(buf, 75, &sr), ==, -1);
    g_assert_cmpint(kumis_rtcp_build_sr(buf, sizeof(buf), &sr), ==, -1); /* needs 76 */
    sr.n_reports = 32;
    guint8 big[2048];
    g_assert_cmpint(kumis_rtcp_build_sr(big, sizeof(big), &sr), ==, -1);
    g_assert_cmpint(kumis_rtcp_build_pli(buf, 11, 1, 2), ==, -1);
    g_assert_cmpint(kumis_rtcp_build_fir(buf, 19, 1, 2, 3), ==, -1);
    guint16 seqs[] = {1, 100, 200};
    g_assert_cmpint(kumis_rtcp_build_nack(buf, 19, 1, 2, seqs, 3), ==, -1);
    g_assert_cmpint(kumis_rtcp_build_nack(buf, 24, 1, 2, seqs, 3), ==, 24);
    g_assert_cmpint(kumis_rtcp_build_nack(buf, 24, 1, 2, seqs, 0), ==, -1);
    g_assert_cmpint(kumis_rtcp_build_remb(buf, 19, 1, 1000, NULL, 0), ==, -1);
    g_assert_cmpint(kumis_rtcp_build_sdes_cname(buf, 12, 1, "abcdef"), ==, -1);
}

/* draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1, written out by hand. */
static void test_twcc_bytes(void)
{
    static const guint8 pkt[] = {
        0x8F, 205,  0x00, 0x07, /* V=2 FMT=15 RTPFB, length 7 (32 bytes) */
        0x00, 0x00, 0x00, 0x01, /* sender SSRC */
        0x00, 0x00, 0x00, 0x02, /* media SSRC */
        0x00, 100,  0x00, 6,    /* base seq 100, status count 6 */
        0x00, 0x00, 0x10, 3,    /* reference time 16 (x 64 ms), fb pkt count 3 */
        0x20, 0x03,             /* run length: symbol 1 (small delta) x 3 */
        0xC9, 0x00,             /* 2-bit vector: 0 (lost), 2 (large), 1 (small), ... */
        4,    8,    0,          /* small deltas: +1 ms, +2 ms, +0 */
        0xFF, 0xFC,             /* large delta: -1 ms */
        40,                     /* small delta: +10 ms */
        0,    0};
    struct kumis_rtcp_iter it;
    struct kumis_rtcp_packet p;
    kumis_rtcp_iter_init(&it, pkt, sizeof(pkt));
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_twcc hdr;
    struct kumis_twcc_status st[16];
    g_assert_true(kumis_rtcp_twcc_parse(&p, &hdr, st, G_N_ELEMENTS(st)));
    g_assert_cmpuint(hdr.base_seq, ==, 100);
    g_assert_cmpuint(hdr.status_count, ==, 6);
    g_assert_cmpint(hdr.reference_time, ==, 16);
    g_assert_cmpuint(hdr.fb_count, ==, 3);
    static const gboolean rx[] = {TRUE, TRUE, TRUE, FALSE, TRUE, TRUE};
    static const gint64 at[] = {1025000, 1027000, 1027000, 0, 1026000, 1036000};
    for (guint k = 0; k < 6; k++) {
        g_assert_cmpuint(st[k].seq, ==, 100 + k);
        g_assert_cmpint(st[k].received, ==, rx[k]);
        g_assert_cmpint(st[k].arrival_us, ==, at[k]);
    }
    g_assert_false(kumis_rtcp_twcc_parse(&p, &hdr, st, 5)); /* no room for 6 */

    /* One delta byte missing: the deltas run past the packet. */
    guint8 bad[sizeof(pkt)];
    memcpy(bad, pkt, sizeof(pkt));
    bad[3] = 6; /* 28 bytes: cuts the large delta and what follows */
    kumis_rtcp_iter_init(&it, bad, 28);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    g_assert_false(kumis_rtcp_twcc_parse(&p, &hdr, st, G_N_ELEMENTS(st)));
    /* Reserved symbol 3 in a run length chunk. */
    memcpy(bad, pkt, sizeof(pkt));
    bad[20] = 0x60;
    kumis_rtcp_iter_init(&it, bad, sizeof(bad));
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    g_assert_false(kumis_rtcp_twcc_parse(&p, &hdr, st, G_N_ELEMENTS(st)));
    /* Negative reference time and a 1-bit vector: 14 packets, every other one received. */
    static const guint8 one_bit[] = {0x8F, 205,  0x00, 0x07, 0, 0, 0,
                                     1,    0,    0,    0,    2, /* header, SSRCs */
                                     0xFF, 0xF0, 0x00, 14,      /* base seq 65520, 14 packets */
                                     0xFF, 0xFF, 0xFF, 0,       /* reference time -1 */
                                     0xAA, 0xAA,                /* 1-bit vector: 1,0,1,0,... */
                                     1,    1,    1,    1,    1, 1, 1, /* 7 deltas of 250 us */
                                     0,    0,    0};
    kumis_rtcp_iter_init(&it, one_bit, sizeof(one_bit));
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    g_assert_true(kumis_rtcp_twcc_parse(&p, &hdr, st, G_N_ELEMENTS(st)));
    g_assert_cmpuint(hdr.base_seq, ==, 0xFFF0);
    g_assert_cmpint(hdr.reference_time, ==, -1);
    for (guint k = 0; k < 14; k++) {
        g_assert_cmpuint(st[k].seq, ==, (guint16)(0xFFF0 + k));
        g_assert_cmpint(st[k].received, ==, k % 2 == 0);
        if (k % 2 == 0)
            g_assert_cmpint(st[k].arrival_us, ==, -64000 + 250 * (gint64)(k / 2 + 1));
    }
}

/* Build transport-wide CC feedback, parse it back: same losses, arrivals within a tick. */
static void test_twcc_round_trip(void)
{
    enum { N = 300 };
    struct kumis_twcc_status in[N], out[N];
    GRand *r = g_rand_new_with_seed(42);
    gint64 t = G_GINT64_CONSTANT(7) * 24 * 3600 * G_USEC_PER_SEC; /* a week of uptime */
    for (guint k = 0; k < N; k++) {
        in[k].seq = (guint16)(65500 + k); /* wraps */
        /* runs of losses (run length chunks), scattered losses, reordering (negative
         * deltas), gaps longer than 64 ms (large deltas) */
        in[k].received = !(k >= 40 && k < 60) && g_rand_int_range(r, 0, 10) != 0;
        t += g_rand_int_range(r, -3000, 9000);
        if (k == 100)
            t += 500000;
        in[k].arrival_us = in[k].received ? t : 0;
    }
    g_rand_free(r);
    guint8 buf[2048];
    gssize n = kumis_rtcp_build_twcc(buf, sizeof(buf), 0x11, 0x22, in, N, 9);
    g_assert_cmpint(n, >, 20);
    g_assert_cmpint(n % 4, ==, 0);
    struct kumis_rtcp_iter it;
    struct kumis_rtcp_packet p;
    kumis_rtcp_iter_init(&it, buf, n);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_twcc hdr;
    g_assert_true(kumis_rtcp_twcc_parse(&p, &hdr, out, N));
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 0);
    g_assert_cmpuint(hdr.sender_ssrc, ==, 0x11);
    g_assert_cmpuint(hdr.media_ssrc, ==, 0x22);
    g_assert_cmpuint(hdr.base_seq, ==, 65500);
    g_assert_cmpuint(hdr.status_count, ==, N);
    g_assert_cmpuint(hdr.fb_count, ==, 9);
    /* The 24-bit reference time wraps (draft §3.1): compare arrivals modulo 2^24 x 64 ms. */
    const gint64 wrap = G_GINT64_CONSTANT(1) << 24;
    gint64 unwrap = ((in[0].arrival_us / 64000) / wrap) * wrap * 64000;
    for (guint k = 0; k < N; k++) {
        g_assert_cmpuint(out[k].seq, ==, in[k].seq);
        g_assert_cmpint(out[k].received, ==, in[k].received);
        if (in[k].received) {
            gint64 got = out[k].arrival_us + unwrap;
            if (hdr.reference_time < 0)
                got += wrap * 64000;
            g_assert_cmpint(ABS(got - in[k].arrival_us), <=, 125);
        }
    }
    /* Too small a buffer, nothing to report, and a gap beyond 16 bits of 250 µs ticks. */
    g_assert_cmpint(kumis_rtcp_build_twcc(buf, 40, 1, 2, in, N, 0), ==, -1);
    g_assert_cmpint(kumis_rtcp_build_twcc(buf, sizeof(buf), 1, 2, in, 0, 0), ==, -1);
    struct kumis_twcc_status two[2] = {{1, TRUE, 1000000}, {2, TRUE, 1000000 + 9000000}};
    g_assert_cmpint(kumis_rtcp_build_twcc(buf, sizeof(buf), 1, 2, two, 2, 0), ==, -1);
    two[1].arrival_us = 1000000 + 8000000;
    g_assert_cmpint(kumis_rtcp_build_twcc(buf, sizeof(buf), 1, 2, two, 2, 0), >, 0);
}

static void test_truncated_and_lying(void)
{
    guint8 buf[256];
    struct kumis_rtcp_rr rr = {.ssrc = 9, .n_reports = 1};
    rr.reports[0] = block(1, 1);
    gssize n = kumis_rtcp_build_rr(buf, sizeof(buf), &rr);
    g_assert_cmpint(n, ==, 32);
    struct kumis_rtcp_iter it;
    struct kumis_rtcp_packet p;
    /* Every truncation fails: the length field then lies about what is there. */
    for (gsize len = 1; len < (gsize)n; len++) {
        kumis_rtcp_iter_init(&it, buf, len);
        g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, -1);
        g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 0); /* and iteration stops */
    }
    /* A count larger than the length: the iterator accepts the frame, the parser refuses. */
    buf[0] = 0x82;
    kumis_rtcp_iter_init(&it, buf, n);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    g_assert_false(kumis_rtcp_rr_parse(&p, &rr));
    buf[0] = 0x81;
    /* Version 1. */
    buf[0] = 0x41;
    kumis_rtcp_iter_init(&it, buf, n);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, -1);
    buf[0] = 0x81;
    /* Padding on a packet that is not the last one. */
    memcpy(buf + n, buf, n);
    buf[0] = 0xA1;
    buf[n - 1] = 4;
    kumis_rtcp_iter_init(&it, buf, 2 * n);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, -1);
    /* Padding on the last one is removed; a padding count of 0 or past the body is refused. */
    kumis_rtcp_iter_init(&it, buf, n);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    g_assert_cmpuint(p.len, ==, (gsize)n - 4);
    g_assert_false(kumis_rtcp_rr_parse(&p, &rr)); /* the block is now cut short */
    buf[n - 1] = 0;
    kumis_rtcp_iter_init(&it, buf, n);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, -1);
    buf[n - 1] = 29;
    kumis_rtcp_iter_init(&it, buf, n);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, -1);

    /* A NACK without FCI, a REMB claiming more SSRCs than it has, a BYE with a lying reason. */
    guint8 nack[] = {0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2};
    kumis_rtcp_iter_init(&it, nack, sizeof(nack));
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    guint16 seqs[4];
    guint32 media;
    g_assert_cmpint(kumis_rtcp_nack_parse(&p, &media, seqs, 4), ==, -1);
    guint8 remb[] = {0x8F, 206, 0,   5,   0, 0, 0, 1, 0, 0, 0, 0,
                     'R',  'E', 'M', 'B', 2, 0, 0, 1, 0, 0, 0, 5};
    kumis_rtcp_iter_init(&it, remb, sizeof(remb));
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_remb r;
    g_assert_false(kumis_rtcp_remb_parse(&p, &r));
    remb[16] = 1;
    g_assert_true(kumis_rtcp_remb_parse(&p, &r));
    g_assert_cmpuint(r.bitrate_bps, ==, 1);
    remb[12] = 'X';
    g_assert_false(kumis_rtcp_remb_parse(&p, &r));
    guint8 bye[] = {0x81, 203, 0, 2, 0, 0, 0, 7, 9, 'b', 'y', 'e'};
    kumis_rtcp_iter_init(&it, bye, sizeof(bye));
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_bye b;
    g_assert_false(kumis_rtcp_bye_parse(&p, &b));
    bye[8] = 3;
    g_assert_true(kumis_rtcp_bye_parse(&p, &b));
    g_assert_cmpuint(b.n_ssrcs, ==, 1);
    g_assert_cmpuint(b.ssrcs[0], ==, 7);
    g_assert_cmpmem(b.reason, b.reason_len, "bye", 3);
    /* An SDES item longer than the chunk. */
    guint8 sdes[] = {0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, 'a', 0};
    kumis_rtcp_iter_init(&it, sdes, sizeof(sdes));
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_sdes s;
    g_assert_false(kumis_rtcp_sdes_parse(&p, &s));
    sdes[9] = 1;
    g_assert_true(kumis_rtcp_sdes_parse(&p, &s));
    g_assert_cmpuint(s.chunks[0].cname_len, ==, 1);
}

/* GStreamer's RTCP writer (an independent implementation) builds; we parse. */
static void test_parse_gstreamer_bytes(void)
{
    GstRTCPBuffer rtcp = GST_RTCP_BUFFER_INIT;
    GstRTCPPacket packet;
    GstBuffer *buffer = gst_rtcp_buffer_new(1400);
    g_assert_true(gst_rtcp_buffer_map(buffer, GST_MAP_READWRITE, &rtcp));
    g_assert_true(gst_rtcp_buffer_add_packet(&rtcp, GST_RTCP_TYPE_SR, &packet));
    gst_rtcp_packet_sr_set_sender_info(&packet, 0xAAAA, G_GUINT64_CONSTANT(0x0102030405060708),
                                       90000, 77, 7700);
    g_assert_true(gst_rtcp_packet_add_rb(&packet, 0xBBBB, 12, -2, 70000, 55, 0x1234, 0x5678));
    g_assert_true(gst_rtcp_buffer_add_packet(&rtcp, GST_RTCP_TYPE_SDES, &packet));
    g_assert_true(gst_rtcp_packet_sdes_add_item(&packet, 0xAAAA));
    g_assert_true(
        gst_rtcp_packet_sdes_add_entry(&packet, GST_RTCP_SDES_CNAME, 5, (const guint8 *)"alice"));
    g_assert_true(gst_rtcp_buffer_add_packet(&rtcp, GST_RTCP_TYPE_RTPFB, &packet));
    gst_rtcp_packet_fb_set_type(&packet, GST_RTCP_RTPFB_TYPE_NACK);
    gst_rtcp_packet_fb_set_sender_ssrc(&packet, 0xAAAA);
    gst_rtcp_packet_fb_set_media_ssrc(&packet, 0xCCCC);
    g_assert_true(gst_rtcp_packet_fb_set_fci_length(&packet, 1));
    guint8 *fci = gst_rtcp_packet_fb_get_fci(&packet);
    fci[0] = 0xFF, fci[1] = 0xFE, fci[2] = 0x00, fci[3] = 0x05; /* 65534, 65535 and 1 */
    g_assert_true(gst_rtcp_buffer_add_packet(&rtcp, GST_RTCP_TYPE_BYE, &packet));
    g_assert_true(gst_rtcp_packet_bye_add_ssrc(&packet, 0xAAAA));
    gst_rtcp_buffer_unmap(&rtcp);

    GstMapInfo map;
    g_assert_true(gst_buffer_map(buffer, &map, GST_MAP_READ));
    struct kumis_rtcp_iter it;
    struct kumis_rtcp_packet p;
    kumis_rtcp_iter_init(&it, map.data, map.size);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_sr sr;
    g_assert_true(kumis_rtcp_sr_parse(&p, &sr));
    g_assert_cmpuint(sr.ssrc, ==, 0xAAAA);
    g_assert_cmpuint(sr.ntp_sec, ==, 0x01020304);
    g_assert_cmpuint(sr.ntp_frac, ==, 0x05060708);
    g_assert_cmpuint(sr.rtp_timestamp, ==, 90000);
    g_assert_cmpuint(sr.packet_count, ==, 77);
    g_assert_cmpuint(sr.octet_count, ==, 7700);
    g_assert_cmpuint(sr.n_reports, ==, 1);
    g_assert_cmpuint(sr.reports[0].ssrc, ==, 0xBBBB);
    g_assert_cmpuint(sr.reports[0].fraction_lost, ==, 12);
    g_assert_cmpint(sr.reports[0].cumulative_lost, ==, -2);
    g_assert_cmpuint(sr.reports[0].highest_seq, ==, 70000);
    g_assert_cmpuint(sr.reports[0].jitter, ==, 55);
    g_assert_cmpuint(sr.reports[0].lsr, ==, 0x1234);
    g_assert_cmpuint(sr.reports[0].dlsr, ==, 0x5678);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_sdes sdes;
    g_assert_true(kumis_rtcp_sdes_parse(&p, &sdes));
    g_assert_cmpuint(sdes.n_chunks, ==, 1);
    g_assert_cmpmem(sdes.chunks[0].cname, sdes.chunks[0].cname_len, "alice", 5);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    guint16 seqs[8];
    guint32 media;
    g_assert_cmpint(kumis_rtcp_nack_parse(&p, &media, seqs, 8), ==, 3);
    g_assert_cmpuint(media, ==, 0xCCCC);
    g_assert_cmpuint(seqs[0], ==, 65534);
    g_assert_cmpuint(seqs[1], ==, 65535);
    g_assert_cmpuint(seqs[2], ==, 1);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 1);
    struct kumis_rtcp_bye bye;
    g_assert_true(kumis_rtcp_bye_parse(&p, &bye));
    g_assert_cmpuint(bye.ssrcs[0], ==, 0xAAAA);
    g_assert_null(bye.reason);
    g_assert_cmpint(kumis_rtcp_iter_next(&it, &p), ==, 0);
    gst_buffer_unmap(buffer, &map);
    gst_buffer_unref(buffer);
}

/* We build; GStreamer's RTCP reader validates and parses. */
static void test_gstreamer_parses_ours(void)
{
    guint8 buf[512];
    gsize len = 0;
    struct kumis_rtcp_rr rr = {.ssrc = 0x1234, .n_reports = 1};
    rr.reports[0] = block(0x9999, -5);
    len += kumis_rtcp_build_rr(buf + len, sizeof(buf) - len, &rr);
    len += kumis_rtcp_build_sdes_cname(buf + len, sizeof(buf) - len, 0x1234, "kumisd");
    const guint16 lost[] = {10, 12, 26, 300};
    len += kumis_rtcp_build_nack(buf + len, sizeof(buf) - len, 0x1234, 0x9999, lost, 4);
    len += kumis_rtcp_build_pli(buf + len, sizeof(buf) - len, 0x1234, 0x9999);

    GstBuffer *buffer = gst_buffer_new_memdup(buf, len);
    g_assert_true(gst_rtcp_buffer_validate(buffer));
    GstRTCPBuffer rtcp = GST_RTCP_BUFFER_INIT;
    GstRTCPPacket packet;
    g_assert_true(gst_rtcp_buffer_map(buffer, GST_MAP_READ, &rtcp));
    g_assert_true(gst_rtcp_buffer_get_first_packet(&rtcp, &packet));
    g_assert_cmpint(gst_rtcp_packet_get_type(&packet), ==, GST_RTCP_TYPE_RR);
    g_assert_cmpuint(gst_rtcp_packet_rr_get_ssrc(&packet), ==, 0x1234);
    guint32 ssrc, exthighestseq, jitter, lsr, dlsr;
    guint8 fractionlost;
    gint32 packetslost;
    gst_rtcp_packet_get_rb(&packet, 0, &ssrc, &fractionlost, &packetslost, &exthighestseq, &jitter,
                           &lsr, &dlsr);
    g_assert_cmpuint(ssrc, ==, 0x9999);
    g_assert_cmpint(packetslost, ==, -5);
    g_assert_cmpuint(exthighestseq, ==, 0x0001FFFF);
    g_assert_true(gst_rtcp_packet_move_to_next(&packet));
    g_assert_cmpint(gst_rtcp_packet_get_type(&packet), ==, GST_RTCP_TYPE_SDES);
    g_assert_true(gst_rtcp_packet_move_to_next(&packet));
    g_assert_cmpint(gst_rtcp_packet_get_type(&packet), ==, GST_RTCP_TYPE_RTPFB);
    g_assert_cmpint(gst_rtcp_packet_fb_get_type(&packet), ==, GST_RTCP_RTPFB_TYPE_NACK);
    g_assert_cmpuint(gst_rtcp_packet_fb_get_media_ssrc(&packet), ==, 0x9999);
    g_assert_cmpuint(gst_rtcp_packet_fb_get_fci_length(&packet), ==, 2); /* 10+12+26, 300 */
    g_assert_true(gst_rtcp_packet_move_to_next(&packet));
    g_assert_cmpint(gst_rtcp_packet_get_type(&packet), ==, GST_RTCP_TYPE_PSFB);
    g_assert_cmpint(gst_rtcp_packet_fb_get_type(&packet), ==, GST_RTCP_PSFB_TYPE_PLI);
    g_assert_false(gst_rtcp_packet_move_to_next(&packet));
    gst_rtcp_buffer_unmap(&rtcp);
    gst_buffer_unref(buffer);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    gst_init(NULL, NULL);
    g_test_add_func("/rtcp/round-trip/compound", test_round_trip_compound);
    g_test_add_func("/rtcp/builders/too-small", test_builders_too_small);
    g_test_add_func("/rtcp/twcc/bytes", test_twcc_bytes);
    g_test_add_func("/rtcp/twcc/round-trip", test_twcc_round_trip);
    g_test_add_func("/rtcp/reject/truncated-and-lying", test_truncated_and_lying);
    g_test_add_func("/rtcp/interop/parse-gstreamer", test_parse_gstreamer_bytes);
    g_test_add_func("/rtcp/interop/gstreamer-parses-ours", test_gstreamer_parses_ours);
    return g_test_run();
}
