/* kumis — per-subscriber seq/ts/SSRC/VP8 rewriting across source switches (see rewrite.h). */
#include "media/rewrite.h"

#include <string.h>

#include "media/codec_vp8.h"
#include "media/codec_vp9.h"

#define WINDOW_MASK (KUMIS_REWRITE_WINDOW - 1)

void kumis_rewrite_init(struct kumis_rewrite *rw, guint32 out_ssrc, guint32 clock_rate,
                        enum kumis_rewrite_codec codec)
{
    memset(rw, 0, sizeof(*rw));
    rw->out_ssrc = out_ssrc;
    rw->clock_rate = clock_rate;
    rw->codec = codec;
}

static gboolean sent_test(const struct kumis_rewrite *rw, guint16 out_seq)
{
    guint bit = out_seq & WINDOW_MASK;
    return (rw->sent[bit / 64] >> (bit % 64)) & 1;
}

static void sent_set(struct kumis_rewrite *rw, guint16 out_seq, gboolean value)
{
    guint bit = out_seq & WINDOW_MASK;
    if (value)
        rw->sent[bit / 64] |= G_GUINT64_CONSTANT(1) << (bit % 64);
    else
        rw->sent[bit / 64] &= ~(G_GUINT64_CONSTANT(1) << (bit % 64));
}

/* Moves the output head to @out_seq (ahead of it), forgetting the bits the ring reuses. */
static void out_advance(struct kumis_rewrite *rw, guint16 out_seq)
{
    guint16 steps = (guint16)(out_seq - rw->out_highest_seq);
    if (steps >= KUMIS_REWRITE_WINDOW) {
        memset(rw->sent, 0, sizeof(rw->sent));
    } else {
        for (guint16 i = 1; i <= steps; i++)
            sent_set(rw, (guint16)(rw->out_highest_seq + i), FALSE);
    }
    rw->out_highest_seq = out_seq;
    rw->out_pos += steps;
}

static void out_note_ts(struct kumis_rewrite *rw, guint32 out_ts, gint64 now_us)
{
    if ((gint32)(out_ts - rw->out_highest_ts) > 0) {
        rw->out_highest_ts = out_ts;
        rw->out_highest_ts_wall_us = now_us;
    }
}

/* Starts mapping source @ssrc whose first packet here is (@seq, @ts). */
static void source_begin(struct kumis_rewrite *rw, guint32 ssrc, guint16 seq, guint32 ts,
                         gint64 now_us)
{
    guint16 out_seq;
    guint32 out_ts;
    if (!rw->started) {
        /* The first source keeps its own numbers: any start value is valid (RFC 3550 §5.1). */
        out_seq = seq;
        out_ts = ts;
        rw->started = TRUE;
        rw->out_highest_seq = (guint16)(seq - 1);
        rw->out_highest_ts = ts;
        rw->out_highest_ts_wall_us = now_us;
    } else {
        out_seq = (guint16)(rw->out_highest_seq + 1);
        /* Continue the clock as if the new source had been sampled all along: advance by the
         * wall time since the last timestamp went out, at least one tick so that two frames
         * never share a timestamp. */
        gint64 elapsed_us = now_us - rw->out_highest_ts_wall_us;
        gint64 ticks = elapsed_us > 0 ? elapsed_us * (gint64)rw->clock_rate / G_USEC_PER_SEC : 0;
        out_ts = rw->out_highest_ts + (guint32)MAX(ticks, 1);
        rw->switches++;
    }
    rw->src_ssrc = ssrc;
    rw->src_first_seq = seq;
    rw->src_highest_seq = (guint16)(seq - 1);
    rw->src_count = 0;
    rw->seq_offset = (guint16)(out_seq - seq);
    rw->ts_offset = out_ts - ts;
    rw->segment_head = (rw->segment_head + 1) % KUMIS_REWRITE_SEGMENTS;
    rw->segments[rw->segment_head] = (struct kumis_rewrite_segment){
        .out_start_pos = rw->out_pos + 1, .seq_offset = rw->seq_offset, .src_ssrc = ssrc};
    if (rw->n_segments < KUMIS_REWRITE_SEGMENTS)
        rw->n_segments++;
    rw->picid_rebase = TRUE;
    rw->tl0_rebase = TRUE;
}

enum kumis_rewrite_result kumis_rewrite_map(struct kumis_rewrite *rw, guint32 src_ssrc, guint16 seq,
                                            guint32 ts, gint64 now_us, guint16 *out_seq,
                                            guint32 *out_ts)
{
    if (!rw->started || src_ssrc != rw->src_ssrc)
        source_begin(rw, src_ssrc, seq, ts, now_us);

    gint ahead = (gint16)(guint16)(seq - rw->src_highest_seq);
    if (ahead <= -KUMIS_REWRITE_RESTART_DISTANCE) {
        /* Far behind: the source restarted its sequence (or is hostile). Treat it as a switch
         * to a new source so the output stays continuous. */
        source_begin(rw, src_ssrc, seq, ts, now_us);
        ahead = 1;
    }
    guint16 o = (guint16)(seq + rw->seq_offset);
    if (ahead > 0) {
        out_advance(rw, o);
        rw->src_highest_seq = seq;
        rw->src_count += (guint)ahead;
    } else {
        /* Reordered or repeated. Before the switch point its output seq would collide with
         * the previous source's; beyond the window we no longer know if it went out. */
        if (-ahead >= KUMIS_REWRITE_WINDOW || (guint64)-ahead >= rw->src_count) {
            rw->dropped_old++;
            return KUMIS_REWRITE_DROP_OLD;
        }
        if (sent_test(rw, o)) {
            rw->dropped_duplicate++;
            return KUMIS_REWRITE_DROP_DUPLICATE;
        }
    }
    sent_set(rw, o, TRUE);
    guint32 t = ts + rw->ts_offset;
    out_note_ts(rw, t, now_us);
    *out_seq = o;
    *out_ts = t;
    return KUMIS_REWRITE_FORWARD;
}

/* Moves @highest forward to @value when @value is ahead of it in a @bits-wide space. */
static guint16 serial_advance(guint16 highest, guint16 value, guint bits)
{
    guint16 mask = (guint16)((1u << bits) - 1);
    guint16 delta = (guint16)((value - highest) & mask);
    if (delta != 0 && delta < (1u << (bits - 1)))
        return (guint16)((highest + delta) & 0x7FFF);
    return highest;
}

/* A payload descriptor's picture ID and TL0PICIDX, as VP8 (RFC 7741 §4.2) and VP9 (RFC 9628
 * §4.2) both carry them: the same M-bit field of 7 or 15 bits, and one byte. */
struct picture_fields {
    guint8 *picid; /* NULL: none */
    gboolean picid_15bit;
    guint16 picid_value;
    guint8 *tl0; /* NULL: none */
};

/* Picture IDs and TL0PICIDX must run on across switches as they do in the source, or the
 * receiver's decoder sees frames missing and stalls waiting for them. */
static void picture_rewrite(struct kumis_rewrite *rw, const struct picture_fields *f)
{
    if (f->picid != NULL) {
        guint bits = f->picid_15bit ? 15 : 7;
        guint16 mask = (guint16)((1u << bits) - 1);
        guint16 in = f->picid_value;
        if (rw->picid_rebase || !rw->picid_valid) {
            guint16 first = rw->picid_valid ? (guint16)(rw->out_picid + 1) : in;
            rw->picid_offset = (guint16)((first - in) & 0x7FFF);
            if (!rw->picid_valid)
                rw->out_picid = (guint16)((first - 1) & 0x7FFF);
            rw->picid_valid = TRUE;
            rw->picid_rebase = FALSE;
        }
        guint16 out = (guint16)((in + rw->picid_offset) & mask);
        rw->out_picid = serial_advance(rw->out_picid, out, bits);
        kumis_picture_id_write(f->picid, f->picid_15bit, out);
    }
    if (f->tl0 != NULL) {
        guint8 in = *f->tl0;
        if (rw->tl0_rebase || !rw->tl0_valid) {
            guint8 first = rw->tl0_valid ? (guint8)(rw->out_tl0 + 1) : in;
            rw->tl0_offset = (guint8)(first - in);
            if (!rw->tl0_valid)
                rw->out_tl0 = (guint8)(first - 1);
            rw->tl0_valid = TRUE;
            rw->tl0_rebase = FALSE;
        }
        guint8 out = (guint8)(in + rw->tl0_offset);
        if ((gint8)(guint8)(out - rw->out_tl0) > 0)
            rw->out_tl0 = out;
        *f->tl0 = out;
    }
}

static void payload_rewrite(struct kumis_rewrite *rw, guint8 *payload, gsize len)
{
    struct picture_fields f = {0};
    if (rw->codec == KUMIS_REWRITE_CODEC_VP8) {
        struct kumis_vp8_descriptor d;
        if (!kumis_vp8_parse(payload, len, &d))
            return;
        f = (struct picture_fields){d.has_picture_id ? payload + d.picture_id_offset : NULL,
                                    d.picture_id_15bit, d.picture_id,
                                    d.has_tl0picidx ? payload + d.tl0picidx_offset : NULL};
    } else if (rw->codec == KUMIS_REWRITE_CODEC_VP9) {
        struct kumis_vp9_descriptor d;
        if (!kumis_vp9_parse(payload, len, &d))
            return;
        f = (struct picture_fields){d.has_picture_id ? payload + d.picture_id_offset : NULL,
                                    d.picture_id_15bit, d.picture_id,
                                    d.has_tl0picidx ? payload + d.tl0picidx_offset : NULL};
    } else {
        return;
    }
    picture_rewrite(rw, &f);
}

enum kumis_rewrite_result kumis_rewrite_packet(struct kumis_rewrite *rw, guint8 *data, gsize len,
                                               struct kumis_rtp_header *h, gint64 now_us)
{
    guint16 out_seq;
    guint32 out_ts;
    enum kumis_rewrite_result r =
        kumis_rewrite_map(rw, h->ssrc, h->seq, h->timestamp, now_us, &out_seq, &out_ts);
    if (r != KUMIS_REWRITE_FORWARD)
        return r;
    kumis_rtp_set_seq(data, h, out_seq);
    kumis_rtp_set_timestamp(data, h, out_ts);
    kumis_rtp_set_ssrc(data, h, rw->out_ssrc);
    if (h->payload_offset + h->payload_len <= len)
        payload_rewrite(rw, data + h->payload_offset, h->payload_len);
    return KUMIS_REWRITE_FORWARD;
}

gboolean kumis_rewrite_reverse(const struct kumis_rewrite *rw, guint16 out_seq, guint32 *src_ssrc,
                               guint16 *src_seq)
{
    if (!rw->started)
        return FALSE;
    gint behind = (gint16)(guint16)(rw->out_highest_seq - out_seq);
    if (behind < 0 || behind >= KUMIS_REWRITE_WINDOW || (guint64)behind >= rw->out_pos)
        return FALSE;
    guint64 pos = rw->out_pos - (guint64)behind;
    /* Newest segment first: the first one that starts at or before @out_seq covers it. */
    for (guint k = 0; k < rw->n_segments; k++) {
        guint idx = (rw->segment_head + KUMIS_REWRITE_SEGMENTS - k) % KUMIS_REWRITE_SEGMENTS;
        const struct kumis_rewrite_segment *s = &rw->segments[idx];
        if (s->out_start_pos <= pos) {
            *src_ssrc = s->src_ssrc;
            *src_seq = (guint16)(out_seq - s->seq_offset);
            return TRUE;
        }
    }
    return FALSE;
}
