/* The media half of a load-generator peer: publishers send looped pre-encoded RTP, paced by
 * its timestamps; subscribers count packets from the clear RTP header (RFC 3711 §3.1: SRTP
 * leaves the header unencrypted) and decrypt video only until the first complete keyframe. */
#include "peer_media.h"

#include <string.h>

#define RR_INTERVAL_US        1000000
#define PLI_FIRST_US          300000 /* keyframe not seen this long after DTLS: ask */
#define PLI_REPEAT_US         500000
#define KEYFRAME_JUMP_HOLD_US 500000 /* one keyframe per PLI burst, as an encoder would */
#define RTCP_PT_SR            200
#define RTCP_PT_RR            201
#define RTCP_PT_RTPFB         205
#define RTCP_PT_PSFB          206
#define SRTP_ROOM             (SRTP_MAX_TRAILER_LEN + 16)

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

void peer_sender_init(struct peer_sender *s, const struct fixture *fx, uint32_t ssrc)
{
    memset(s, 0, sizeof *s);
    s->fx = fx;
    s->ssrc = ssrc;
    s->seq = (uint16_t)(ssrc >> 3);
    s->ts_base = ssrc * 2654435761u;
}

void peer_media_start(struct peer *p, uint64_t now_us)
{
    p->audio.start_us = now_us;
    p->video.start_us = now_us;
    p->next_rr_us = now_us + RR_INTERVAL_US;
    p->next_pli_us = now_us + PLI_FIRST_US;
}

static uint64_t sender_due_us(const struct peer_sender *s)
{
    uint64_t rtp_time = s->loop_ts + s->fx->packets[s->index].ts_rel;
    return s->start_us + rtp_time * 1000000u / s->fx->clock_rate;
}

/* At a frame boundary, skip ahead to the next keyframe start of the fixture, keeping the
 * output timestamps continuous: what a real encoder does when asked for a keyframe. */
static void sender_keyframe_jump(struct peer_sender *s, uint64_t now_us)
{
    const struct fixture *fx = s->fx;
    size_t i = s->index;
    if (i > 0 && fx->packets[i].ts_rel == fx->packets[i - 1].ts_rel)
        return; /* mid-frame: wait for the next frame */
    s->keyframe_wanted = 0;
    s->last_jump_us = now_us;
    s->keyframes_forced++;
    if (fx->packets[i].keyframe_start)
        return;
    uint64_t out_time = s->loop_ts + fx->packets[i].ts_rel;
    for (size_t k = i + 1;; k++) {
        if (k == fx->count)
            k = 0;
        if (k == i)
            return; /* no keyframe at all */
        if (fx->packets[k].keyframe_start) {
            s->index = k;
            s->loop_ts = out_time - fx->packets[k].ts_rel;
            return;
        }
    }
}

static void sender_packet_send(struct peer *p, struct peer_sender *s, uint64_t due)
{
    const struct fixture_packet *fp = &s->fx->packets[s->index];
    uint8_t buf[1500 + SRTP_ROOM];
    if (fp->len > 1500)
        return;
    memcpy(buf, fp->data, fp->len);
    uint32_t ts = s->ts_base + (uint32_t)(s->loop_ts + fp->ts_rel);
    buf[1] = (uint8_t)((buf[1] & 0x80) | (s->payload_type & 0x7f));
    wr16(buf + 2, s->seq++);
    wr32(buf + 4, ts);
    wr32(buf + 8, s->ssrc);
    int len = fp->len;
    if (srtp_protect(p->dtls.tx, buf, &len) != srtp_err_status_ok)
        return;
    peer_datagram_send(p, buf, (size_t)len);
    if (s->fx->pace_bps) {
        uint64_t from = s->pace_next_us > due ? s->pace_next_us : due;
        s->pace_next_us = from + (uint64_t)fp->len * 8 * 1000000u / s->fx->pace_bps;
    }
    p->tx_rtp++;
    p->tx_bytes += (uint64_t)len;
}

static uint64_t sender_run(struct peer *p, struct peer_sender *s, uint64_t now_us)
{
    if (s->fx == NULL || s->fx->count == 0)
        return UINT64_MAX;
    for (int burst = 0; burst < 256; burst++) {
        if (s->keyframe_wanted)
            sender_keyframe_jump(s, now_us);
        uint64_t due = sender_due_us(s);
        if (s->pace_next_us > due)
            due = s->pace_next_us;
        if (due > now_us)
            return due;
        sender_packet_send(p, s, due);
        if (++s->index == s->fx->count) {
            s->index = 0;
            s->loop_ts += s->fx->loop_ts;
        }
    }
    return now_us;
}

uint64_t peer_media_send(struct peer *p, uint64_t now_us)
{
    if (p->kind != PEER_PUBLISHER || !p->dtls.done)
        return UINT64_MAX;
    uint64_t a = sender_run(p, &p->audio, now_us);
    uint64_t v = sender_run(p, &p->video, now_us);
    return a < v ? a : v;
}

/* Publisher side of RTCP: the server's PLI/FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1) makes the
 * video sender jump to a keyframe; NACKs are only counted (no retransmission). */
static void rtcp_feedback_handle(struct peer *p, uint8_t *buf, size_t len, uint64_t now_us)
{
    int ilen = (int)len;
    if (srtp_unprotect_rtcp(p->dtls.rx, buf, &ilen) != srtp_err_status_ok) {
        p->decrypt_errors++;
        return;
    }
    for (size_t off = 0; off + 4 <= (size_t)ilen;) {
        uint8_t fmt = buf[off] & 0x1f, pt = buf[off + 1];
        size_t plen = 4 * ((size_t)(buf[off + 2] << 8 | buf[off + 3]) + 1);
        if (off + plen > (size_t)ilen)
            break;
        if (pt == RTCP_PT_PSFB && (fmt == 1 || fmt == 4)) {
            p->plis_received++;
            if (now_us - p->video.last_jump_us > KEYFRAME_JUMP_HOLD_US)
                p->video.keyframe_wanted = 1;
        } else if (pt == RTCP_PT_RTPFB && fmt == 1) {
            p->nacks_received++;
        }
        off += plen;
    }
}

static struct rtp_stream_stats *stream_find(struct peer *p, uint32_t ssrc, uint8_t pt)
{
    for (unsigned i = 0; i < p->n_streams; i++)
        if (p->streams[i].ssrc == ssrc)
            return &p->streams[i];
    if (p->n_streams == PEER_MAX_STREAMS)
        return NULL;
    struct rtp_stream_stats *s = &p->streams[p->n_streams++];
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->payload_type = pt;
    return s;
}

/* Decrypts a video packet and follows the keyframe of its stream: complete when every packet
 * from its start to its marker bit arrived (RFC 7741 §4.1: the marker ends the frame). Per
 * stream, because a subscriber of several publishers sees their keyframes interleaved. */
static void keyframe_follow(struct peer *p, struct rtp_stream_stats *s, const uint8_t *buf,
                            size_t len, uint64_t now_us)
{
    uint8_t copy[1500 + SRTP_ROOM];
    if (len > sizeof copy)
        return;
    memcpy(copy, buf, len);
    int ilen = (int)len;
    struct rtp_header h;
    if (srtp_unprotect(p->dtls.rx, copy, &ilen) != srtp_err_status_ok ||
        rtp_header_parse(copy, (size_t)ilen, &h) != 0) {
        p->decrypt_errors++;
        return;
    }
    if (rtp_vp8_is_keyframe_start(copy + h.header_len, (size_t)ilen - h.header_len)) {
        s->keyframe_active = 1;
        s->keyframe_ts = h.timestamp;
        s->keyframe_first_seq = h.seq;
        s->keyframe_packets = 0;
    }
    if (!s->keyframe_active || h.timestamp != s->keyframe_ts)
        return;
    s->keyframe_packets++;
    if (!h.marker)
        return;
    if (s->keyframe_packets == (unsigned)(uint16_t)(h.seq - s->keyframe_first_seq) + 1) {
        p->keyframe_done = 1;
        p->first_frame_us = now_us;
    }
    s->keyframe_active = 0;
}

void peer_media_receive(struct peer *p, uint8_t *buf, size_t len, uint64_t now_us)
{
    if (rtp_packet_is_rtcp(buf, len)) {
        p->rx_rtcp++;
        if (p->kind == PEER_PUBLISHER)
            rtcp_feedback_handle(p, buf, len, now_us);
        return;
    }
    struct rtp_header h;
    if (rtp_header_parse(buf, len, &h) != 0)
        return;
    p->rx_rtp++;
    p->rx_bytes += len;
    struct rtp_stream_stats *s = stream_find(p, h.ssrc, h.payload_type);
    if (s)
        rtp_stream_stats_update(s, h.seq, now_us);
    if (s && h.payload_type == p->video_pt && !p->keyframe_done) {
        p->video_ssrc_seen = h.ssrc;
        keyframe_follow(p, s, buf, len, now_us);
    }
}

/* RFC 3550 §6.4.2 receiver report, one block per stream (at most 31). */
static size_t rr_write(const struct peer *p, uint8_t *buf)
{
    unsigned n = p->n_streams < 31 ? p->n_streams : 31;
    buf[0] = (uint8_t)(0x80 | n);
    buf[1] = RTCP_PT_RR;
    wr16(buf + 2, (uint16_t)(1 + 6 * n));
    wr32(buf + 4, p->own_ssrc);
    uint8_t *b = buf + 8;
    for (unsigned i = 0; i < n; i++, b += 24) {
        const struct rtp_stream_stats *s = &p->streams[i];
        uint64_t expected = rtp_stream_stats_expected(s);
        int64_t lost = (int64_t)expected - (int64_t)s->received;
        if (lost < 0)
            lost = 0;
        if (lost > 0x7fffff)
            lost = 0x7fffff;
        wr32(b, s->ssrc);
        wr32(b + 4, (uint32_t)lost); /* fraction lost 0: cumulative only */
        wr32(b + 8, s->cycles + s->max_seq);
        wr32(b + 12, 0);
        wr32(b + 16, 0);
        wr32(b + 20, 0);
    }
    return 8 + 24 * (size_t)n;
}

/* RFC 4585 §6.3.1 Picture Loss Indication. */
static size_t pli_write(const struct peer *p, uint8_t *buf)
{
    buf[0] = 0x80 | 1;
    buf[1] = RTCP_PT_PSFB;
    wr16(buf + 2, 2);
    wr32(buf + 4, p->own_ssrc);
    wr32(buf + 8, p->video_ssrc_seen);
    return 12;
}

void peer_media_tick(struct peer *p, uint64_t now_us)
{
    if (p->kind != PEER_SUBSCRIBER)
        return;
    uint8_t buf[8 + 31 * 24 + 12 + SRTP_ROOM];
    size_t len = 0;
    int pli = !p->keyframe_done && p->video_ssrc_seen != 0 && now_us >= p->next_pli_us;
    if (now_us >= p->next_rr_us || pli) {
        len = rr_write(p, buf);
        p->next_rr_us = now_us + RR_INTERVAL_US;
    }
    if (pli) {
        len += pli_write(p, buf + len);
        p->plis_sent++;
        p->next_pli_us = now_us + PLI_REPEAT_US;
    }
    if (len == 0)
        return;
    int ilen = (int)len;
    if (srtp_protect_rtcp(p->dtls.tx, buf, &ilen) == srtp_err_status_ok)
        peer_datagram_send(p, buf, (size_t)ilen);
}
