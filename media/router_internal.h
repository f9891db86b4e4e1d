/* kumis — the router's objects, shared by router.c (routing table, packet path) and
 * router_rtcp.c (RTCP); not part of the module's API (use router.h). Which thread owns which
 * field is noted beside it (see router.h for the threading rules). */
#pragma once

#include <glib.h>
#include <stdatomic.h>

#include "media/inbox.h"
#include "media/keyframe_run.h"
#include "media/layer.h"
#include "media/rewrite.h"
#include "media/rx_stats.h"
#include "media/router.h"

#define PACKET_MAX 1500
#define BUF_ROOM   (PACKET_MAX + 64) /* room for our header extension and the SRTP tag */

struct kumis_bursts;

/* What one worker handed to another and has not woken it for (router_batch.c). */
struct handover {
    gint64 due_us; /* wake the other worker by then; -1: nothing waits unwoken */
    guint waiting; /* packets handed since the last wake */
};

struct router_worker {
    struct router *router;
    struct kumis_worker *worker;
    struct inbox inbox;
    GSource *drain;
    GPtrArray *peers; /* worker: the peers the tick sends RTCP for (references) */
    GSource *tick;    /* RTCP every second for all the worker's peers: one source, not one each */
    /* worker: video packets waiting for the end of their frame (media/burst.h) */
    struct kumis_bursts *bursts;
    guint index;               /* in the router's workers */
    struct handover *handover; /* worker: [n_workers], by receiving worker's index */
    guint n_handover;
};

/* One subscriber list per worker; an immutable snapshot of a source's subscribers. */
struct sink_group {
    struct router_worker *rw;
    GPtrArray *sinks; /* struct router_sink* (a reference each) */
};

struct sink_set {
    atomic_int refs;
    const void *owner; /* the source it lists the subscribers of (compared, never followed) */
    gboolean video;
    guint n_groups;
    struct sink_group groups[];
};

/* Returns: (transfer none) the router's state for worker @index. */
struct router_worker *router_worker_at(struct router *r, guint index);

struct sink_set *router_set_ref(struct sink_set *set);
void router_set_unref(struct sink_set *set);

/* Upstream repair (router_repair.c): the publisher's packets a layer is missing. */
#define REPAIR_MISSING_MAX 64

struct repair_missing {
    guint16 seq;
    guint8 tries;     /* NACKs sent for it */
    gint64 since_us;  /* when the gap was seen */
    gint64 nacked_us; /* the last NACK */
};

struct layer {
    char rid[16];
    atomic_uint ssrc;     /* 0 until known */
    atomic_uint rtx_ssrc; /* the publisher's RTX stream repairing it, 0 until known */
    gboolean seq_started; /* worker: upstream repair */
    guint16 highest_seq;  /* worker */
    struct repair_missing missing[REPAIR_MISSING_MAX]; /* worker, oldest first */
    guint n_missing;                                   /* worker */
    guint64 window_bytes;                              /* worker */
    struct kumis_rx_stats rx;     /* worker: for the report blocks of our RRs to the publisher */
    atomic_llong reported_lost;   /* the cumulative loss in our last report block */
    atomic_uint bitrate;          /* bits/s over the last second */
    atomic_llong last_packet_us;  /* monotonic */
    gint64 last_keyframe_request; /* worker */
    gboolean keyframe_deferred;   /* worker: a request inside the gap waits for its end */
    /* The publisher's last sender report on this layer's SSRC: written by the source's worker,
     * read by the sinks' workers for their own SRs (router_sr_translate). A sequence lock:
     * sr_lock is odd while the fields change. */
    atomic_uint sr_lock;
    atomic_ullong sr_ntp;       /* NTP 32.32 */
    atomic_uint sr_rtp;         /* RTP timestamp of the same instant */
    atomic_llong sr_arrival_us; /* monotonic; 0: none yet */
    atomic_uint sr_ssrc;        /* the stream it describes */
};

/* The moment a sender report describes: an NTP time (32.32) and the RTP timestamp of that
 * instant, seen by us at @arrival_us (monotonic). */
struct router_sr_point {
    guint32 ssrc;
    guint64 ntp;
    guint32 rtp;
    gint64 arrival_us;
};

/* The NTP and RTP timestamps of a subscriber's SR at @now_us, from the publisher's last SR
 * @pub for the source the subscriber's track now carries (@ts_offset: output timestamp minus
 * source timestamp, as rewrite.h keeps it; @clock_rate in Hz), both moved on by the time since
 * that SR arrived. Browsers sync a speaker's audio and video by these pairs (RFC 3550 §6.4.1):
 * taken from the publisher's own capture clock, they stay right however differently the audio
 * and the video were delayed on their way to us. */
void router_sr_translate(const struct router_sr_point *pub, guint32 ts_offset, guint32 clock_rate,
                         gint64 now_us, guint64 *ntp, guint32 *rtp);

struct router_source {
    atomic_int refs;
    struct router_peer *peer; /* the publisher (reference) */
    struct router_source_desc d;
    char publisher_id[32];
    char mid[32];
    struct layer layers[ROUTER_MAX_LAYERS];
    struct sink_set *set; /* the source's worker only */
    atomic_bool closed;
    atomic_ullong packets_in, bytes_in, dropped_unknown;
    atomic_ullong nacks_out, repaired; /* NACK packets to the publisher; gaps filled later */
    atomic_int audio_level;
    GPtrArray *sinks_ctl; /* control thread: struct router_sink* (borrowed) */
    /* Video: the keyframe in flight per worker and layer (media/keyframe_run.h), row
     * [worker index][layer]; each worker touches its own row only. NULL for audio. */
    struct kumis_keyframe_run *runs;
    guint n_runs;
};

struct router_sink {
    atomic_int refs;
    struct router_peer *peer; /* the subscriber (reference) */
    struct router_source *source;
    struct kumis_transport *down;
    struct router_sink_desc d;
    struct kumis_rewrite rw;            /* sink worker */
    struct kumis_packet_cache *cache;   /* sink worker; video only */
    int cur_layer;                      /* sink worker; -1 until the first keyframe */
    struct kumis_layer_selector layers; /* sink worker: which simulcast layer, and when */
    gint64 layers_updated_us;           /* sink worker */
    atomic_int max_layer;               /* -1: auto */
    atomic_bool rtx_on;                 /* the answer took d.rtx_pt */
    guint16 rtx_seq;                    /* sink worker: next RTX sequence number */
    atomic_bool closed;
    atomic_bool refused; /* the answer left the codec out: nothing is sent */
    atomic_ullong packets_out, bytes_out, nacks_in, retransmitted, plis_in, switches;
    atomic_ullong keyframe_joins; /* started on a keyframe already in flight */
    atomic_ullong bwe_bps;
    atomic_int layer_now;
    struct kumis_loss_estimator loss; /* sink worker: loss over its receiver reports */
    int loss_layer;                   /* sink worker: the layer that loss was measured on */
    atomic_llong congested_until_us;  /* sustained loss: hold a lower layer until then */
    atomic_llong delay_until_us;      /* REMB fell (delay-based overuse): obey it until then */
    atomic_int congested_layer;
};

/* Transport-wide CC feedback to a publisher (router_twcc.c): the arrival times of the
 * transport-wide sequence numbers base .. base + n - 1 (0: not arrived). */
#define ROUTER_TWCC_WINDOW 256

struct router_twcc {
    gboolean started;
    guint16 base;
    guint n;
    gint64 arrival_us[ROUTER_TWCC_WINDOW];
    gint64 last_sent_us;
    guint8 fb_count;
};

/* An SSRC a publisher's packets were matched by (mid, rid): remembered past the source, since
 * a browser stops sending the mid and rid extensions once our receiver reports acknowledged
 * the SSRC, and sends the very same SSRC again when the track comes back (camera off and on
 * again: a new source, packets without mid or rid). */
#define ROUTER_LEARNED_MAX 16

struct router_learned {
    guint32 ssrc;
    char mid[32];
    char rid[16];
};

struct router_peer {
    atomic_int refs;
    struct router *router;
    struct router_worker *rw;
    struct kumis_transport *up, *down;  /* control thread sets; references */
    GPtrArray *sources_ctl, *sinks_ctl; /* control thread, borrowed */
    GPtrArray *sources, *sinks;         /* worker snapshots (references) */
    guint32 rtcp_ssrc;                  /* our SSRC as RTCP sender towards this peer */
    struct router_twcc twcc;            /* worker: feedback on what it publishes */
    atomic_ullong twcc_sent;            /* feedback packets sent */
    struct router_learned learned[ROUTER_LEARNED_MAX]; /* worker, a ring */
    guint n_learned;                                   /* worker: ever added */
};

/* Any thread: asks @s's publisher for a keyframe of @layer (a PLI sent from the source's
 * worker, throttled per layer); nothing for audio. Takes its own reference to @s. */
void router_source_request_keyframe(struct router_source *s, int layer);

/* Source worker: a publisher's packet of @s's @layer with sequence number @seq arrived (new,
 * late or resent): notes the gaps before it and sends NACKs (RFC 4585 §6.2.1) to the
 * publisher for what is missing and due, so that what its network lost reaches subscribers
 * late instead of never. Video only. */
void router_source_repair(struct router_source *s, int layer, guint16 seq, gint64 now);

/* Source worker: the source of @peer (a publisher) whose layer has learnt @ssrc, and that layer
 * in @layer; NULL when none has. */
struct router_source *router_peer_source_by_ssrc(struct router_peer *peer, guint32 ssrc,
                                                 int *layer);

/* Source worker: notes the arrival of a publisher's packet (any: media, RTX, padding) by its
 * transport-wide sequence number and sends the publisher feedback every 50 ms
 * (router_twcc.c). Nothing when the extension was not negotiated. */
void router_twcc_on_packet(struct router_peer *peer, const guint8 *data,
                           const struct kumis_rtp_header *h, gint64 now);

/* Source worker: if @data (parsed into @h) is an RTX packet (RFC 4588) of one of @peer's
 * sources, turns it back into the packet it repairs, in place (@len and @h updated), and sets
 * @source and @layer. Returns: 1 for an unwrapped packet, 0 when it is not RTX, -1 for RTX to
 * drop (a padding-only bandwidth probe, or a stream not known yet). */
int router_repair_unwrap_rtx(struct router_peer *peer, guint8 *data, gsize *len,
                             struct kumis_rtp_header *h, struct router_source **source, int *layer);

/* Worker of @data (a struct router_peer, as a kumis_worker_invoke() callback): adds the peer
 * (a reference) to its worker's once-a-second RTCP. Returns: G_SOURCE_REMOVE. */
gboolean router_peer_start_rtcp(gpointer data);

/* @data is a struct router_worker: its once-a-second RTCP tick. */
gboolean router_worker_on_tick(gpointer data);

struct kumis_packet_body;
struct kumis_rtp_header;

/* Sink worker: forwards one source packet (@data, held by @body for the subscriber's NACK
 * cache; @body NULL: not cached) to one subscriber at @now (monotonic µs), with @pad bytes of
 * RTP padding (kumis_burst_pads; the cache keeps it unpadded); @flush sends its queued burst
 * right after (else the burst leaves at a video marker, media/sender.h). */
void router_sink_forward(struct router_sink *sink, int layer, gboolean keyframe,
                         struct kumis_packet_body *body, const guint8 *data,
                         const struct kumis_rtp_header *h, guint pad, gboolean flush, gint64 now);

/* Sink worker: the layer the subscriber should get now (re-evaluated when due), -1 none. */
int router_sink_target_layer(struct router_sink *sink, gint64 now);

/* Worker @worker (its index): the keyframe run of @s's @layer that worker keeps. */
struct kumis_keyframe_run *router_source_run(struct router_source *s, guint worker, int layer);

/* Sink worker, in a loop over @sinks before forwarding to sinks[@i]: asks the processor for
 * what the next subscribers' packets will read (a hint: sinks[@i + 5] itself, the transport and
 * NACK cache of sinks[@i + 4], the SRTP session and cache slots of sinks[@i + 3], the SRTP keys
 * and per-SSRC table of sinks[@i + 2], the cipher context and SSRC states of sinks[@i + 1],
 * each from what an earlier call fetched), so that those loads overlap with the work on this
 * one instead of each stalling in turn. Measured at fanout N = 100 before: the first load of a
 * subscriber's sink and of its transport were most of router_sink_forward()'s and
 * kumis_transport_get_state()'s time (perf annotate). */
void router_sinks_prefetch(GPtrArray *sinks, guint i);

/* Sets up @rw's inbox and the drain source that empties it, its bursts, and its hand-over state
 * towards each of the @n_workers (router_new). */
void router_batch_init(struct router_worker *rw, guint n_workers);

/* Worker @rw: a video packet of @set's source for the subscribers in group @group (@rw's).
 * Packets wait for their frame's last (RTP marker) or a few milliseconds, then go out
 * subscriber by subscriber: each subscriber's state (rewriting, SRTP, send queue, NACK cache)
 * is then touched once per burst, not once per packet. Takes references to @set and @body. */
void router_batch_add(struct router_worker *rw, struct sink_set *set, guint group,
                      struct kumis_packet_body *body, int layer, gboolean keyframe,
                      const struct kumis_rtp_header *h);

/* Source worker @from: a copy of one packet (@data, @len; @h parsed from it) for the
 * subscribers of @set in @group, whose worker is another, goes to that worker's inbox. That
 * worker is woken when the packet ends a burst (audio, a frame's marker), when a burst's worth
 * is waiting, or KUMIS_BURST_HOLD_US after the first unwoken packet (@from's drain keeps that
 * deadline): it would only hold a frame's packets until the marker anyway (media/burst.h), and
 * each wake-up costs the receiving worker a trip through poll() and the scheduler. */
void router_handover_packet(struct router_worker *from, struct sink_set *set, guint group,
                            int layer, gboolean keyframe, const guint8 *data, gsize len,
                            const struct kumis_rtp_header *h, gint64 now);

/* Drops every waiting packet unsent and the drain (teardown, once the workers stopped). */
void router_batch_clear(struct router_worker *rw);
