/* kumis — RTCP compound parsing and building (see rtcp.h). */
#include "media/rtcp.h"

#include <string.h>

#include "media/rtp.h"

#define RTCP_HEADER_LEN       4
#define RTCP_REPORT_BLOCK_LEN 24
#define RTCP_SR_INFO_LEN      24 /* sender SSRC + sender info, RFC 3550 §6.4.1 */
#define RTCP_FB_HEADER_LEN    12 /* header + sender SSRC + media SSRC, RFC 4585 §6.1 */

void kumis_rtcp_iter_init(struct kumis_rtcp_iter *it, const guint8 *data, gsize len)
{
    it->data = data;
    it->len = data != NULL ? len : 0;
    it->offset = 0;
}

int kumis_rtcp_iter_next(struct kumis_rtcp_iter *it, struct kumis_rtcp_packet *out)
{
    if (it->offset >= it->len)
        return 0;
    gsize rest = it->len - it->offset;
    const guint8 *p = it->data + it->offset;
    if (rest < RTCP_HEADER_LEN || (p[0] >> 6) != 2)
        goto out_malformed;
    /* RFC 3550 §6.4.1: length in 32-bit words minus one, header included. */
    gsize plen = 4 * ((gsize)kumis_be16(p + 2) + 1);
    if (plen > rest)
        goto out_malformed;
    gsize len = plen;
    if (p[0] & 0x20) {
        /* Padding is allowed only on the last packet of the compound packet. */
        if (plen != rest)
            goto out_malformed;
        guint8 pad = p[plen - 1];
        if (pad == 0 || pad > plen - RTCP_HEADER_LEN)
            goto out_malformed;
        len -= pad;
    }
    out->type = p[1];
    out->count = p[0] & 0x1F;
    out->data = p;
    out->len = len;
    it->offset += plen;
    return 1;

out_malformed:
    it->offset = it->len;
    return -1;
}

static void report_block_read(const guint8 *b, struct kumis_rtcp_report_block *rb)
{
    rb->ssrc = kumis_be32(b);
    rb->fraction_lost = b[4];
    guint32 lost = kumis_be24(b + 5);
    /* RFC 3550 §6.4.1: cumulative number of packets lost is a signed 24-bit integer. */
    rb->cumulative_lost = (lost & 0x800000) ? (gint32)lost - 0x1000000 : (gint32)lost;
    rb->highest_seq = kumis_be32(b + 8);
    rb->jitter = kumis_be32(b + 12);
    rb->lsr = kumis_be32(b + 16);
    rb->dlsr = kumis_be32(b + 20);
}

static void report_block_write(guint8 *b, const struct kumis_rtcp_report_block *rb)
{
    kumis_put_be32(b, rb->ssrc);
    b[4] = rb->fraction_lost;
    kumis_put_be24(b + 5, (guint32)rb->cumulative_lost & 0xFFFFFF);
    kumis_put_be32(b + 8, rb->highest_seq);
    kumis_put_be32(b + 12, rb->jitter);
    kumis_put_be32(b + 16, rb->lsr);
    kumis_put_be32(b + 20, rb->dlsr);
}

gboolean kumis_rtcp_sr_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_sr *out)
{
    if (p->type != KUMIS_RTCP_SR)
        return FALSE;
    if (p->len < RTCP_HEADER_LEN + RTCP_SR_INFO_LEN + (gsize)p->count * RTCP_REPORT_BLOCK_LEN)
        return FALSE;
    const guint8 *d = p->data;
    out->ssrc = kumis_be32(d + 4);
    out->ntp_sec = kumis_be32(d + 8);
    out->ntp_frac = kumis_be32(d + 12);
    out->rtp_timestamp = kumis_be32(d + 16);
    out->packet_count = kumis_be32(d + 20);
    out->octet_count = kumis_be32(d + 24);
    out->n_reports = p->count;
    for (guint i = 0; i < p->count; i++)
        report_block_read(d + 28 + i * RTCP_REPORT_BLOCK_LEN, &out->reports[i]);
    return TRUE;
}

gboolean kumis_rtcp_rr_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_rr *out)
{
    if (p->type != KUMIS_RTCP_RR)
        return FALSE;
    if (p->len < RTCP_HEADER_LEN + 4 + (gsize)p->count * RTCP_REPORT_BLOCK_LEN)
        return FALSE;
    out->ssrc = kumis_be32(p->data + 4);
    out->n_reports = p->count;
    for (guint i = 0; i < p->count; i++)
        report_block_read(p->data + 8 + i * RTCP_REPORT_BLOCK_LEN, &out->reports[i]);
    return TRUE;
}

gboolean kumis_rtcp_sdes_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_sdes *out)
{
    if (p->type != KUMIS_RTCP_SDES)
        return FALSE;
    const guint8 *d = p->data;
    gsize n = p->len, i = RTCP_HEADER_LEN;
    out->n_chunks = 0;
    for (guint c = 0; c < p->count; c++) {
        struct kumis_rtcp_sdes_chunk *chunk = &out->chunks[c];
        if (n - i < 4)
            return FALSE;
        chunk->ssrc = kumis_be32(d + i);
        chunk->cname = NULL;
        chunk->cname_len = 0;
        i += 4;
        for (;;) {
            if (i >= n)
                return FALSE;
            guint8 type = d[i];
            if (type == 0) {
                /* RFC 3550 §6.5: a null item ends the chunk, then pad to a 32-bit boundary. */
                i = (i + 4) & ~(gsize)3;
                if (i > n)
                    return FALSE;
                break;
            }
            if (n - i < 2 || (gsize)d[i + 1] > n - i - 2)
                return FALSE;
            if (type == 1) {
                chunk->cname = d + i + 2;
                chunk->cname_len = d[i + 1];
            }
            i += 2 + (gsize)d[i + 1];
        }
        out->n_chunks++;
    }
    return TRUE;
}

gboolean kumis_rtcp_bye_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_bye *out)
{
    if (p->type != KUMIS_RTCP_BYE)
        return FALSE;
    gsize i = RTCP_HEADER_LEN + 4 * (gsize)p->count;
    if (p->len < i)
        return FALSE;
    out->n_ssrcs = p->count;
    for (guint k = 0; k < p->count; k++)
        out->ssrcs[k] = kumis_be32(p->data + RTCP_HEADER_LEN + 4 * k);
    out->reason = NULL;
    out->reason_len = 0;
    if (i < p->len) {
        gsize reason_len = p->data[i];
        if (reason_len > p->len - i - 1)
            return FALSE;
        if (reason_len > 0) {
            out->reason = p->data + i + 1;
            out->reason_len = (guint8)reason_len;
        }
    }
    return TRUE;
}

gboolean kumis_rtcp_fb_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_fb *out)
{
    if (p->type != KUMIS_RTCP_RTPFB && p->type != KUMIS_RTCP_PSFB)
        return FALSE;
    if (p->len < RTCP_FB_HEADER_LEN)
        return FALSE;
    out->fmt = p->count;
    out->sender_ssrc = kumis_be32(p->data + 4);
    out->media_ssrc = kumis_be32(p->data + 8);
    out->fci = p->data + RTCP_FB_HEADER_LEN;
    out->fci_len = p->len - RTCP_FB_HEADER_LEN;
    return TRUE;
}

gssize kumis_rtcp_nack_parse(const struct kumis_rtcp_packet *p, guint32 *media_ssrc, guint16 *seqs,
                             gsize max)
{
    struct kumis_rtcp_fb fb;
    if (p->type != KUMIS_RTCP_RTPFB || !kumis_rtcp_fb_parse(p, &fb))
        return -1;
    /* RFC 4585 §6.2.1: at least one FCI entry of PID (16) and BLP (16). */
    if (fb.fmt != KUMIS_RTCP_RTPFB_NACK || fb.fci_len < 4)
        return -1;
    *media_ssrc = fb.media_ssrc;
    gsize n = 0;
    for (gsize i = 0; i + 4 <= fb.fci_len; i += 4) {
        guint16 pid = kumis_be16(fb.fci + i);
        guint16 blp = kumis_be16(fb.fci + i + 2);
        if (n < max)
            seqs[n++] = pid;
        for (guint bit = 0; bit < 16; bit++) {
            if ((blp & (1u << bit)) && n < max)
                seqs[n++] = (guint16)(pid + bit + 1);
        }
    }
    return (gssize)n;
}

gboolean kumis_rtcp_pli_parse(const struct kumis_rtcp_packet *p, guint32 *sender_ssrc,
                              guint32 *media_ssrc)
{
    struct kumis_rtcp_fb fb;
    if (p->type != KUMIS_RTCP_PSFB || !kumis_rtcp_fb_parse(p, &fb))
        return FALSE;
    if (fb.fmt != KUMIS_RTCP_PSFB_PLI)
        return FALSE;
    *sender_ssrc = fb.sender_ssrc;
    *media_ssrc = fb.media_ssrc;
    return TRUE;
}

gssize kumis_rtcp_fir_parse(const struct kumis_rtcp_packet *p, guint32 *sender_ssrc,
                            struct kumis_rtcp_fir_entry *entries, gsize max)
{
    struct kumis_rtcp_fb fb;
    if (p->type != KUMIS_RTCP_PSFB || !kumis_rtcp_fb_parse(p, &fb))
        return -1;
    /* RFC 5104 §4.3.1.1: entries of SSRC (32), Seq nr. (8), reserved (24). */
    if (fb.fmt != KUMIS_RTCP_PSFB_FIR || fb.fci_len < 8)
        return -1;
    *sender_ssrc = fb.sender_ssrc;
    gsize n = 0;
    for (gsize i = 0; i + 8 <= fb.fci_len && n < max; i += 8) {
        entries[n].ssrc = kumis_be32(fb.fci + i);
        entries[n].seq_nr = fb.fci[i + 4];
        n++;
    }
    return (gssize)n;
}

gboolean kumis_rtcp_remb_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_remb *out)
{
    struct kumis_rtcp_fb fb;
    if (p->type != KUMIS_RTCP_PSFB || !kumis_rtcp_fb_parse(p, &fb))
        return FALSE;
    /* draft-alvestrand-rmcat-remb-03 §2.2: 'R' 'E' 'M' 'B', Num SSRC (8), BR Exp (6),
     * BR Mantissa (18), then Num SSRC feedback SSRCs. */
    if (fb.fmt != KUMIS_RTCP_PSFB_AFB || fb.fci_len < 8 || memcmp(fb.fci, "REMB", 4) != 0)
        return FALSE;
    guint n_ssrcs = fb.fci[4];
    if (fb.fci_len - 8 < 4 * (gsize)n_ssrcs)
        return FALSE;
    guint exp = fb.fci[5] >> 2;
    guint64 mantissa = ((guint64)(fb.fci[5] & 0x03) << 16) | kumis_be16(fb.fci + 6);
    /* An 18-bit mantissa shifted by more than 46 no longer fits 64 bits: saturate. */
    if (exp > 46)
        out->bitrate_bps = mantissa != 0 ? G_MAXUINT64 : 0;
    else
        out->bitrate_bps = mantissa << exp;
    out->sender_ssrc = fb.sender_ssrc;
    out->n_ssrcs = n_ssrcs;
    for (guint i = 0; i < n_ssrcs; i++)
        out->ssrcs[i] = kumis_be32(fb.fci + 8 + 4 * i);
    return TRUE;
}

/* Reads the packet status chunks of a TWCC feedback: one symbol per packet into
 * out[].received (0 not received, 1 small delta, 2 large or negative delta).
 * Returns: the offset in @fci after the chunks, or 0 when malformed. */
static gsize twcc_read_chunks(const guint8 *fci, gsize fci_len, guint16 base_seq, guint count,
                              struct kumis_twcc_status *out)
{
    gsize i = 8;
    guint k = 0;
    while (k < count) {
        if (fci_len - i < 2)
            return 0;
        guint16 chunk = kumis_be16(fci + i);
        i += 2;
        if ((chunk & 0x8000) == 0) {
            /* Run length chunk: |T=0|S(2)|run length (13)| */
            guint symbol = (chunk >> 13) & 0x03;
            guint run = chunk & 0x1FFF;
            if (symbol == 3)
                return 0;
            for (guint r = 0; r < run && k < count; r++, k++) {
                out[k].seq = (guint16)(base_seq + k);
                out[k].received = (gboolean)symbol;
            }
        } else {
            /* Status vector chunk: |T=1|S|symbols|: S=0 fourteen 1-bit, S=1 seven 2-bit. */
            gboolean two_bit = (chunk & 0x4000) != 0;
            guint n = two_bit ? 7 : 14, width = two_bit ? 2 : 1;
            for (guint s = 0; s < n && k < count; s++, k++) {
                guint shift = 14 - width * (s + 1);
                guint symbol = (chunk >> shift) & (two_bit ? 0x03 : 0x01);
                if (symbol == 3)
                    return 0;
                out[k].seq = (guint16)(base_seq + k);
                out[k].received = (gboolean)symbol;
            }
        }
    }
    return i;
}

gboolean kumis_rtcp_twcc_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_twcc *hdr,
                               struct kumis_twcc_status *out, gsize max)
{
    struct kumis_rtcp_fb fb;
    if (p->type != KUMIS_RTCP_RTPFB || !kumis_rtcp_fb_parse(p, &fb))
        return FALSE;
    if (fb.fmt != KUMIS_RTCP_RTPFB_TWCC || fb.fci_len < 8)
        return FALSE;
    hdr->sender_ssrc = fb.sender_ssrc;
    hdr->media_ssrc = fb.media_ssrc;
    hdr->base_seq = kumis_be16(fb.fci);
    hdr->status_count = kumis_be16(fb.fci + 2);
    guint32 ref = kumis_be24(fb.fci + 4);
    hdr->reference_time = (ref & 0x800000) ? (gint32)ref - 0x1000000 : (gint32)ref;
    hdr->fb_count = fb.fci[7];
    if (hdr->status_count > max)
        return FALSE;

    gsize i = twcc_read_chunks(fb.fci, fb.fci_len, hdr->base_seq, hdr->status_count, out);
    if (i == 0)
        return FALSE;
    /* Receive deltas in 250 µs ticks, one per received packet: 8-bit unsigned for symbol 1,
     * 16-bit signed for symbol 2 (draft §3.1.5). */
    gint64 t = (gint64)hdr->reference_time * 64000;
    for (guint k = 0; k < hdr->status_count; k++) {
        guint symbol = (guint)out[k].received;
        out[k].received = symbol != 0;
        out[k].arrival_us = 0;
        if (symbol == 0)
            continue;
        if (symbol == 1) {
            if (fb.fci_len - i < 1)
                return FALSE;
            t += (gint64)fb.fci[i] * 250;
            i += 1;
        } else {
            if (fb.fci_len - i < 2)
                return FALSE;
            t += (gint64)(gint16)kumis_be16(fb.fci + i) * 250;
            i += 2;
        }
        out[k].arrival_us = t;
    }
    return TRUE;
}

/* Writes the common header of a packet of @len bytes (a multiple of 4). */
static void header_write(guint8 *buf, guint8 count, guint8 type, gsize len)
{
    buf[0] = (guint8)(0x80 | (count & 0x1F));
    buf[1] = type;
    kumis_put_be16(buf + 2, (guint16)(len / 4 - 1));
}

gssize kumis_rtcp_build_sr(guint8 *buf, gsize size, const struct kumis_rtcp_sr *sr)
{
    if (sr->n_reports > KUMIS_RTCP_MAX_REPORTS)
        return -1;
    gsize len = RTCP_HEADER_LEN + RTCP_SR_INFO_LEN + sr->n_reports * RTCP_REPORT_BLOCK_LEN;
    if (size < len)
        return -1;
    header_write(buf, (guint8)sr->n_reports, KUMIS_RTCP_SR, len);
    kumis_put_be32(buf + 4, sr->ssrc);
    kumis_put_be32(buf + 8, sr->ntp_sec);
    kumis_put_be32(buf + 12, sr->ntp_frac);
    kumis_put_be32(buf + 16, sr->rtp_timestamp);
    kumis_put_be32(buf + 20, sr->packet_count);
    kumis_put_be32(buf + 24, sr->octet_count);
    for (guint i = 0; i < sr->n_reports; i++)
        report_block_write(buf + 28 + i * RTCP_REPORT_BLOCK_LEN, &sr->reports[i]);
    return (gssize)len;
}

gssize kumis_rtcp_build_rr(guint8 *buf, gsize size, const struct kumis_rtcp_rr *rr)
{
    if (rr->n_reports > KUMIS_RTCP_MAX_REPORTS)
        return -1;
    gsize len = RTCP_HEADER_LEN + 4 + rr->n_reports * RTCP_REPORT_BLOCK_LEN;
    if (size < len)
        return -1;
    header_write(buf, (guint8)rr->n_reports, KUMIS_RTCP_RR, len);
    kumis_put_be32(buf + 4, rr->ssrc);
    for (guint i = 0; i < rr->n_reports; i++)
        report_block_write(buf + 8 + i * RTCP_REPORT_BLOCK_LEN, &rr->reports[i]);
    return (gssize)len;
}

gssize kumis_rtcp_build_sdes_cname(guint8 *buf, gsize size, guint32 ssrc, const char *cname)
{
    gsize n = strlen(cname);
    if (n > 255)
        return -1;
    /* header, SSRC, CNAME item (type, length, text), at least one null octet, pad to 4 */
    gsize len = (RTCP_HEADER_LEN + 4 + 2 + n + 1 + 3) & ~(gsize)3;
    if (size < len)
        return -1;
    memset(buf, 0, len);
    header_write(buf, 1, KUMIS_RTCP_SDES, len);
    kumis_put_be32(buf + 4, ssrc);
    buf[8] = 1;
    buf[9] = (guint8)n;
    memcpy(buf + 10, cname, n);
    return (gssize)len;
}

gssize kumis_rtcp_build_nack(guint8 *buf, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                             const guint16 *seqs, gsize n_seqs)
{
    if (n_seqs == 0 || size < RTCP_FB_HEADER_LEN)
        return -1;
    gsize len = RTCP_FB_HEADER_LEN;
    guint8 *entry = NULL;
    for (gsize k = 0; k < n_seqs; k++) {
        if (entry != NULL) {
            guint16 pid = kumis_be16(entry);
            guint16 d = (guint16)(seqs[k] - pid);
            if (d == 0)
                continue;
            if (d <= 16) {
                /* RFC 4585 §6.2.1: bit i of BLP means PID + i + 1 is lost too. */
                kumis_put_be16(entry + 2, (guint16)(kumis_be16(entry + 2) | (1u << (d - 1))));
                continue;
            }
        }
        if (size - len < 4 || len + 4 > 4 * 65536)
            return -1;
        entry = buf + len;
        kumis_put_be16(entry, seqs[k]);
        kumis_put_be16(entry + 2, 0);
        len += 4;
    }
    header_write(buf, KUMIS_RTCP_RTPFB_NACK, KUMIS_RTCP_RTPFB, len);
    kumis_put_be32(buf + 4, sender_ssrc);
    kumis_put_be32(buf + 8, media_ssrc);
    return (gssize)len;
}

gssize kumis_rtcp_build_pli(guint8 *buf, gsize size, guint32 sender_ssrc, guint32 media_ssrc)
{
    if (size < RTCP_FB_HEADER_LEN)
        return -1;
    header_write(buf, KUMIS_RTCP_PSFB_PLI, KUMIS_RTCP_PSFB, RTCP_FB_HEADER_LEN);
    kumis_put_be32(buf + 4, sender_ssrc);
    kumis_put_be32(buf + 8, media_ssrc);
    return RTCP_FB_HEADER_LEN;
}

gssize kumis_rtcp_build_fir(guint8 *buf, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                            guint8 seq_nr)
{
    gsize len = RTCP_FB_HEADER_LEN + 8;
    if (size < len)
        return -1;
    header_write(buf, KUMIS_RTCP_PSFB_FIR, KUMIS_RTCP_PSFB, len);
    kumis_put_be32(buf + 4, sender_ssrc);
    kumis_put_be32(buf + 8, 0);
    kumis_put_be32(buf + 12, media_ssrc);
    buf[16] = seq_nr;
    kumis_put_be24(buf + 17, 0);
    return (gssize)len;
}

gssize kumis_rtcp_build_remb(guint8 *buf, gsize size, guint32 sender_ssrc, guint64 bitrate_bps,
                             const guint32 *ssrcs, gsize n_ssrcs)
{
    if (n_ssrcs > 255)
        return -1;
    gsize len = RTCP_FB_HEADER_LEN + 8 + 4 * n_ssrcs;
    if (size < len)
        return -1;
    guint exp = 0;
    while ((bitrate_bps >> exp) > 0x3FFFF)
        exp++;
    guint32 mantissa = (guint32)(bitrate_bps >> exp);
    header_write(buf, KUMIS_RTCP_PSFB_AFB, KUMIS_RTCP_PSFB, len);
    kumis_put_be32(buf + 4, sender_ssrc);
    kumis_put_be32(buf + 8, 0); /* media SSRC unused, draft §2.2 */
    memcpy(buf + 12, "REMB", 4);
    buf[16] = (guint8)n_ssrcs;
    buf[17] = (guint8)((exp << 2) | (mantissa >> 16));
    kumis_put_be16(buf + 18, (guint16)mantissa);
    for (gsize i = 0; i < n_ssrcs; i++)
        kumis_put_be32(buf + 20 + 4 * i, ssrcs[i]);
    return (gssize)len;
}

/* Symbol of each packet for the feedback (draft §3.1.1): 0 not received, 1 small delta
 * (0..255 ticks), 2 large or negative delta (int16 ticks). Fills @delta in 250 µs ticks.
 * Returns: FALSE when a delta does not fit 16 bits. */
static gboolean twcc_symbols(const struct kumis_twcc_status *status, gsize n, gint64 ref_us,
                             guint8 *symbol, gint32 *delta)
{
    gint64 prev = ref_us;
    for (gsize k = 0; k < n; k++) {
        if (!status[k].received) {
            symbol[k] = 0;
            continue;
        }
        /* Round to the nearest tick relative to the quantised previous time, so errors do
         * not accumulate along the feedback. */
        gint64 diff = status[k].arrival_us - prev;
        gint64 ticks = diff >= 0 ? (diff + 125) / 250 : -((-diff + 125) / 250);
        if (ticks < G_MININT16 || ticks > G_MAXINT16)
            return FALSE;
        symbol[k] = ticks >= 0 && ticks <= 255 ? 1 : 2;
        delta[k] = (gint32)ticks;
        prev += ticks * 250;
    }
    return TRUE;
}

gssize kumis_rtcp_build_twcc(guint8 *buf, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                             const struct kumis_twcc_status *status, gsize n, guint8 fb_count)
{
    if (n == 0 || n > G_MAXUINT16 || size < RTCP_FB_HEADER_LEN + 8)
        return -1;
    gint64 ref_us = 0;
    for (gsize k = 0; k < n; k++) {
        if (status[k].received) {
            /* Reference time: a multiple of 64 ms at or before the first arrival. */
            ref_us = status[k].arrival_us >= 0 ? status[k].arrival_us / 64000
                                               : -((-status[k].arrival_us + 63999) / 64000);
            break;
        }
    }
    gint64 ref = ref_us;
    ref_us = ref * 64000;
    g_autofree guint8 *symbol = g_new(guint8, n);
    g_autofree gint32 *delta = g_new(gint32, n);
    if (!twcc_symbols(status, n, ref_us, symbol, delta))
        return -1; // NOLINT(clang-analyzer-unix.Malloc): g_autofree frees symbol and delta

    gsize i = RTCP_FB_HEADER_LEN + 8;
    for (gsize k = 0; k < n;) {
        gsize run = 1;
        while (k + run < n && symbol[k + run] == symbol[k] && run < 0x1FFF)
            run++;
        if (size - i < 2)
            return -1;
        if (run >= 7) {
            /* Run length chunk: |0|S(2)|length(13)| */
            kumis_put_be16(buf + i, (guint16)((symbol[k] << 13) | run));
            k += run;
        } else {
            /* Status vector chunk with seven 2-bit symbols: |1|1|s0|s1|...|s6| */
            guint16 chunk = 0xC000;
            for (guint s = 0; s < 7 && k < n; s++, k++)
                chunk |= (guint16)(symbol[k] << (12 - 2 * s));
            kumis_put_be16(buf + i, chunk);
        }
        i += 2;
    }
    for (gsize k = 0; k < n; k++) {
        if (symbol[k] == 1) {
            if (size - i < 1)
                return -1;
            buf[i++] = (guint8)delta[k];
        } else if (symbol[k] == 2) {
            if (size - i < 2)
                return -1;
            kumis_put_be16(buf + i, (guint16)(gint16)delta[k]);
            i += 2;
        }
    }
    gsize pad = (4 - i % 4) % 4;
    if (size - i < pad || i + pad > 4 * 65536)
        return -1;
    if (pad > 0) {
        memset(buf + i, 0, pad);
        buf[i + pad - 1] = (guint8)pad;
    }
    gsize len = i + pad;
    header_write(buf, KUMIS_RTCP_RTPFB_TWCC, KUMIS_RTCP_RTPFB, len);
    if (pad > 0)
        buf[0] |= 0x20;
    kumis_put_be32(buf + 4, sender_ssrc);
    kumis_put_be32(buf + 8, media_ssrc);
    kumis_put_be16(buf + 12, status[0].seq);
    kumis_put_be16(buf + 14, (guint16)n);
    kumis_put_be24(buf + 16, (guint32)ref & 0xFFFFFF);
    buf[19] = fb_count;
    return (gssize)len;
}
