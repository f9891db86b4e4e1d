/* kumis — the per-subscriber-track rewriter: the subscriber sees one continuous RTP stream
 * (its own SSRC, sequence numbers, timestamps, VP8 picture IDs) while the source behind it
 * switches (another simulcast layer, another speaker).
 *
 * Within one source, output = source + offset (mod 2^16 for seq, 2^32 for ts), so gaps stay
 * gaps (the subscriber NACKs them, RFC 4585 §6.2.1) and reordered packets map consistently.
 * On a switch the output continues at last seq + 1 and last ts + the wall time elapsed since
 * that ts was sent (RFC 3550 §5.1: ts advances with the sampling clock). Duplicates and
 * packets older than the window, or from before the switch, are dropped. A NACKed output seq
 * maps back to (source SSRC, source seq) for a recent window (the packet cache answers it).
 *
 * The struct is embedded by the caller (no allocation); one media worker owns it; per packet
 * the cost is a few comparisons and writes. Fields are private to rewrite.c. */
#pragma once

#include <glib.h>

#include "media/rtp.h"

#define KUMIS_REWRITE_WINDOW   1024 /* output seqs remembered behind the highest one */
#define KUMIS_REWRITE_SEGMENTS 8    /* source switches remembered for reverse mapping */
/* A source seq this far behind its highest means the source restarted its sequence. */
#define KUMIS_REWRITE_RESTART_DISTANCE 3000

enum kumis_rewrite_codec {
    KUMIS_REWRITE_CODEC_OTHER, /* seq, ts and SSRC only */
    KUMIS_REWRITE_CODEC_VP8,   /* also picture ID and TL0PICIDX, RFC 7741 §4.2 */
    KUMIS_REWRITE_CODEC_VP9,   /* also picture ID and TL0PICIDX, RFC 9628 §4.2 */
};

enum kumis_rewrite_result {
    KUMIS_REWRITE_FORWARD,
    KUMIS_REWRITE_DROP_DUPLICATE, /* this source packet was already forwarded */
    KUMIS_REWRITE_DROP_OLD,       /* behind the window, or from before the last switch */
};

struct kumis_rewrite_segment {
    guint64 out_start_pos; /* position (see out_pos) of its first output seq */
    guint16 seq_offset;    /* output seq - source seq */
    guint32 src_ssrc;
};

struct kumis_rewrite {
    /* configuration */
    guint32 out_ssrc;
    guint32 clock_rate;
    enum kumis_rewrite_codec codec;
    /* the current source */
    gboolean started;
    guint32 src_ssrc;
    guint16 src_first_seq;
    guint16 src_highest_seq;
    guint64 src_count; /* source seqs from src_first_seq to src_highest_seq, both included */
    guint16 seq_offset;
    guint32 ts_offset;
    /* the output stream */
    guint16 out_highest_seq;
    guint64 out_pos; /* out_highest_seq counted without wrapping (first seq is 1) */
    guint32 out_highest_ts;
    gint64 out_highest_ts_wall_us;
    guint64 sent[KUMIS_REWRITE_WINDOW / 64]; /* bit (out seq % WINDOW): forwarded */
    struct kumis_rewrite_segment segments[KUMIS_REWRITE_SEGMENTS];
    guint n_segments;
    guint segment_head; /* index of the newest segment */
    /* VP8 (RFC 7741) and VP9 (RFC 9628): picture ID in 15-bit space, TL0PICIDX in 8-bit space */
    gboolean picid_valid, picid_rebase;
    guint16 picid_offset, out_picid;
    gboolean tl0_valid, tl0_rebase;
    guint8 tl0_offset, out_tl0;
    /* counters, for stats */
    guint64 switches;
    guint64 dropped_duplicate;
    guint64 dropped_old;
};

/* Sets up @rw for an output stream with SSRC @out_ssrc and RTP clock @clock_rate (Hz, e.g.
 * 90000 for video, 48000 for Opus). Cannot fail. */
void kumis_rewrite_init(struct kumis_rewrite *rw, guint32 out_ssrc, guint32 clock_rate,
                        enum kumis_rewrite_codec codec);

/* Maps one source packet to the output stream. A packet whose @src_ssrc differs from the
 * current source's is a switch: the caller feeds only the source it selected (and switches
 * video only at a keyframe, see layer.h). @now_us is a monotonic clock (g_get_monotonic_time).
 * Returns: KUMIS_REWRITE_FORWARD with @out_seq and @out_ts set, or why to drop the packet. */
enum kumis_rewrite_result kumis_rewrite_map(struct kumis_rewrite *rw, guint32 src_ssrc, guint16 seq,
                                            guint32 ts, gint64 now_us, guint16 *out_seq,
                                            guint32 *out_ts);

/* kumis_rewrite_map on packet @data (parsed into @h), then writes the output SSRC, seq and ts
 * in place and, for VP8 and VP9, the picture ID and TL0PICIDX (their width never changes). A
 * payload whose descriptor does not parse is forwarded with only its RTP header rewritten.
 * Returns: as kumis_rewrite_map; on a drop the packet is left unchanged. */
enum kumis_rewrite_result kumis_rewrite_packet(struct kumis_rewrite *rw, guint8 *data, gsize len,
                                               struct kumis_rtp_header *h, gint64 now_us);

/* Reverse map for a NACK from the subscriber: output seq @out_seq to the source packet it
 * stands for, forwarded or lost on the way (gaps map too). Returns: FALSE when @out_seq is
 * ahead of the output, older than KUMIS_REWRITE_WINDOW, or from a source forgotten since. */
gboolean kumis_rewrite_reverse(const struct kumis_rewrite *rw, guint16 out_seq, guint32 *src_ssrc,
                               guint16 *src_seq);
