/* kumis — the router's RTCP (see router.h): what subscribers report on their down connection
 * (NACKs answered from the packet cache, receiver reports, PLI/FIR, REMB) and the reports sent
 * once a second (RR and REMB to publishers, SR to subscribers). */
#include "media/router_internal.h"

#include "media/packet_cache.h"
#include "media/rtcp.h"

#define UPSTREAM_REMB_BPS  6000000 /* the most we let publishers send */
#define CONGESTION_HOLD_US 8000000 /* after loss, stay below that layer this long */

/* RTCP from subscribers ---------------------------------------------------------------- */

/* Sink worker: answers a NACK from the packets this subscriber was sent (RFC 4585 §6.2.1), on
 * the RTX stream when the subscriber took it (RFC 4588: its receiver then tells resent packets
 * from late ones, for its statistics and its bandwidth estimate), else as sent before. */
static void sink_answer_nack(struct router_sink *sink, const guint16 *seqs, gssize n)
{
    atomic_fetch_add(&sink->nacks_in, 1);
    gboolean rtx = atomic_load(&sink->rtx_on);
    for (gssize i = 0; sink->cache && i < n; i++) {
        guint8 buf[BUF_ROOM];
        gssize len = kumis_packet_cache_copy(sink->cache, seqs[i], buf, PACKET_MAX);
        if (len <= 0)
            continue;
        gsize out = (gsize)len;
        struct kumis_rtp_header h;
        if (rtx && kumis_rtp_parse(buf, out, &h))
            out = kumis_rtp_to_rtx(buf, out, PACKET_MAX + 2, &h, sink->d.rtx_pt, sink->d.rtx_ssrc,
                                   sink->rtx_seq++);
        if (out > 0 && kumis_transport_send_rtp(sink->down, buf, out, sizeof buf))
            atomic_fetch_add(&sink->retransmitted, 1);
    }
}

/* Sink worker: a receiver report block about one of our tracks (RFC 3550 §6.4.1). One
 * report's fraction lost is noise (Chromium reports every ~250 ms on a few dozen packets: with
 * 5 % random loss one in ten says 10-32 %), so the loss counted is the estimator's, over 2 s
 * of reports and at least 100 packets, from the cumulative counts (which fall back as our
 * retransmissions arrive); above 10 % the forwarded layer does not fit. */
static void sink_on_report(struct router_sink *sink, const struct kumis_rtcp_report_block *rb)
{
    if (!sink->source->d.video)
        return;
    gint64 now = g_get_monotonic_time();
    gboolean congested =
        kumis_loss_estimator_on_report(&sink->loss, rb->highest_seq, rb->cumulative_lost, now);
    if (sink->cur_layer != sink->loss_layer) {
        /* Another layer is forwarded now: what was lost on the old one says nothing of it. */
        kumis_loss_estimator_restart(&sink->loss);
        sink->loss_layer = sink->cur_layer;
        return;
    }
    if (!congested || sink->cur_layer < 0)
        return;
    /* Acted on: the next verdict needs a window of losses of its own. */
    kumis_loss_estimator_restart(&sink->loss);
    /* Lower the ceiling below the layer that lost, once per hold period. */
    if (now >= atomic_load(&sink->congested_until_us) ||
        sink->cur_layer < atomic_load(&sink->congested_layer))
        atomic_store(&sink->congested_layer, sink->cur_layer);
    atomic_store(&sink->congested_until_us, now + CONGESTION_HOLD_US);
}

static struct router_sink *peer_sink_by_ssrc(struct router_peer *peer, guint32 ssrc)
{
    for (guint i = 0; peer->sinks && i < peer->sinks->len; i++) {
        struct router_sink *s = g_ptr_array_index(peer->sinks, i);
        if (s->d.ssrc == ssrc)
            return s;
    }
    return NULL;
}

/* REMB (draft-alvestrand-rmcat-remb) is for the whole down connection: share it among the
 * video tracks. */
static void peer_apply_remb(struct router_peer *peer, guint64 bps)
{
    guint videos = 0;
    for (guint i = 0; peer->sinks && i < peer->sinks->len; i++)
        videos += ((struct router_sink *)g_ptr_array_index(peer->sinks, i))->source->d.video;
    for (guint i = 0; peer->sinks && i < peer->sinks->len; i++) {
        struct router_sink *s = g_ptr_array_index(peer->sinks, i);
        if (s->source->d.video) {
            guint64 share = bps / MAX(videos, 1);
            guint64 before = atomic_exchange(&s->bwe_bps, share);
            if (share < before * 9 / 10)
                atomic_store(&s->delay_until_us, g_get_monotonic_time() + CONGESTION_HOLD_US);
        }
    }
}

/* Sink worker: RTCP from a subscriber's down connection. */
static void peer_down_rtcp(struct router_peer *peer, const guint8 *data, gsize len)
{
    struct kumis_rtcp_iter it;
    struct kumis_rtcp_packet p;
    kumis_rtcp_iter_init(&it, data, len);
    while (kumis_rtcp_iter_next(&it, &p) == 1) {
        struct kumis_rtcp_fb fb;
        if (p.type == KUMIS_RTCP_RR || p.type == KUMIS_RTCP_SR) {
            struct kumis_rtcp_rr rr;
            struct kumis_rtcp_sr sr;
            const struct kumis_rtcp_report_block *blocks = NULL;
            guint n = 0;
            if (p.type == KUMIS_RTCP_RR && kumis_rtcp_rr_parse(&p, &rr)) {
                blocks = rr.reports;
                n = rr.n_reports;
            } else if (p.type == KUMIS_RTCP_SR && kumis_rtcp_sr_parse(&p, &sr)) {
                blocks = sr.reports;
                n = sr.n_reports;
            }
            for (guint i = 0; i < n; i++) {
                struct router_sink *s = peer_sink_by_ssrc(peer, blocks[i].ssrc);
                if (s)
                    sink_on_report(s, &blocks[i]);
            }
        } else if (p.type == KUMIS_RTCP_RTPFB && p.count == KUMIS_RTCP_RTPFB_NACK) {
            guint16 seqs[128];
            guint32 media_ssrc = 0;
            gssize n = kumis_rtcp_nack_parse(&p, &media_ssrc, seqs, G_N_ELEMENTS(seqs));
            struct router_sink *s = n > 0 ? peer_sink_by_ssrc(peer, media_ssrc) : NULL;
            if (s)
                sink_answer_nack(s, seqs, n);
        } else if (p.type == KUMIS_RTCP_PSFB && kumis_rtcp_fb_parse(&p, &fb)) {
            if (fb.fmt == KUMIS_RTCP_PSFB_PLI || fb.fmt == KUMIS_RTCP_PSFB_FIR) {
                guint32 ssrc = fb.media_ssrc;
                struct kumis_rtcp_fir_entry fir[4];
                guint32 fir_sender = 0;
                if (fb.fmt == KUMIS_RTCP_PSFB_FIR &&
                    kumis_rtcp_fir_parse(&p, &fir_sender, fir, 4) > 0)
                    ssrc = fir[0].ssrc;
                struct router_sink *s = peer_sink_by_ssrc(peer, ssrc);
                if (s) {
                    atomic_fetch_add(&s->plis_in, 1);
                    router_source_request_keyframe(s->source, MAX(s->cur_layer, 0));
                }
            } else if (fb.fmt == KUMIS_RTCP_PSFB_AFB) {
                struct kumis_rtcp_remb remb;
                if (kumis_rtcp_remb_parse(&p, &remb))
                    peer_apply_remb(peer, remb.bitrate_bps);
            }
        }
    }
}

/* RTCP from publishers ------------------------------------------------------------------ */

/* Source worker: keeps the publisher's sender reports, for the SRs of its subscribers. What
 * else publishers send is not needed: what they lost we learn from the sequence numbers
 * (router_repair.c). */
static void peer_up_rtcp(struct router_peer *peer, const guint8 *data, gsize len, gint64 now)
{
    struct kumis_rtcp_iter it;
    struct kumis_rtcp_packet p;
    kumis_rtcp_iter_init(&it, data, len);
    while (kumis_rtcp_iter_next(&it, &p) == 1) {
        struct kumis_rtcp_sr sr;
        if (p.type != KUMIS_RTCP_SR || !kumis_rtcp_sr_parse(&p, &sr))
            continue;
        int layer;
        struct router_source *source = router_peer_source_by_ssrc(peer, sr.ssrc, &layer);
        if (source == NULL)
            continue;
        struct layer *l = &source->layers[layer];
        atomic_fetch_add_explicit(&l->sr_lock, 1, memory_order_acq_rel);
        atomic_store_explicit(&l->sr_ntp, (guint64)sr.ntp_sec << 32 | sr.ntp_frac,
                              memory_order_relaxed);
        atomic_store_explicit(&l->sr_rtp, sr.rtp_timestamp, memory_order_relaxed);
        atomic_store_explicit(&l->sr_arrival_us, now, memory_order_relaxed);
        atomic_store_explicit(&l->sr_ssrc, sr.ssrc, memory_order_relaxed);
        atomic_fetch_add_explicit(&l->sr_lock, 1, memory_order_release);
    }
}

/* Any thread: the last SR of @l. Returns: FALSE when there is none yet. */
static gboolean layer_read_sr(struct layer *l, struct router_sr_point *out)
{
    for (int tries = 0; tries < 8; tries++) {
        guint before = atomic_load_explicit(&l->sr_lock, memory_order_acquire);
        if (before & 1)
            continue;
        out->ntp = atomic_load_explicit(&l->sr_ntp, memory_order_relaxed);
        out->rtp = atomic_load_explicit(&l->sr_rtp, memory_order_relaxed);
        out->arrival_us = atomic_load_explicit(&l->sr_arrival_us, memory_order_relaxed);
        out->ssrc = atomic_load_explicit(&l->sr_ssrc, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&l->sr_lock, memory_order_relaxed) == before)
            return out->arrival_us != 0;
    }
    return FALSE;
}

void router_peer_on_rtcp(struct router_peer *peer, struct kumis_transport *t, guint8 *data,
                         gsize len)
{
    if (t == peer->down)
        peer_down_rtcp(peer, data, len);
    else if (t == peer->up)
        peer_up_rtcp(peer, data, len, g_get_monotonic_time());
}

/* RTCP every second ---------------------------------------------------------------------- */

static void ntp_now(guint32 *sec, guint32 *frac)
{
    /* RFC 3550 §4: NTP time, seconds since 1900. */
    gint64 us = g_get_real_time();
    *sec = (guint32)(us / G_USEC_PER_SEC + 2208988800LL);
    *frac = (guint32)(((guint64)(us % G_USEC_PER_SEC) << 32) / G_USEC_PER_SEC);
}

/* Towards a publisher: a receiver report with a block per stream (what we lost of it, RFC 3550
 * §6.4.1: its loss-based bandwidth estimate and its RTT come from them) and REMB for its video
 * layers, as a ceiling high enough to let every simulcast layer through; its delay-based
 * estimate comes from our transport-wide feedback (router_twcc.c). */
static void peer_rtcp_up(struct router_peer *peer)
{
    guint32 ssrcs[16];
    gsize n = 0;
    struct kumis_rtcp_rr rr = {.ssrc = peer->rtcp_ssrc, .n_reports = 0};
    gint64 now = g_get_monotonic_time();
    for (guint i = 0; peer->sources && i < peer->sources->len; i++) {
        struct router_source *s = g_ptr_array_index(peer->sources, i);
        for (guint l = 0; l < s->d.n_layers; l++) {
            struct layer *ly = &s->layers[l];
            atomic_store(&ly->bitrate, (guint)MIN(ly->window_bytes * 8, G_MAXUINT));
            ly->window_bytes = 0;
            guint32 ssrc = atomic_load(&ly->ssrc);
            if (ssrc && s->d.video && n < G_N_ELEMENTS(ssrcs))
                ssrcs[n++] = ssrc;
            if (ssrc == 0 || rr.n_reports >= KUMIS_RTCP_MAX_REPORTS)
                continue;
            struct kumis_rtcp_report_block *rb = &rr.reports[rr.n_reports];
            if (!kumis_rx_stats_report(&ly->rx, rb))
                continue;
            atomic_store_explicit(&ly->reported_lost, rb->cumulative_lost, memory_order_relaxed);
            struct router_sr_point sr;
            if (layer_read_sr(ly, &sr) && sr.ssrc == rb->ssrc) {
                rb->lsr = (guint32)(sr.ntp >> 16);
                rb->dlsr = (guint32)(MAX(now - sr.arrival_us, 0) * 65536 / G_USEC_PER_SEC);
            }
            rr.n_reports++;
        }
    }
    if (peer->up == NULL || kumis_transport_get_state(peer->up) != KUMIS_TRANSPORT_READY)
        return;
    guint8 buf[1024];
    gssize a = kumis_rtcp_build_rr(buf, 900, &rr);
    gssize b = a > 0 && n ? kumis_rtcp_build_remb(buf + a, 900 - (gsize)a, peer->rtcp_ssrc,
                                                  UPSTREAM_REMB_BPS, ssrcs, n)
                          : 0;
    if (a > 0 && b >= 0)
        kumis_transport_send_rtcp(peer->up, buf, (gsize)(a + b), sizeof buf);
}

void router_sr_translate(const struct router_sr_point *pub, guint32 ts_offset, guint32 clock_rate,
                         gint64 now_us, guint64 *ntp, guint32 *rtp)
{
    gint64 since = MAX(now_us - pub->arrival_us, 0);
    *ntp = pub->ntp + (guint64)(((unsigned __int128)since << 32) / G_USEC_PER_SEC);
    *rtp = pub->rtp + ts_offset + (guint32)((guint64)since * clock_rate / G_USEC_PER_SEC);
}

/* A publisher's SR older than this no longer describes its clock well (browsers send one
 * every second or so); our own clock stands in. */
#define PUBLISHER_SR_MAX_AGE_US (10 * G_USEC_PER_SEC)

/* Sink worker: the NTP and RTP timestamps of @s's next SR: from its publisher's SR on the
 * source it now carries, else from our clock at the time its newest packet went out (right to
 * within how much later than its audio a speaker's video reached us). */
static void sink_sr_times(struct router_sink *s, gint64 now, struct kumis_rtcp_sr *sr)
{
    int layer = s->source->d.video ? s->cur_layer : 0;
    struct router_sr_point pub;
    /* The SR must be of the very stream the track carries now: a camera turned off and on
     * again sends a new SSRC on the same layer, with a clock of its own. */
    if (layer >= 0 && (guint)layer < s->source->d.n_layers &&
        layer_read_sr(&s->source->layers[layer], &pub) && pub.ssrc == s->rw.src_ssrc &&
        now - pub.arrival_us < PUBLISHER_SR_MAX_AGE_US) {
        guint64 ntp;
        router_sr_translate(&pub, s->rw.ts_offset, s->rw.clock_rate, now, &ntp, &sr->rtp_timestamp);
        sr->ntp_sec = (guint32)(ntp >> 32);
        sr->ntp_frac = (guint32)ntp;
        return;
    }
    ntp_now(&sr->ntp_sec, &sr->ntp_frac);
    sr->rtp_timestamp = s->rw.out_highest_ts + (guint32)((now - s->rw.out_highest_ts_wall_us) *
                                                         s->rw.clock_rate / G_USEC_PER_SEC);
}

/* Towards a subscriber: one sender report per track (RFC 3550 §6.4.1). */
static void peer_rtcp_down(struct router_peer *peer)
{
    if (peer->down == NULL || kumis_transport_get_state(peer->down) != KUMIS_TRANSPORT_READY)
        return;
    gint64 now = g_get_monotonic_time();
    for (guint i = 0; peer->sinks && i < peer->sinks->len; i++) {
        struct router_sink *s = g_ptr_array_index(peer->sinks, i);
        if (!s->rw.started)
            continue;
        struct kumis_rtcp_sr sr = {.ssrc = s->d.ssrc};
        sink_sr_times(s, now, &sr);
        sr.packet_count = (guint32)atomic_load(&s->packets_out);
        sr.octet_count = (guint32)atomic_load(&s->bytes_out);
        guint8 buf[256];
        gssize n = kumis_rtcp_build_sr(buf, 200, &sr);
        if (n > 0)
            kumis_transport_send_rtcp(peer->down, buf, (gsize)n, sizeof buf);
    }
}

gboolean router_worker_on_tick(gpointer data)
{
    struct router_worker *rw = data;
    for (guint i = 0; i < rw->peers->len; i++) {
        struct router_peer *peer = g_ptr_array_index(rw->peers, i);
        peer_rtcp_up(peer);
        peer_rtcp_down(peer);
    }
    return G_SOURCE_CONTINUE;
}

gboolean router_peer_start_rtcp(gpointer data)
{
    struct router_peer *peer = data;
    g_ptr_array_add(peer->rw->peers, router_peer_ref(peer));
    return G_SOURCE_REMOVE;
}
