/* kumis — a worker's video packets held per track until the end of their burst, then handed on
 * together.
 *
 * A burst is a video frame's packets: it ends at the RTP marker, or KUMIS_BURST_HOLD_US after
 * its first packet (the marker was lost or is late), or at KUMIS_BURST_MAX packets (a keyframe
 * goes in several). The router then forwards a burst subscriber by subscriber, so that each
 * subscriber's state is loaded once per burst instead of once per packet (router_batch.c).
 *
 * A burst belongs to a key (the router's snapshot of a track's subscribers, reference counted
 * through the funcs) and an owner (the track): a packet under a new key of the same owner
 * flushes what waits under the old one first, so nothing is reordered and each packet goes to
 * the subscribers it was meant for. Pure: no clock and no main loop (the caller passes the
 * time and arms its own timer at kumis_bursts_deadline()); not thread-safe (one worker). */
#pragma once

#include <glib.h>

#include "media/packet_cache.h"
#include "media/rtp.h"

#define KUMIS_BURST_MAX     16
#define KUMIS_BURST_HOLD_US 10000

struct kumis_burst_packet {
    struct kumis_packet_body *body; /* the packet (the burst's reference) */
    struct kumis_rtp_header h;      /* parsed from it */
    int layer;
    gboolean keyframe;
};

struct kumis_bursts_funcs {
    void *(*key_ref)(void *key);
    void (*key_unref)(void *key);
    /* The @n packets of a burst of @key (group @group), in arrival order; @cut_short: it ended
     * without its marker. The packets are released after the call. */
    void (*flush)(void *user_data, void *key, guint group, const struct kumis_burst_packet *packets,
                  guint n, gboolean cut_short);
};

/* RTP padding (RFC 3550 §5.1) that lets a burst's packets of one layer leave as one UDP GSO
 * message to each subscriber (media/sender.h: datagrams of one size, the last may be shorter).
 * Browsers cut a frame's payload about equally, so its packets differ by a byte, the longer
 * ones last, and without padding a frame took two messages. Each packet but the layer's last
 * in the burst that is at most KUMIS_BURST_PAD_MAX bytes shorter than the layer's longest is
 * padded to it; the rest (a shorter last packet, an odd one) as they are. */
#define KUMIS_BURST_PAD_MAX 8

/* Writes the padding (bytes) for each of the @n packets to @pads. */
void kumis_burst_pads(const struct kumis_burst_packet *packets, guint n, guint8 *pads);

struct kumis_bursts;

/* Returns: (transfer full) an empty set of bursts calling @funcs (kept, not copied) with
 * @user_data. */
struct kumis_bursts *kumis_bursts_new(const struct kumis_bursts_funcs *funcs, void *user_data);

/* Frees @bursts; what waits is dropped unsent. NULL is allowed. */
void kumis_bursts_free(struct kumis_bursts *bursts);

/* Adds a packet (@body, a reference is taken; @h parsed from it) of @owner's track for @key's
 * subscribers in @group, at @now_us. Flushes its burst when @h has the marker or the burst is
 * full, and first any burst of @owner under another key. */
void kumis_bursts_add(struct kumis_bursts *bursts, void *key, const void *owner, guint group,
                      struct kumis_packet_body *body, const struct kumis_rtp_header *h, int layer,
                      gboolean keyframe, gint64 now_us);

/* Flushes (cut short) the bursts whose hold ended at or before @now_us. */
void kumis_bursts_flush_due(struct kumis_bursts *bursts, gint64 now_us);

/* Returns: when the earliest waiting burst's hold ends (monotonic µs), or -1 when none waits. */
gint64 kumis_bursts_deadline(const struct kumis_bursts *bursts);
