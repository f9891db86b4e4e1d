/* Unit tests for media/srtp_gcm.c: our AES-GCM SRTP/SRTCP against libsrtp2 itself (byte for
 * byte, and each side unprotecting the other's packets), across sequence wraps, resends and
 * late packets; tampered, short and oversized packets; the SSRC table bound; the wiring in
 * media/srtp_session.c. Each runs twice: with OpenSSL's provider functions called directly (what
 * kumisd uses) and through EVP (its fallback, media/gcm_key.h). With KUMIS_BENCH set (or -m
 * perf, or --verbose) a micro benchmark prints µs of CPU per 1200- and 160-byte protect, ours
 * (each way) and libsrtp2's. */
#include <gio/gio.h>
#include <glib.h>
#include <srtp2/srtp.h>
#include <string.h>
#include <time.h>

#include "media/gcm_key.h"
#include "media/srtp_gcm.h"
#include "media/srtp_session.h"

#define BUF_SIZE    1600
#define MAX_PLAIN   1400
#define HISTORY_LEN 200

struct master {
    gsize key_len;
    guint8 key[32];
    guint8 salt[KUMIS_SRTP_GCM_SALT_LEN];
};

struct packet {
    gsize len;
    guint8 data[BUF_SIZE];
};

static void random_fill(guint8 *p, gsize n)
{
    for (gsize i = 0; i < n; i++)
        p[i] = (guint8)g_test_rand_int_range(0, 256);
}

static struct master master_random(gsize key_len)
{
    struct master m = {.key_len = key_len};
    random_fill(m.key, key_len);
    random_fill(m.salt, sizeof m.salt);
    return m;
}

static void put16(guint8 *p, guint v)
{
    p[0] = (guint8)(v >> 8);
    p[1] = (guint8)v;
}

static void put32(guint8 *p, guint32 v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xFFFF);
}

/* libsrtp2 with the settings of media/srtp_session.c. */
static srtp_t libsrtp_new(const struct master *m, srtp_ssrc_type_t type, gboolean rtcp_encrypt)
{
    guint8 key[32 + KUMIS_SRTP_GCM_SALT_LEN];
    memcpy(key, m->key, m->key_len);
    memcpy(key + m->key_len, m->salt, sizeof m->salt);
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    if (m->key_len == 16) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    } else {
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtcp);
    }
    if (!rtcp_encrypt)
        policy.rtcp.sec_serv = sec_serv_auth;
    policy.ssrc.type = type;
    policy.key = key;
    policy.window_size = 1024;
    policy.allow_repeat_tx = 1;
    srtp_t session = NULL;
    g_assert_cmpint(srtp_create(&session, &policy), ==, srtp_err_status_ok);
    return session;
}

static struct kumis_srtp_gcm *ours_new(const struct master *m,
                                       enum kumis_srtp_gcm_direction direction)
{
    g_autoptr(GError) error = NULL;
    struct kumis_srtp_gcm *gcm =
        kumis_srtp_gcm_new(direction, m->key, m->key_len, m->salt, sizeof m->salt, &error);
    g_assert_no_error(error);
    g_assert_nonnull(gcm);
    return gcm;
}

/* An RTP packet: @cc CSRCs, a header extension of @ext_words words when @ext_words >= 0, then
 * random payload up to @len bytes in all (at least the header). */
static void rtp_build(struct packet *p, guint32 ssrc, guint16 seq, guint cc, gint ext_words,
                      gsize len)
{
    guint8 *b = p->data;
    b[0] = (guint8)(0x80 | (ext_words >= 0 ? 0x10 : 0) | cc);
    b[1] = (guint8)g_test_rand_int_range(0, 256);
    put16(b + 2, seq);
    put32(b + 4, g_test_rand_int());
    put32(b + 8, ssrc);
    gsize header = 12;
    for (guint i = 0; i < cc; i++, header += 4)
        put32(b + header, g_test_rand_int());
    if (ext_words >= 0) {
        put16(b + header, 0xBEDE);
        put16(b + header + 2, (guint)ext_words);
        random_fill(b + header + 4, 4 * (gsize)ext_words);
        header += 4 + 4 * (gsize)ext_words;
    }
    p->len = MAX(len, header);
    random_fill(b + header, p->len - header);
}

/* A random packet of 12..MAX_PLAIN bytes: half without CSRCs, half without extension, and
 * now and then a bare 12-byte header. */
static void rtp_random(struct packet *p, guint32 ssrc, guint16 seq)
{
    if (g_test_rand_int_range(0, 20) == 0) {
        rtp_build(p, ssrc, seq, 0, -1, 12);
        return;
    }
    guint cc = g_test_rand_bit() ? 0 : (guint)g_test_rand_int_range(0, 16);
    gint ext = g_test_rand_bit() ? -1 : g_test_rand_int_range(0, 12);
    rtp_build(p, ssrc, seq, cc, ext, (gsize)g_test_rand_int_range(12, MAX_PLAIN + 1));
}

/* Protects @p with ours and with libsrtp2 and asserts both give the same bytes. */
static void protect_both_rtp(struct kumis_srtp_gcm *ours, srtp_t lib, const struct packet *p,
                             struct packet *out)
{
    struct packet theirs = *p;
    *out = *p;
    g_assert_true(kumis_srtp_gcm_protect_rtp(ours, out->data, &out->len, sizeof out->data));
    int n = (int)theirs.len;
    g_assert_cmpint(srtp_protect(lib, theirs.data, &n), ==, srtp_err_status_ok);
    g_assert_cmpint(n, ==, (int)(p->len + KUMIS_SRTP_GCM_RTP_OVERHEAD));
    g_assert_cmpmem(out->data, out->len, theirs.data, (gsize)n);
}

/* libsrtp2 (receiver) unprotects @srtp back to @plain. */
static void libsrtp_unprotect_rtp_check(srtp_t lib, const struct packet *srtp,
                                        const struct packet *plain)
{
    struct packet copy = *srtp;
    int n = (int)copy.len;
    g_assert_cmpint(srtp_unprotect(lib, copy.data, &n), ==, srtp_err_status_ok);
    g_assert_cmpmem(copy.data, (gsize)n, plain->data, plain->len);
}

/* (a) A mixed stream of three SSRCs (one wrapping 65535 -> 0 early, one crossing 2^15): new
 * packets, resends of recent ones (NACK), packets held back and sent late. Every output is
 * libsrtp2's byte for byte, and a libsrtp2 receiver takes every first transmission. */
static void check_rtp_matches_libsrtp(gsize key_len)
{
    for (guint round = 0; round < 4; round++) {
        struct master m = master_random(key_len);
        struct kumis_srtp_gcm *ours = ours_new(&m, KUMIS_SRTP_GCM_PROTECT);
        srtp_t lib = libsrtp_new(&m, ssrc_any_outbound, TRUE);
        srtp_t receiver = libsrtp_new(&m, ssrc_any_inbound, TRUE);
        const guint32 ssrcs[3] = {g_test_rand_int(), g_test_rand_int(), g_test_rand_int()};
        guint16 next_seq[3] = {65500, 32760, (guint16)g_test_rand_int()};
        struct packet *history = g_new(struct packet, HISTORY_LEN);
        guint n_history = 0;
        struct packet held[3];
        gboolean holding[3] = {FALSE, FALSE, FALSE};
        struct packet plain, out;
        for (guint i = 0; i < 700; i++) {
            guint s = (guint)g_test_rand_int_range(0, 3);
            guint what = (guint)g_test_rand_int_range(0, 20);
            gboolean first_time = TRUE;
            if (what < 2 && n_history > 0) { /* resend, same bytes as the first time */
                plain = history[(guint)g_test_rand_int_range(0, (gint)MIN(n_history, HISTORY_LEN))];
                first_time = FALSE;
            } else if (what == 2 && !holding[s]) { /* lose one, send it later */
                rtp_random(&held[s], ssrcs[s], next_seq[s]++);
                holding[s] = TRUE;
                continue;
            } else if (what == 3 && holding[s]) {
                plain = held[s];
                holding[s] = FALSE;
            } else {
                rtp_random(&plain, ssrcs[s], next_seq[s]++);
            }
            protect_both_rtp(ours, lib, &plain, &out);
            if (first_time) {
                libsrtp_unprotect_rtp_check(receiver, &out, &plain);
                history[n_history++ % HISTORY_LEN] = plain;
            }
        }
        g_free(history);
        srtp_dealloc(receiver);
        srtp_dealloc(lib);
        kumis_srtp_gcm_free(ours);
    }
}

static void test_rtp_matches_libsrtp_128(void)
{
    check_rtp_matches_libsrtp(16);
}

static void test_rtp_matches_libsrtp_256(void)
{
    check_rtp_matches_libsrtp(32);
}

/* Sequence numbers leaping 30000 at a time: the rollover counter climbs to 8, as libsrtp2's. */
static void test_rtp_roc_climbs(void)
{
    for (gsize key_len = 16; key_len <= 32; key_len += 16) {
        struct master m = master_random(key_len);
        struct kumis_srtp_gcm *ours = ours_new(&m, KUMIS_SRTP_GCM_PROTECT);
        srtp_t lib = libsrtp_new(&m, ssrc_any_outbound, TRUE);
        srtp_t receiver = libsrtp_new(&m, ssrc_any_inbound, TRUE);
        struct packet plain, out;
        guint32 seq = 100;
        for (guint i = 0; i < 20; i++, seq += 30000) {
            rtp_build(&plain, 0xCAFE, (guint16)seq, 1, 2, 300);
            protect_both_rtp(ours, lib, &plain, &out);
            libsrtp_unprotect_rtp_check(receiver, &out, &plain);
        }
        guint32 roc = 0;
        g_assert_cmpint(srtp_get_stream_roc(lib, 0xCAFE, &roc), ==, srtp_err_status_ok);
        g_assert_cmpuint(roc, ==, (seq - 30000) >> 16);
        srtp_dealloc(receiver);
        srtp_dealloc(lib);
        kumis_srtp_gcm_free(ours);
    }
}

/* (b) Across a wrap, with 65533 lost and resent after 0..5 (a NACK answer, ROC 0 again): a
 * libsrtp2 receiver takes all of them; a second resend is the same bytes as the first. */
static void test_rtp_wrap_and_resend_to_libsrtp(void)
{
    for (gsize key_len = 16; key_len <= 32; key_len += 16) {
        struct master m = master_random(key_len);
        struct kumis_srtp_gcm *ours = ours_new(&m, KUMIS_SRTP_GCM_PROTECT);
        srtp_t receiver = libsrtp_new(&m, ssrc_any_inbound, TRUE);
        struct packet late, late_out, plain, out;
        rtp_build(&late, 0x1234, 65533, 0, 1, 200);
        for (guint32 seq = 65530; seq < 65536 + 6; seq++) {
            if (seq == 65533)
                continue;
            rtp_build(&plain, 0x1234, (guint16)seq, 2, -1, 500);
            out = plain;
            g_assert_true(kumis_srtp_gcm_protect_rtp(ours, out.data, &out.len, sizeof out.data));
            libsrtp_unprotect_rtp_check(receiver, &out, &plain);
        }
        late_out = late;
        g_assert_true(
            kumis_srtp_gcm_protect_rtp(ours, late_out.data, &late_out.len, sizeof late_out.data));
        libsrtp_unprotect_rtp_check(receiver, &late_out, &late);
        out = late;
        g_assert_true(kumis_srtp_gcm_protect_rtp(ours, out.data, &out.len, sizeof out.data));
        g_assert_cmpmem(out.data, out.len, late_out.data, late_out.len);
        /* ... and the stream goes on with ROC 1. */
        rtp_build(&plain, 0x1234, 6, 0, -1, 100);
        out = plain;
        g_assert_true(kumis_srtp_gcm_protect_rtp(ours, out.data, &out.len, sizeof out.data));
        libsrtp_unprotect_rtp_check(receiver, &out, &plain);
        srtp_dealloc(receiver);
        kumis_srtp_gcm_free(ours);
    }
}

static void rtcp_random(struct packet *p, guint32 ssrc)
{
    p->len = 4 * (gsize)g_test_rand_int_range(2, MAX_PLAIN / 4 + 1);
    random_fill(p->data, p->len);
    p->data[0] = (guint8)(0x80 | (p->data[0] & 0x1F));
    p->data[1] = (guint8)g_test_rand_int_range(200, 207);
    put16(p->data + 2, (guint)(p->len / 4 - 1));
    put32(p->data + 4, ssrc);
}

/* (c) SRTCP from two senders, past index 128 and 256 (libsrtp2 once masked the wrong bit of
 * the index on little-endian machines): libsrtp2's bytes, and its receiver takes them. */
static void check_rtcp_matches_libsrtp(gsize key_len)
{
    struct master m = master_random(key_len);
    struct kumis_srtp_gcm *ours = ours_new(&m, KUMIS_SRTP_GCM_PROTECT);
    srtp_t lib = libsrtp_new(&m, ssrc_any_outbound, TRUE);
    srtp_t receiver = libsrtp_new(&m, ssrc_any_inbound, TRUE);
    const guint32 ssrcs[2] = {g_test_rand_int(), 1};
    struct packet plain, out, theirs;
    for (guint i = 0; i < 700; i++) {
        rtcp_random(&plain, ssrcs[g_test_rand_bit()]);
        out = plain;
        theirs = plain;
        g_assert_true(kumis_srtp_gcm_protect_rtcp(ours, out.data, &out.len, sizeof out.data));
        int n = (int)theirs.len;
        g_assert_cmpint(srtp_protect_rtcp(lib, theirs.data, &n), ==, srtp_err_status_ok);
        g_assert_cmpmem(out.data, out.len, theirs.data, (gsize)n);
        g_assert_cmpuint(out.len, ==, plain.len + KUMIS_SRTP_GCM_RTCP_OVERHEAD);
        g_assert_cmpuint(out.data[out.len - 4] & 0x80, ==, 0x80); /* E */
        n = (int)out.len;
        g_assert_cmpint(srtp_unprotect_rtcp(receiver, out.data, &n), ==, srtp_err_status_ok);
        g_assert_cmpmem(out.data, (gsize)n, plain.data, plain.len);
    }
    srtp_dealloc(receiver);
    srtp_dealloc(lib);
    kumis_srtp_gcm_free(ours);
}

static void test_rtcp_matches_libsrtp_128(void)
{
    check_rtcp_matches_libsrtp(16);
}

static void test_rtcp_matches_libsrtp_256(void)
{
    check_rtcp_matches_libsrtp(32);
}

/* Flips each chosen bit of @srtp in turn; ours must refuse every one, and still take
 * the untouched packet afterwards (a refused packet leaves no state behind). */
static void check_tampering(struct kumis_srtp_gcm *ours, const struct packet *srtp,
                            const struct packet *plain, gboolean rtcp, const gsize *offsets,
                            guint n_offsets)
{
    for (guint i = 0; i < n_offsets; i++) {
        struct packet bad = *srtp;
        bad.data[offsets[i]] ^= 0x01;
        gboolean ok = rtcp ? kumis_srtp_gcm_unprotect_rtcp(ours, bad.data, &bad.len)
                           : kumis_srtp_gcm_unprotect_rtp(ours, bad.data, &bad.len);
        g_assert_false(ok);
    }
    struct packet good = *srtp;
    g_assert_true(rtcp ? kumis_srtp_gcm_unprotect_rtcp(ours, good.data, &good.len)
                       : kumis_srtp_gcm_unprotect_rtp(ours, good.data, &good.len));
    g_assert_cmpmem(good.data, good.len, plain->data, plain->len);
    /* A replay is refused. */
    good = *srtp;
    g_assert_false(rtcp ? kumis_srtp_gcm_unprotect_rtcp(ours, good.data, &good.len)
                        : kumis_srtp_gcm_unprotect_rtp(ours, good.data, &good.len));
}

/* (d) Ours unprotects libsrtp2's SRTP across a wrap, with a late packet, and refuses flipped
 * bits in the header, the payload and the tag, and replays. */
static void test_unprotect_libsrtp_rtp(void)
{
    for (gsize key_len = 16; key_len <= 32; key_len += 16) {
        struct master m = master_random(key_len);
        struct kumis_srtp_gcm *ours = ours_new(&m, KUMIS_SRTP_GCM_UNPROTECT);
        srtp_t lib = libsrtp_new(&m, ssrc_any_outbound, TRUE);
        struct packet plain, srtp, late_plain, late_srtp;
        for (guint32 seq = 65000; seq < 65536 + 300; seq++) {
            rtp_random(&plain, 0xABCD, (guint16)seq);
            srtp = plain;
            int n = (int)srtp.len;
            g_assert_cmpint(srtp_protect(lib, srtp.data, &n), ==, srtp_err_status_ok);
            srtp.len = (gsize)n;
            if (seq == 65530) { /* arrives after the wrap */
                late_plain = plain;
                late_srtp = srtp;
                continue;
            }
            if (seq == 65536 + 10) {
                struct packet copy = late_srtp;
                g_assert_true(kumis_srtp_gcm_unprotect_rtp(ours, copy.data, &copy.len));
                g_assert_cmpmem(copy.data, copy.len, late_plain.data, late_plain.len);
            }
            if (seq % 50 == 0) {
                gsize hdr = 12 + 4 * (gsize)(plain.data[0] & 0x0F);
                if (plain.data[0] & 0x10)
                    hdr += 4 + 4 * (gsize)(plain.data[hdr + 2] << 8 | plain.data[hdr + 3]);
                gsize offsets[8];
                guint n_offsets = 0;
                offsets[n_offsets++] = 1;             /* marker / payload type */
                offsets[n_offsets++] = 3;             /* sequence number */
                offsets[n_offsets++] = 11;            /* SSRC */
                offsets[n_offsets++] = hdr - 1;       /* last header byte */
                offsets[n_offsets++] = srtp.len - 1;  /* tag */
                offsets[n_offsets++] = srtp.len - 16; /* tag */
                if (plain.len > hdr) {
                    offsets[n_offsets++] = hdr;           /* payload */
                    offsets[n_offsets++] = plain.len - 1; /* payload */
                }
                check_tampering(ours, &srtp, &plain, FALSE, offsets, n_offsets);
                continue;
            }
            g_assert_true(kumis_srtp_gcm_unprotect_rtp(ours, srtp.data, &srtp.len));
            g_assert_cmpmem(srtp.data, srtp.len, plain.data, plain.len);
        }
        /* Seen already, and by now older than the 64-packet window too. */
        g_assert_false(kumis_srtp_gcm_unprotect_rtp(ours, late_srtp.data, &late_srtp.len));
        srtp_dealloc(lib);
        kumis_srtp_gcm_free(ours);
    }
}

/* (d) The same for SRTCP: header, encrypted part, tag, E flag and index, replays; and
 * authenticated-only SRTCP (E = 0) from libsrtp2. */
static void test_unprotect_libsrtp_rtcp(void)
{
    for (gsize key_len = 16; key_len <= 32; key_len += 16) {
        for (guint encrypt = 0; encrypt < 2; encrypt++) {
            struct master m = master_random(key_len);
            struct kumis_srtp_gcm *ours = ours_new(&m, KUMIS_SRTP_GCM_UNPROTECT);
            srtp_t lib = libsrtp_new(&m, ssrc_any_outbound, encrypt);
            struct packet plain, srtcp;
            for (guint i = 0; i < 300; i++) {
                rtcp_random(&plain, 0x55667788);
                srtcp = plain;
                int n = (int)srtcp.len;
                g_assert_cmpint(srtp_protect_rtcp(lib, srtcp.data, &n), ==, srtp_err_status_ok);
                srtcp.len = (gsize)n;
                g_assert_cmpuint(srtcp.data[srtcp.len - 4] >> 7, ==, encrypt);
                if (i % 25 == 0) {
                    const gsize offsets[] = {0,
                                             1,
                                             5,
                                             7,
                                             8,
                                             plain.len - 1,
                                             plain.len,
                                             srtcp.len - 5,
                                             srtcp.len - 4,
                                             srtcp.len - 1};
                    struct packet flipped = srtcp; /* E flag: then all of it is AAD */
                    flipped.data[flipped.len - 4] ^= 0x80;
                    g_assert_false(kumis_srtp_gcm_unprotect_rtcp(ours, flipped.data, &flipped.len));
                    check_tampering(ours, &srtcp, &plain, TRUE, offsets, G_N_ELEMENTS(offsets));
                    continue;
                }
                g_assert_true(kumis_srtp_gcm_unprotect_rtcp(ours, srtcp.data, &srtcp.len));
                g_assert_cmpmem(srtcp.data, srtcp.len, plain.data, plain.len);
            }
            srtp_dealloc(lib);
            kumis_srtp_gcm_free(ours);
        }
    }
}

/* Ours to ours, both profiles, RTP and RTCP, 40 SSRCs interleaved. */
static void test_round_trip(void)
{
    for (gsize key_len = 16; key_len <= 32; key_len += 16) {
        struct master m = master_random(key_len);
        struct kumis_srtp_gcm *tx = ours_new(&m, KUMIS_SRTP_GCM_PROTECT);
        struct kumis_srtp_gcm *rx = ours_new(&m, KUMIS_SRTP_GCM_UNPROTECT);
        struct packet plain, p;
        for (guint i = 0; i < 2000; i++) {
            guint32 ssrc = 1000 + i % 40; /* interleaved, each wrapping 65535 -> 0 */
            rtp_random(&plain, ssrc, (guint16)(65000 + i / 40 * 100));
            p = plain;
            g_assert_true(kumis_srtp_gcm_protect_rtp(tx, p.data, &p.len, sizeof p.data));
            g_assert_true(kumis_srtp_gcm_unprotect_rtp(rx, p.data, &p.len));
            g_assert_cmpmem(p.data, p.len, plain.data, plain.len);
            rtcp_random(&plain, ssrc);
            p = plain;
            g_assert_true(kumis_srtp_gcm_protect_rtcp(tx, p.data, &p.len, sizeof p.data));
            g_assert_true(kumis_srtp_gcm_unprotect_rtcp(rx, p.data, &p.len));
            g_assert_cmpmem(p.data, p.len, plain.data, plain.len);
        }
        kumis_srtp_gcm_free(rx);
        kumis_srtp_gcm_free(tx);
    }
}

/* The receiver's 1024-packet RTP replay window: late packets inside it pass once, older ones
 * not, as the window slides by a bit, by whole words and by words and bits. */
static void test_replay_window(void)
{
    struct master m = master_random(16);
    struct kumis_srtp_gcm *tx = ours_new(&m, KUMIS_SRTP_GCM_PROTECT);
    struct kumis_srtp_gcm *rx = ours_new(&m, KUMIS_SRTP_GCM_UNPROTECT);
    const struct {
        guint16 seq;
        gboolean accepted;
    } steps[] = {
        {10, TRUE},    {2000, TRUE},   {1500, TRUE},  {977, TRUE},   /* age 1023 */
        {976, FALSE},  {900, FALSE},                                 /* age 1024 and more */
        {1500, FALSE}, {2001, TRUE},   {977, FALSE},  {2000, FALSE}, /* replays; 977 slid out */
        {1938, TRUE},  {2002, TRUE},   {1938, FALSE},                /* age 63 -> 64: next word */
        {2130, TRUE},  {1938, FALSE},  {2002, FALSE}, {2003, TRUE},  /* slid by two words */
        {2200, TRUE},  {2130, FALSE},  {2003, FALSE}, {2004, TRUE},  /* by a word and 6 bits */
        {40000, TRUE}, {65535, TRUE},  {3, TRUE},                    /* ROC 0 -> 1 */
        {65534, TRUE}, {65535, FALSE}, {3, FALSE},    {4, TRUE},     /* ROC 0 again, replays */
    };
    for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
        struct packet p;
        rtp_build(&p, 77, steps[i].seq, 0, -1, 100);
        g_assert_true(kumis_srtp_gcm_protect_rtp(tx, p.data, &p.len, sizeof p.data));
        g_assert_cmpint(kumis_srtp_gcm_unprotect_rtp(rx, p.data, &p.len), ==, steps[i].accepted);
    }
    kumis_srtp_gcm_free(rx);
    kumis_srtp_gcm_free(tx);
}

/* (e) Too little room, packets shorter than their header, oversized ones, a full SSRC table,
 * bad key lengths: refused, and nothing consumed (the next good packet still matches
 * libsrtp2, whose state did not move either). */
static void test_bad_input(void)
{
    struct master m = master_random(16);
    struct kumis_srtp_gcm *ours = ours_new(&m, KUMIS_SRTP_GCM_PROTECT);
    struct kumis_srtp_gcm *rx = ours_new(&m, KUMIS_SRTP_GCM_UNPROTECT);
    srtp_t lib = libsrtp_new(&m, ssrc_any_outbound, TRUE);
    struct packet plain, p, out;

    rtp_build(&plain, 7, 100, 0, -1, 200);
    p = plain;
    g_assert_false(kumis_srtp_gcm_protect_rtp(ours, p.data, &p.len, p.len + 15));
    g_assert_cmpmem(p.data, p.len, plain.data, plain.len);
    protect_both_rtp(ours, lib, &plain, &out);

    p.len = 11; /* shorter than the fixed header */
    g_assert_false(kumis_srtp_gcm_protect_rtp(ours, p.data, &p.len, sizeof p.data));
    rtp_build(&p, 7, 101, 3, -1, 20); /* 3 CSRCs announced, 2 present */
    p.len = 20;
    g_assert_false(kumis_srtp_gcm_protect_rtp(ours, p.data, &p.len, sizeof p.data));
    rtp_build(&p, 7, 101, 0, 10, 12 + 4 + 40); /* extension longer than the packet */
    p.len = 12 + 4 + 36;
    g_assert_false(kumis_srtp_gcm_protect_rtp(ours, p.data, &p.len, sizeof p.data));
    rtp_build(&p, 7, 101, 0, 0, 16); /* X set, extension header cut */
    p.len = 14;
    g_assert_false(kumis_srtp_gcm_protect_rtp(ours, p.data, &p.len, sizeof p.data));
    guint8 *big = g_malloc0(KUMIS_SRTP_GCM_MAX_PACKET + 64);
    memcpy(big, plain.data, 12);
    gsize big_len = KUMIS_SRTP_GCM_MAX_PACKET + 1;
    g_assert_false(kumis_srtp_gcm_protect_rtp(ours, big, &big_len, big_len + 64));
    g_assert_false(kumis_srtp_gcm_unprotect_rtp(rx, big, &big_len));
    g_free(big);

    /* Exactly the minimum: a bare header, and a header with an empty extension. */
    rtp_build(&plain, 7, 101, 0, -1, 12);
    protect_both_rtp(ours, lib, &plain, &out);
    rtp_build(&plain, 7, 102, 0, 0, 16);
    protect_both_rtp(ours, lib, &plain, &out);

    /* RTCP: too short, too little room (the index must not be used up), then a good one. */
    rtcp_random(&plain, 9);
    p = plain;
    p.len = 7;
    g_assert_false(kumis_srtp_gcm_protect_rtcp(ours, p.data, &p.len, sizeof p.data));
    p = plain;
    g_assert_false(kumis_srtp_gcm_protect_rtcp(ours, p.data, &p.len, p.len + 19));
    p = plain;
    out = plain;
    g_assert_true(kumis_srtp_gcm_protect_rtcp(ours, p.data, &p.len, p.len + 20));
    int n = (int)out.len;
    g_assert_cmpint(srtp_protect_rtcp(lib, out.data, &n), ==, srtp_err_status_ok);
    g_assert_cmpmem(p.data, p.len, out.data, (gsize)n);

    /* Unprotect: shorter than header + tag (+ index). */
    for (gsize len = 0; len < 12 + 16; len++) {
        p = out;
        p.len = len;
        g_assert_false(kumis_srtp_gcm_unprotect_rtp(rx, p.data, &p.len));
    }
    for (gsize len = 0; len < 8 + 20; len++) {
        p = out;
        p.len = len;
        g_assert_false(kumis_srtp_gcm_unprotect_rtcp(rx, p.data, &p.len));
    }

    /* The SSRC table: full (7 and 9 already in), one more refused, the old ones go on. */
    for (guint32 ssrc = 1000; ssrc < 1000 + KUMIS_SRTP_GCM_MAX_SSRCS - 2; ssrc++) {
        rtp_build(&plain, ssrc, 1, 0, -1, 40);
        protect_both_rtp(ours, lib, &plain, &out);
    }
    rtp_build(&p, 5000, 1, 0, -1, 40);
    g_assert_false(kumis_srtp_gcm_protect_rtp(ours, p.data, &p.len, sizeof p.data));
    rtcp_random(&p, 5000);
    g_assert_false(kumis_srtp_gcm_protect_rtcp(ours, p.data, &p.len, sizeof p.data));
    rtp_build(&plain, 7, 103, 0, -1, 40);
    protect_both_rtp(ours, lib, &plain, &out);

    /* Key and salt lengths of other profiles. */
    g_autoptr(GError) error = NULL;
    g_assert_null(kumis_srtp_gcm_new(KUMIS_SRTP_GCM_PROTECT, m.key, 24, m.salt, 12, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_null(kumis_srtp_gcm_new(KUMIS_SRTP_GCM_PROTECT, m.key, 16, m.salt, 14, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);

    srtp_dealloc(lib);
    kumis_srtp_gcm_free(rx);
    kumis_srtp_gcm_free(ours);
}

/* media/srtp_session.c: GCM sends through srtp_gcm, the peer's libsrtp2 session takes it; the
 * AES-CM profile still works; failures are counted. */
static void test_session_wiring(void)
{
    const enum kumis_srtp_profile profiles[] = {KUMIS_SRTP_PROFILE_AES128_CM_SHA1_80,
                                                KUMIS_SRTP_PROFILE_AEAD_AES_128_GCM,
                                                KUMIS_SRTP_PROFILE_AEAD_AES_256_GCM};
    for (guint i = 0; i < G_N_ELEMENTS(profiles); i++) {
        struct kumis_srtp_keys a = {.profile = profiles[i]}, b;
        g_assert_true(kumis_srtp_profile_lengths(a.profile, &a.key_len, &a.salt_len));
        random_fill(a.local_key, sizeof a.local_key);
        random_fill(a.local_salt, sizeof a.local_salt);
        random_fill(a.remote_key, sizeof a.remote_key);
        random_fill(a.remote_salt, sizeof a.remote_salt);
        b = a;
        memcpy(b.local_key, a.remote_key, sizeof b.local_key);
        memcpy(b.local_salt, a.remote_salt, sizeof b.local_salt);
        memcpy(b.remote_key, a.local_key, sizeof b.remote_key);
        memcpy(b.remote_salt, a.local_salt, sizeof b.remote_salt);
        g_autoptr(GError) error = NULL;
        struct kumis_srtp_session *sa = kumis_srtp_session_new(&a, &error);
        g_assert_no_error(error);
        struct kumis_srtp_session *sb = kumis_srtp_session_new(&b, &error);
        g_assert_no_error(error);
        struct packet plain, p;
        for (guint32 seq = 65530; seq < 65536 + 10; seq++) {
            rtp_random(&plain, 42, (guint16)seq);
            p = plain;
            g_assert_true(kumis_srtp_session_protect_rtp(sa, p.data, &p.len, sizeof p.data));
            g_assert_true(kumis_srtp_session_unprotect_rtp(sb, p.data, &p.len));
            g_assert_cmpmem(p.data, p.len, plain.data, plain.len);
            rtcp_random(&plain, 42);
            p = plain;
            g_assert_true(kumis_srtp_session_protect_rtcp(sa, p.data, &p.len, sizeof p.data));
            g_assert_true(kumis_srtp_session_unprotect_rtcp(sb, p.data, &p.len));
            g_assert_cmpmem(p.data, p.len, plain.data, plain.len);
        }
        p = plain;
        g_assert_false(kumis_srtp_session_protect_rtcp(sa, p.data, &p.len, p.len + 1));
        p.len = 5;
        g_assert_false(kumis_srtp_session_protect_rtp(sa, p.data, &p.len, sizeof p.data));
        struct kumis_srtp_stats stats;
        kumis_srtp_session_get_stats(sa, &stats);
        g_assert_cmpuint(stats.protect_failures, ==, 2);
        kumis_srtp_session_free(sb);
        kumis_srtp_session_free(sa);
    }
}

/* --- micro benchmark ------------------------------------------------------------------ */

/* This thread's CPU time in µs: steadier than wall time on a shared machine. */
static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double bench_ours(struct kumis_srtp_gcm *gcm, const struct packet *plain, guint n)
{
    struct packet p;
    double start = cpu_us();
    for (guint i = 0; i < n; i++) {
        memcpy(p.data, plain->data, plain->len);
        p.len = plain->len;
        put16(p.data + 2, i);
        if (!kumis_srtp_gcm_protect_rtp(gcm, p.data, &p.len, sizeof p.data))
            g_error("protect failed");
    }
    return (cpu_us() - start) / n;
}

static double bench_libsrtp(srtp_t lib, const struct packet *plain, guint n)
{
    struct packet p;
    double start = cpu_us();
    for (guint i = 0; i < n; i++) {
        memcpy(p.data, plain->data, plain->len);
        put16(p.data + 2, i);
        int len = (int)plain->len;
        srtp_err_status_t status = srtp_protect(lib, p.data, &len);
        if (status != srtp_err_status_ok)
            g_error("srtp_protect failed: %d", (int)status);
    }
    return (cpu_us() - start) / n;
}

/* µs of CPU per unprotect of @size-byte RTP packets, ours (*@ours) and libsrtp2's (*@theirs),
 * over @n packets protected beforehand in batches. */
static void bench_unprotect(const struct master *m, gsize size, guint n, double *ours,
                            double *theirs)
{
    enum { BATCH = 512 };
    struct packet *batch = g_new(struct packet, BATCH);
    struct packet p;
    struct kumis_srtp_gcm *tx = ours_new(m, KUMIS_SRTP_GCM_PROTECT);
    struct kumis_srtp_gcm *rx = ours_new(m, KUMIS_SRTP_GCM_UNPROTECT);
    srtp_t lib = libsrtp_new(m, ssrc_any_inbound, TRUE);
    struct packet plain;
    rtp_build(&plain, 0x11223344, 0, 0, -1, size);
    double us_ours = 0, us_theirs = 0;
    guint done = 0;
    while (done < n) {
        for (guint i = 0; i < BATCH; i++) {
            batch[i] = plain;
            put16(batch[i].data + 2, (done + i) & 0xFFFF);
            g_assert_true(kumis_srtp_gcm_protect_rtp(tx, batch[i].data, &batch[i].len, BUF_SIZE));
        }
        double start = cpu_us();
        for (guint i = 0; i < BATCH; i++) {
            p = batch[i];
            if (!kumis_srtp_gcm_unprotect_rtp(rx, p.data, &p.len))
                g_error("unprotect failed");
        }
        us_ours += cpu_us() - start;
        start = cpu_us();
        for (guint i = 0; i < BATCH; i++) {
            p = batch[i];
            int len = (int)p.len;
            if (srtp_unprotect(lib, p.data, &len) != srtp_err_status_ok)
                g_error("srtp_unprotect failed");
        }
        us_theirs += cpu_us() - start;
        done += BATCH;
    }
    *ours = us_ours / done;
    *theirs = us_theirs / done;
    srtp_dealloc(lib);
    kumis_srtp_gcm_free(rx);
    kumis_srtp_gcm_free(tx);
    g_free(batch);
}

/* µs of CPU per protect of a 1200-byte RTP packet (video; 12-byte header) and a 160-byte one
 * (audio), ours and libsrtp2's, each the best of 5 runs of KUMIS_BENCH packets (default
 * 100000); then per unprotect of the same. */
static void test_bench(void)
{
    const char *env = g_getenv("KUMIS_BENCH");
    if (env == NULL && !g_test_perf() && !g_test_verbose()) {
        g_test_skip("set KUMIS_BENCH=packets, or run with -m perf or --verbose");
        return;
    }
    guint64 n = 0;
    if (env == NULL || !g_ascii_string_to_unsigned(env, 10, 1, 100000000, &n, NULL))
        n = 100000;
    const gsize sizes[] = {1200, 160};
    for (guint s = 0; s < G_N_ELEMENTS(sizes); s++) {
        struct packet plain;
        rtp_build(&plain, 0x11223344, 0, 0, -1, sizes[s]);
        for (gsize key_len = 16; key_len <= 32; key_len += 16) {
            struct master m = master_random(key_len);
            double ours = G_MAXDOUBLE, theirs = G_MAXDOUBLE;
            gboolean bench_direct = FALSE;
            for (guint run = 0; run < 5; run++) {
                /* Fresh contexts each run: the sequence numbers restart at 0. */
                struct kumis_srtp_gcm *gcm = ours_new(&m, KUMIS_SRTP_GCM_PROTECT);
                bench_direct = kumis_srtp_gcm_is_direct(gcm);
                srtp_t lib = libsrtp_new(&m, ssrc_any_outbound, TRUE);
                double us =
                    bench_ours(gcm, &plain, (guint)n); /* not inside MIN(): it evaluates twice */
                ours = MIN(ours, us);
                us = bench_libsrtp(lib, &plain, (guint)n);
                theirs = MIN(theirs, us);
                srtp_dealloc(lib);
                kumis_srtp_gcm_free(gcm);
            }
            g_printerr("# AEAD_AES_%u_GCM, %" G_GSIZE_FORMAT "-byte RTP protect: srtp_gcm (%s) "
                       "%.3f us, libsrtp2 %.3f us (x%.1f)\n",
                       (guint)key_len * 8, sizes[s], bench_direct ? "provider" : "EVP", ours,
                       theirs, theirs / ours);
        }
        struct master m = master_random(16);
        double ours, theirs;
        bench_unprotect(&m, sizes[s], (guint)n, &ours, &theirs);
        g_printerr("# AEAD_AES_128_GCM, %" G_GSIZE_FORMAT "-byte RTP unprotect: srtp_gcm %.3f us, "
                   "libsrtp2 %.3f us (x%.1f)\n",
                   sizes[s], ours, theirs, theirs / ours);
    }
}

/* The provider's functions are what a context uses here (Debian's OpenSSL 3.0); forcing EVP
 * gives EVP. Every other test runs both ways (see main()). */
static void test_direct_by_default(void)
{
    struct master m = master_random(16);
    struct kumis_srtp_gcm *gcm = ours_new(&m, KUMIS_SRTP_GCM_PROTECT);
    g_assert_true(kumis_srtp_gcm_is_direct(gcm));
    kumis_srtp_gcm_free(gcm);
    m = master_random(32);
    gcm = ours_new(&m, KUMIS_SRTP_GCM_UNPROTECT);
    g_assert_true(kumis_srtp_gcm_is_direct(gcm));
    kumis_srtp_gcm_free(gcm);
    kumis_gcm_key_force_evp(TRUE);
    gcm = ours_new(&m, KUMIS_SRTP_GCM_PROTECT);
    g_assert_false(kumis_srtp_gcm_is_direct(gcm));
    kumis_srtp_gcm_free(gcm);
    kumis_gcm_key_force_evp(FALSE);
}

struct mode_test {
    gboolean evp;
    GTestFunc func;
};

static void run_in_mode(gconstpointer data)
{
    const struct mode_test *t = data;
    kumis_gcm_key_force_evp(t->evp);
    t->func();
    kumis_gcm_key_force_evp(FALSE);
}

/* Adds @func as /srtp-gcm/provider/@name and /srtp-gcm/evp/@name. */
static void add_both(const char *name, GTestFunc func)
{
    for (guint evp = 0; evp < 2; evp++) {
        struct mode_test *t = g_new(struct mode_test, 1); /* lives as long as the test run */
        t->evp = evp;
        t->func = func;
        g_autofree char *path = g_strdup_printf("/srtp-gcm/%s/%s", evp ? "evp" : "provider", name);
        g_test_add_data_func_full(path, t, run_in_mode, g_free);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* kumis_srtp_session_new() calls srtp_init() once per process, and a second srtp_init()
     * fails on Debian's libsrtp2: let it be the one. */
    struct kumis_srtp_keys keys = {
        .profile = KUMIS_SRTP_PROFILE_AEAD_AES_128_GCM, .key_len = 16, .salt_len = 12};
    kumis_srtp_session_free(kumis_srtp_session_new(&keys, NULL));
    g_test_add_func("/srtp-gcm/direct-by-default", test_direct_by_default);
    add_both("rtp-matches-libsrtp-128", test_rtp_matches_libsrtp_128);
    add_both("rtp-matches-libsrtp-256", test_rtp_matches_libsrtp_256);
    add_both("rtp-roc-climbs", test_rtp_roc_climbs);
    add_both("rtp-wrap-and-resend-to-libsrtp", test_rtp_wrap_and_resend_to_libsrtp);
    add_both("rtcp-matches-libsrtp-128", test_rtcp_matches_libsrtp_128);
    add_both("rtcp-matches-libsrtp-256", test_rtcp_matches_libsrtp_256);
    add_both("unprotect-libsrtp-rtp", test_unprotect_libsrtp_rtp);
    add_both("unprotect-libsrtp-rtcp", test_unprotect_libsrtp_rtcp);
    add_both("round-trip", test_round_trip);
    add_both("replay-window", test_replay_window);
    add_both("bad-input", test_bad_input);
    add_both("session-wiring", test_session_wiring);
    add_both("bench", test_bench);
    int status = g_test_run();
    srtp_shutdown();
    return status;
}
