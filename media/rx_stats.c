/* kumis — receiver statistics of one RTP stream (see rx_stats.h). */
#include "media/rx_stats.h"

#define CUMULATIVE_MAX 0x7FFFFF /* 24-bit signed on the wire */
#define CUMULATIVE_MIN (-0x800000)
/* A larger step (over 3 minutes at 90 kHz) is a new timeline, not jitter; this also keeps the
 * running sum far from overflowing whatever timestamps a peer sends. */
#define TRANSIT_STEP_MAX (1u << 24)

void kumis_rx_stats_update(struct kumis_rx_stats *st, guint32 ssrc, guint16 seq, guint32 ts,
                           gint64 arrival_us, guint32 clock_rate)
{
    if (!st->started || st->ssrc != ssrc) {
        *st = (struct kumis_rx_stats){.started = TRUE, .ssrc = ssrc};
        st->max_seq = seq;
        st->base_seq = seq;
    }
    st->received++;
    gint16 ahead = (gint16)(guint16)(seq - st->max_seq);
    if (ahead < 0)
        return; /* late or resent: counted, but its arrival says nothing of the jitter */
    if (ahead > 0) {
        if (seq < st->max_seq)
            st->cycles += 65536;
        st->max_seq = seq;
    }
    /* RFC 3550 A.8, in 32-bit RTP units that wrap as the timestamps do. */
    guint32 arrival = (guint32)((guint64)arrival_us * clock_rate / G_USEC_PER_SEC);
    gint32 transit = (gint32)(arrival - ts);
    if (st->have_transit) {
        gint64 d = (gint64)transit - st->transit;
        guint32 ad = (guint32)MIN(d < 0 ? -d : d, (gint64)TRANSIT_STEP_MAX);
        st->jitter_q4 += ad - ((st->jitter_q4 + 8) >> 4);
    }
    st->transit = transit;
    st->have_transit = TRUE;
}

gboolean kumis_rx_stats_report(struct kumis_rx_stats *st, struct kumis_rtcp_report_block *rb)
{
    if (!st->started)
        return FALSE;
    guint32 extended = st->cycles + st->max_seq;
    guint64 expected = (guint64)extended - st->base_seq + 1;
    gint64 lost = (gint64)expected - (gint64)st->received;
    rb->cumulative_lost = (gint32)CLAMP(lost, CUMULATIVE_MIN, CUMULATIVE_MAX);
    gint64 expected_interval = (gint64)(expected - st->expected_prior);
    gint64 lost_interval = expected_interval - (gint64)(st->received - st->received_prior);
    st->expected_prior = expected;
    st->received_prior = st->received;
    rb->fraction_lost = expected_interval <= 0 || lost_interval <= 0
                            ? 0
                            : (guint8)MIN((lost_interval << 8) / expected_interval, 255);
    rb->ssrc = st->ssrc;
    rb->highest_seq = extended;
    rb->jitter = st->jitter_q4 >> 4;
    return TRUE;
}
