/* Unit tests of kumis-loadgen's building blocks: STUN (RFC 5389/8445), RTP statistics,
 * VP8 keyframe starts (RFC 7741), RFC 4571 fixtures, and DTLS-SRTP between two of its own
 * endpoints over memory (RFC 5764). No network. */
#include <arpa/inet.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "loadgen/dtls.h"
#include "loadgen/fixture.h"
#include "loadgen/rtp.h"
#include "loadgen/stun.h"

static const uint8_t tx_id[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void test_stun_request_roundtrip(void)
{
    uint8_t buf[STUN_MAX_MESSAGE];
    size_t len = stun_binding_request_write(buf, tx_id, "remote", "local", "remotepassword",
                                            0x6e0001ff, 1, 0x1122334455667788ull, 1);
    g_assert_cmpuint(len, >, STUN_HEADER_LEN);
    g_assert_cmpuint(len % 4, ==, 0);
    g_assert_true(stun_message_is_stun(buf, len));
    struct stun_message m;
    g_assert_cmpint(stun_message_parse(buf, len, &m), ==, 0);
    g_assert_cmpuint(m.type, ==, STUN_BINDING_REQUEST);
    g_assert_cmpmem(m.transaction, 12, tx_id, 12);
    g_assert_cmpmem(m.username, m.username_len, "remote:local", 12);
    g_assert_true(m.use_candidate);
    g_assert_true(m.ice_controlling);
    g_assert_false(m.ice_controlled);
    g_assert_true(stun_message_check_integrity(buf, len, &m, "remotepassword"));
    g_assert_false(stun_message_check_integrity(buf, len, &m, "wrongpassword"));
    buf[STUN_HEADER_LEN + 5] ^= 1; /* a changed username byte breaks the HMAC */
    g_assert_false(stun_message_check_integrity(buf, len, &m, "remotepassword"));
}

static void test_stun_response_mapped_address(void)
{
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(40000)};
    inet_pton(AF_INET, "127.0.0.1", &from.sin_addr);
    uint8_t buf[STUN_MAX_MESSAGE];
    size_t len = stun_binding_success_write(buf, tx_id, &from, "localpassword");
    struct stun_message m;
    g_assert_cmpint(stun_message_parse(buf, len, &m), ==, 0);
    g_assert_cmpuint(m.type, ==, STUN_BINDING_SUCCESS);
    g_assert_true(stun_message_check_integrity(buf, len, &m, "localpassword"));
    /* XOR-MAPPED-ADDRESS is the first attribute: port xor 0x2112, address xor the cookie. */
    g_assert_cmpuint((buf[26] << 8 | buf[27]) ^ 0x2112, ==, 40000);
    g_assert_cmpuint(buf[28] ^ 0x21, ==, 127);
    g_assert_cmpuint(buf[31] ^ 0x42, ==, 1);
}

static void test_stun_rejects_malformed(void)
{
    uint8_t buf[STUN_MAX_MESSAGE];
    size_t len = stun_binding_request_write(buf, tx_id, "r", "l", "p", 1, 0, 1, 0);
    struct stun_message m;
    for (size_t cut = 0; cut < len; cut++)
        g_assert_cmpint(stun_message_parse(buf, cut, &m), ==, -1);
    buf[3] += 2; /* body length not a multiple of 4 */
    g_assert_cmpint(stun_message_parse(buf, len, &m), ==, -1);
    buf[3] -= 2;
    buf[4] = 0; /* wrong magic cookie */
    g_assert_false(stun_message_is_stun(buf, len));
}

static void test_rtp_header_bounds(void)
{
    uint8_t p[32] = {0x90, 0xe0, 0x12, 0x34, 0, 0, 0, 9, 0xde, 0xad, 0xbe,
                     0xef, 0xbe, 0xde, 0,    1, 1, 2, 3, 4,    0x55};
    struct rtp_header h;
    g_assert_cmpint(rtp_header_parse(p, 21, &h), ==, 0);
    g_assert_cmpuint(h.payload_type, ==, 96);
    g_assert_cmpuint(h.marker, ==, 1);
    g_assert_cmpuint(h.seq, ==, 0x1234);
    g_assert_cmpuint(h.timestamp, ==, 9);
    g_assert_cmpuint(h.ssrc, ==, 0xdeadbeef);
    g_assert_cmpuint(h.header_len, ==, 20);
    g_assert_cmpint(rtp_header_parse(p, 19, &h), ==, -1); /* extension cut short */
    p[0] = 0x40;
    g_assert_cmpint(rtp_header_parse(p, 21, &h), ==, -1); /* version 1 */
    uint8_t rr[8] = {0x80, 201};
    g_assert_true(rtp_packet_is_rtcp(rr, sizeof rr));
    g_assert_false(rtp_packet_is_rtcp(p, 21));
}

static void test_rtp_stats_loss_and_wrap(void)
{
    struct rtp_stream_stats s = {0};
    uint64_t t = 1000;
    for (uint32_t seq = 65530; seq < 65540; seq++) /* wraps */
        rtp_stream_stats_update(&s, (uint16_t)seq, t += 10);
    g_assert_cmpuint(rtp_stream_stats_expected(&s), ==, 10);
    g_assert_cmpuint(s.received, ==, 10);
    rtp_stream_stats_update(&s, (uint16_t)(65540 + 5), t += 500); /* 5 lost */
    g_assert_cmpuint(rtp_stream_stats_expected(&s), ==, 16);
    g_assert_cmpuint(s.received, ==, 11);
    g_assert_cmpuint(s.gaps, ==, 1);
    g_assert_cmpuint(s.max_gap_us, ==, 500);
    rtp_stream_stats_update(&s, (uint16_t)65541, t + 1); /* late: no new gap */
    g_assert_cmpuint(rtp_stream_stats_expected(&s), ==, 16);
    g_assert_cmpuint(s.gaps, ==, 1);
}

static void test_vp8_keyframe_start(void)
{
    /* X=1 S=1 PID=0; I=1 with 15-bit picture ID; payload header P=0: a keyframe start. */
    const uint8_t key[] = {0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00};
    g_assert_true(rtp_vp8_is_keyframe_start(key, sizeof key));
    const uint8_t inter[] = {0x90, 0x80, 0x81, 0x23, 0x11};
    g_assert_false(rtp_vp8_is_keyframe_start(inter, sizeof inter));
    const uint8_t middle[] = {0x80, 0x80, 0x81, 0x23, 0x10}; /* S=0: not a start */
    g_assert_false(rtp_vp8_is_keyframe_start(middle, sizeof middle));
    const uint8_t short_desc[] = {0x90, 0x80, 0x81}; /* picture ID cut short */
    g_assert_false(rtp_vp8_is_keyframe_start(short_desc, sizeof short_desc));
    const uint8_t plain[] = {0x10, 0x00}; /* no extension byte */
    g_assert_true(rtp_vp8_is_keyframe_start(plain, sizeof plain));
    g_assert_false(rtp_vp8_is_keyframe_start(plain, 1));
}

static void fixture_packet_put(GByteArray *file, uint32_t ts, gboolean key)
{
    uint8_t pkt[15] = {0x80,
                       96,
                       0,
                       0,
                       (uint8_t)(ts >> 24),
                       (uint8_t)(ts >> 16),
                       (uint8_t)(ts >> 8),
                       (uint8_t)ts,
                       0,
                       0,
                       0,
                       1,
                       0x10,
                       key ? 0x00 : 0x01,
                       0};
    uint8_t len[2] = {0, sizeof pkt};
    g_byte_array_append(file, len, 2);
    g_byte_array_append(file, pkt, sizeof pkt);
}

/* Writes @file to a new temporary folder; returns its path (fixture_file_remove). */
static char *fixture_file_write(const GByteArray *file)
{
    char *dir = g_dir_make_tmp("loadgen-XXXXXX", NULL);
    g_assert_nonnull(dir);
    char *path = g_build_filename(dir, "v.rtp", NULL);
    g_free(dir);
    g_assert_true(g_file_set_contents(path, (const char *)file->data, file->len, NULL));
    return path;
}

static void fixture_file_remove(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_unlink(path);
    g_rmdir(dir);
}

/* A VP8 frame of packets whose payloads (after a 1-byte descriptor) are @sizes bytes of a
 * counting pattern, rtpvp8pay style: the first starts the partition, the last has the marker. */
static void fixture_frame_put(GByteArray *file, uint32_t ts, const size_t *sizes, size_t n,
                              uint8_t *next_byte)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t pkt[12 + 1 + 64] = {0x80,
                                    (uint8_t)(96 | (i + 1 == n ? 0x80 : 0)),
                                    0,
                                    (uint8_t)i,
                                    (uint8_t)(ts >> 24),
                                    (uint8_t)(ts >> 16),
                                    (uint8_t)(ts >> 8),
                                    (uint8_t)ts,
                                    0,
                                    0,
                                    0,
                                    1,
                                    i == 0 ? 0x10 : 0x00};
        g_assert_cmpuint(sizes[i], <=, 64);
        for (size_t b = 0; b < sizes[i]; b++)
            pkt[13 + b] = (*next_byte)++;
        if (i == 0)
            pkt[13] &= 0xfe; /* P = 0: a keyframe */
        uint8_t len[2] = {0, (uint8_t)(13 + sizes[i])};
        g_byte_array_append(file, len, 2);
        g_byte_array_append(file, pkt, 13 + sizes[i]);
    }
}

/* Frames filled to the MTU (rtpvp8pay) come out cut as browsers cut them: the same payload in
 * the same packets, sizes within a byte, the longer last; headers and keyframe marks kept. */
static void test_fixture_cut_evenly(void)
{
    g_autoptr(GByteArray) file = g_byte_array_new();
    uint8_t next = 0;
    const size_t frame1[] = {10, 10, 3}, frame2[] = {5}, frame3[] = {64, 64, 64, 1};
    fixture_frame_put(file, 1000, frame1, 3, &next);
    fixture_frame_put(file, 4000, frame2, 1, &next);
    fixture_frame_put(file, 7000, frame3, 4, &next);
    g_autofree char *path = fixture_file_write(file);
    struct fixture fx;
    g_assert_cmpint(fixture_load(&fx, path, 90000, 1), ==, 0);
    g_assert_cmpuint(fx.count, ==, 8);
    const size_t want[] = {7, 8, 8, 5, 48, 48, 48, 49};
    uint8_t expect = 0;
    for (size_t i = 0; i < fx.count; i++) {
        const struct fixture_packet *p = &fx.packets[i];
        g_assert_cmpuint(p->len, ==, 13 + want[i]);
        struct rtp_header h;
        g_assert_cmpint(rtp_header_parse(p->data, p->len, &h), ==, 0);
        g_assert_cmpuint(h.marker, ==, i == 2 || i == 3 || i == 7);
        g_assert_cmphex(p->data[12], ==, i == 0 || i == 3 || i == 4 ? 0x10 : 0x00);
        for (size_t b = 0; b < want[i]; b++, expect++) /* the payload, in order, unchanged */
            g_assert_cmpuint(p->data[13 + b], ==, b == 0 && p->data[12] ? expect & 0xfe : expect);
    }
    g_assert_true(fx.packets[0].keyframe_start && fx.packets[4].keyframe_start);
    g_assert_false(fx.packets[1].keyframe_start);
    fixture_clear(&fx);
    fixture_file_remove(path);
}

static void test_fixture_load(void)
{
    g_autoptr(GByteArray) file = g_byte_array_new();
    for (uint32_t f = 0; f < 4; f++)
        fixture_packet_put(file, 1000 + 3000 * f, f == 0 || f == 2);
    g_autofree char *path = fixture_file_write(file);
    struct fixture fx;
    g_assert_cmpint(fixture_load(&fx, path, 90000, 1), ==, 0);
    g_assert_cmpuint(fx.count, ==, 4);
    g_assert_cmpuint(fx.packets[3].ts_rel, ==, 9000);
    g_assert_cmpuint(fx.loop_ts, ==, 12000);
    g_assert_true(fx.packets[0].keyframe_start && fx.packets[2].keyframe_start);
    g_assert_false(fx.packets[1].keyframe_start);
    fixture_clear(&fx);
    file->data[2] = 0x40; /* RTP version 1: refused */
    g_assert_true(g_file_set_contents(path, (const char *)file->data, file->len, NULL));
    g_assert_cmpint(fixture_load(&fx, path, 90000, 1), ==, -1);
    fixture_file_remove(path);
}

/* Moves every pending datagram from @from to @to. */
static void dtls_pump(struct dtls_session *from, struct dtls_session *to)
{
    uint8_t d[1500];
    size_t n;
    while ((n = dtls_session_take_datagram(from, d, 1200)) > 0) {
        g_assert_cmpuint(n, <=, 1200);
        g_assert_cmpint(dtls_session_advance(to, d, n), ==, 0);
    }
}

static void test_dtls_srtp_handshake(void)
{
    struct dtls_context dc;
    g_assert_cmpint(dtls_context_init(&dc), ==, 0);
    g_assert_true(g_str_has_prefix(dc.fingerprint, "sha-256 "));
    g_assert_cmpuint(strlen(dc.fingerprint), ==, 8 + 32 * 3 - 1);
    struct dtls_session client, server;
    g_assert_cmpint(dtls_session_init(&client, &dc, 1), ==, 0);
    g_assert_cmpint(dtls_session_init(&server, &dc, 0), ==, 0);
    g_assert_cmpint(dtls_session_advance(&client, NULL, 0), ==, 0);
    for (int round = 0; round < 10 && !(client.done && server.done); round++) {
        dtls_pump(&client, &server);
        dtls_pump(&server, &client);
    }
    g_assert_true(client.done && server.done);
    g_assert_cmpstr(client.profile, ==, "SRTP_AEAD_AES_128_GCM");
    /* What the client protects, the server's inbound session must accept: the keys were
     * exported and split the same way on both ends. */
    uint8_t pkt[64 + SRTP_MAX_TRAILER_LEN] = {0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7};
    memset(pkt + 12, 0xab, 52);
    int len = 64;
    g_assert_cmpint(srtp_protect(client.tx, pkt, &len), ==, srtp_err_status_ok);
    g_assert_cmpint(len, >, 64);
    g_assert_cmpint(srtp_unprotect(server.rx, pkt, &len), ==, srtp_err_status_ok);
    g_assert_cmpint(len, ==, 64);
    g_assert_cmpuint(pkt[40], ==, 0xab);
    pkt[0] = 0x80;
    len = 64;
    g_assert_cmpint(srtp_protect(server.tx, pkt, &len), ==, srtp_err_status_ok);
    pkt[20] ^= 1; /* tampered: refused */
    g_assert_cmpint(srtp_unprotect(client.rx, pkt, &len), !=, srtp_err_status_ok);
    dtls_session_clear(&client);
    dtls_session_clear(&server);
    dtls_context_clear(&dc);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/loadgen/stun/request-roundtrip", test_stun_request_roundtrip);
    g_test_add_func("/loadgen/stun/response-mapped-address", test_stun_response_mapped_address);
    g_test_add_func("/loadgen/stun/rejects-malformed", test_stun_rejects_malformed);
    g_test_add_func("/loadgen/rtp/header-bounds", test_rtp_header_bounds);
    g_test_add_func("/loadgen/rtp/stats-loss-and-wrap", test_rtp_stats_loss_and_wrap);
    g_test_add_func("/loadgen/vp8/keyframe-start", test_vp8_keyframe_start);
    g_test_add_func("/loadgen/fixture/load", test_fixture_load);
    g_test_add_func("/loadgen/fixture/cut-evenly", test_fixture_cut_evenly);
    g_test_add_func("/loadgen/dtls/srtp-handshake", test_dtls_srtp_handshake);
    return g_test_run();
}
