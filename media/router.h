/* kumis — the routing table and the packet path (DESIGN §1, §3).
 *
 * A router_source is a published track (one m-line of a publisher's up connection, with up to
 * three simulcast layers); a router_sink is that track as one subscriber receives it (its own
 * SSRC, sequence numbers and timestamps). A router_peer binds both to a participant's
 * transports and demultiplexes their packets.
 *
 * Threads: the control thread creates, links and closes these objects; packets move on the
 * media workers. A source lives on its publisher's worker, a sink on its subscriber's worker.
 * The set of sinks of a source is an immutable snapshot, built on the control thread and
 * installed by the source's worker, so the packet path takes no lock; a packet crosses to
 * another worker once per worker (through that worker's lock-free inbox), never once per
 * subscriber. */
#pragma once

#include <glib.h>

#include "media/transport.h"
#include "media/worker.h"

#define ROUTER_MAX_LAYERS 3

struct router;
struct router_peer;
struct router_source;
struct router_sink;

/* Returns: (transfer full) the router for the workers of @pool (borrowed, outlives it). */
struct router *router_new(struct kumis_worker_pool *pool);
void router_free(struct router *router);

struct router_source_desc {
    const char *publisher_id;
    const char *mid;
    gboolean video;
    guint8 pt;
    int rtx_pt; /* -1: none */
    guint32 clock_rate;
    gboolean vp8, vp9, h264;
    guint8 ext_mid, ext_rid, ext_audio_level; /* 0: not negotiated */
    guint8 ext_rrid;                          /* repaired-rid (RTX), 0: not negotiated */
    guint8 ext_twcc; /* transport-wide sequence number, 0: not negotiated (no feedback) */
    guint n_layers;  /* 1 without simulcast */
    char rids[ROUTER_MAX_LAYERS][16]; /* lowest layer first; "" without simulcast */
    guint32 ssrcs[ROUTER_MAX_LAYERS]; /* from a=ssrc, 0: learned from mid/rid */
};

/* Per-source counters (any thread). */
struct router_source_stats {
    guint64 packets_in, bytes_in, dropped_unknown;
    guint64 nacks_out, repaired; /* NACK packets sent to the publisher; gaps filled later */
    gint64 lost; /* packets lost on the way to us, all layers, as last reported to the publisher */
    guint32 layer_bitrate[ROUTER_MAX_LAYERS]; /* bits per second, over the last second */
    gint audio_level;                         /* last RFC 6464 level, 127 = silence */
};

/* A participant's media on one worker: its up and down transports (either may be NULL). */
struct router_peer *router_peer_new(struct router *router, struct kumis_worker *worker);
/* Stops the peer's timers and routing on its worker and drops the caller's reference. */
void router_peer_free(struct router_peer *peer);
/* References for those (transports' callbacks) that may see packets until they close. */
struct router_peer *router_peer_ref(struct router_peer *peer);
void router_peer_unref(struct router_peer *peer);

/* Control thread: use these transports (references are taken; NULL to drop). */
void router_peer_set_up(struct router_peer *peer, struct kumis_transport *up);
/* Any thread: transport-wide congestion feedback packets sent to the peer as a publisher. */
guint64 router_peer_get_congestion_feedback(const struct router_peer *peer);
void router_peer_set_down(struct router_peer *peer, struct kumis_transport *down);

/* Worker thread: a plaintext packet from the peer's up or down transport. */
void router_peer_on_rtp(struct router_peer *peer, struct kumis_transport *t, guint8 *data,
                        gsize len);
void router_peer_on_rtcp(struct router_peer *peer, struct kumis_transport *t, guint8 *data,
                         gsize len);

/* Control thread: publishes a track of @peer. Returns: (transfer full). */
struct router_source *router_source_new(struct router_peer *peer,
                                        const struct router_source_desc *desc);
/* Control thread: stops forwarding the track (its sinks get nothing more) and drops it. */
void router_source_close(struct router_source *source);
const char *router_source_get_publisher(const struct router_source *source);
const char *router_source_get_mid(const struct router_source *source);
gboolean router_source_is_video(const struct router_source *source);
void router_source_get_stats(const struct router_source *source, struct router_source_stats *stats);

struct router_sink_desc {
    guint32 ssrc;             /* ours, as offered in the down SDP */
    guint8 pt;                /* ours, as offered */
    guint8 ext_abs_send_time; /* 0: not negotiated */
    guint32 rtx_ssrc;         /* RFC 4588 retransmission stream, as offered (0: none) */
    guint8 rtx_pt;            /* its payload type (0: none); used once the answer takes it */
};

/* Control thread: @source goes to @peer's down transport as a new subscriber track; a
 * keyframe is requested. Returns: (transfer full). */
struct router_sink *router_sink_new(struct router_peer *peer, struct router_source *source,
                                    const struct router_sink_desc *desc);
/* Control thread: the subscriber track stops and is dropped. */
void router_sink_close(struct router_sink *sink);
/* What the subscriber asks for: 0 = lowest layer, ROUTER_MAX_LAYERS - 1 = highest, -1 = by
 * bandwidth (auto). Any thread. */
void router_sink_set_max_layer(struct router_sink *sink, int layer);
/* Whether the subscriber's answer accepted the RTX stream of the description: then NACKs are
 * answered on it (RFC 4588), else with the original packets. Any thread. */
void router_sink_set_rtx(struct router_sink *sink, gboolean accepted);
/* Whether the subscriber's answer took the description's codec (its m-line not rejected, the
 * payload type kept): a track its browser cannot decode is not sent at all. Any thread. */
void router_sink_set_accepted(struct router_sink *sink, gboolean accepted);
/* The payload types of the description (rtx: 0 when none). Any thread. */
guint8 router_sink_get_pt(const struct router_sink *sink);
guint8 router_sink_get_rtx_pt(const struct router_sink *sink);

struct router_sink_stats {
    guint64 packets_out, bytes_out, nacks_in, retransmitted, plis_in, layer_switches;
    guint64 keyframe_joins; /* times it started on a keyframe already in flight */
    int layer;
    guint64 bwe_bps;
};
void router_sink_get_stats(const struct router_sink *sink, struct router_sink_stats *stats);
