/* kumis — what we received of one RTP stream, for the report blocks of our receiver reports
 * (RFC 3550 §6.4.1, appendix A.1, A.3, A.8). A publisher's browser lowers what it sends from
 * the loss we report (its loss-based bandwidth estimate): without them a speaker on a weak
 * uplink kept sending more than it could carry. */
#pragma once

#include <glib.h>

#include "media/rtcp.h"

struct kumis_rx_stats {
    gboolean started;
    guint32 ssrc;
    guint16 max_seq;
    guint32 cycles; /* wraps of the sequence number, times 65536 */
    guint32 base_seq;
    guint64 received; /* every packet, late and repeated ones too (RFC 3550 A.3) */
    guint64 expected_prior, received_prior;
    gboolean have_transit;
    gint32 transit;    /* arrival minus RTP timestamp, in RTP units */
    guint32 jitter_q4; /* interarrival jitter times 16 (RFC 3550 A.8) */
};

/* One packet of stream @ssrc with sequence number @seq and RTP timestamp @ts arrived at
 * @arrival_us (monotonic), on a @clock_rate Hz clock. Another SSRC than before (a camera
 * turned off and on again) starts the statistics over. Cannot fail. */
void kumis_rx_stats_update(struct kumis_rx_stats *st, guint32 ssrc, guint16 seq, guint32 ts,
                           gint64 arrival_us, guint32 clock_rate);

/* Fills @rb's SSRC, loss, highest sequence number and jitter (not its LSR or DLSR) and starts
 * the next interval for the fraction lost. Returns: FALSE when nothing was received yet. */
gboolean kumis_rx_stats_report(struct kumis_rx_stats *st, struct kumis_rtcp_report_block *rb);
