/* RTP headers, receive statistics and VP8 keyframe starts (RFC 3550, RFC 5761, RFC 7741). */
#include "rtp.h"

int rtp_packet_is_rtcp(const uint8_t *buf, size_t len)
{
    if (len < 2)
        return 0;
    uint8_t pt = buf[1] & 0x7f;
    return pt >= 64 && pt <= 95;
}

int rtp_header_parse(const uint8_t *buf, size_t len, struct rtp_header *h)
{
    if (len < 12 || (buf[0] >> 6) != 2)
        return -1;
    size_t off = 12 + 4 * (size_t)(buf[0] & 0x0f);
    if (buf[0] & 0x10) {
        if (off + 4 > len)
            return -1;
        off += 4 + 4 * (size_t)(buf[off + 2] << 8 | buf[off + 3]);
    }
    if (off > len)
        return -1;
    h->payload_type = buf[1] & 0x7f;
    h->marker = buf[1] >> 7;
    h->seq = (uint16_t)(buf[2] << 8 | buf[3]);
    h->timestamp = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
    h->ssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    h->header_len = off;
    return 0;
}

size_t rtp_vp8_descriptor_len(const uint8_t *p, size_t len)
{
    if (len < 1)
        return 0;
    /* RFC 7741 §4.2: X R N S R PID, then the extensions X announces. */
    size_t off = 1;
    if (p[0] & 0x80) {
        if (len < 2)
            return 0;
        uint8_t x = p[1];
        off = 2;
        if (x & 0x80) { /* I: PictureID, 7 or 15 bits (M) */
            if (off >= len)
                return 0;
            off += (p[off] & 0x80) ? 2 : 1;
        }
        if (x & 0x40) /* L: TL0PICIDX */
            off++;
        if (x & 0x30) /* T or K: TID/Y/KEYIDX */
            off++;
    }
    return off <= len ? off : 0;
}

int rtp_vp8_is_keyframe_start(const uint8_t *p, size_t len)
{
    /* S=1 and PID=0 start partition 0 of a frame. */
    size_t off = rtp_vp8_descriptor_len(p, len);
    if (off == 0 || !(p[0] & 0x10) || (p[0] & 0x07) != 0)
        return 0;
    /* §4.3: P (inverse key frame flag) is the lowest bit of the first payload header byte. */
    return off < len && (p[off] & 0x01) == 0;
}

void rtp_stream_stats_update(struct rtp_stream_stats *s, uint16_t seq, uint64_t now_us)
{
    if (!s->started) {
        s->started = 1;
        s->max_seq = seq;
        s->base_seq = seq;
        s->received = 1;
        s->last_us = now_us;
        return;
    }
    uint16_t delta = (uint16_t)(seq - s->max_seq);
    if (delta != 0 && delta < 0x8000) {
        if (seq < s->max_seq)
            s->cycles += 1u << 16;
        if (delta > 1)
            s->gaps++;
        s->max_seq = seq;
    }
    s->received++;
    if (now_us - s->last_us > s->max_gap_us)
        s->max_gap_us = now_us - s->last_us;
    s->last_us = now_us;
}

uint64_t rtp_stream_stats_expected(const struct rtp_stream_stats *s)
{
    if (!s->started)
        return 0;
    return (uint64_t)s->cycles + s->max_seq - s->base_seq + 1;
}
