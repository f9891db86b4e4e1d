/* kumis — repairing what a publisher's network lost, on the source's worker.
 *
 * A packet lost between a speaker and kumis is lost for every subscriber, and none of their
 * NACKs can be answered from our caches: each attendee's picture breaks until a keyframe. So
 * kumis NACKs the publisher itself (RFC 4585 §6.2.1): a gap in a layer's sequence numbers is
 * asked for at once and again every REPAIR_RETRY_US, at most REPAIR_TRIES times and for at
 * most REPAIR_GIVE_UP_US. Chromium resends on its RTX stream (RFC 4588), which is unwrapped
 * here into the original packet; the router then forwards it like any late packet (the
 * subscribers' rewriters map it to the sequence number they saw missing). */
#include "media/router_internal.h"

#include <string.h>

#include "media/rtcp.h"
#include "media/transport.h"

#define REPAIR_RETRY_US   40000 /* a loopback RTT is < 1 ms, a bad mobile link ~300 ms */
#define REPAIR_TRIES      3
#define REPAIR_GIVE_UP_US 1000000 /* older than this it is too late to show */
#define REPAIR_MAX_JUMP   200     /* more at once is an outage or a restart: a keyframe helps */

static void missing_add(struct layer *l, guint16 seq, gint64 now)
{
    if (l->n_missing == REPAIR_MISSING_MAX) { /* the oldest goes */
        memmove(&l->missing[0], &l->missing[1], (REPAIR_MISSING_MAX - 1) * sizeof l->missing[0]);
        l->n_missing--;
    }
    l->missing[l->n_missing++] = (struct repair_missing){seq, 0, now, 0};
}

static gboolean missing_remove(struct layer *l, guint16 seq)
{
    for (guint i = 0; i < l->n_missing; i++) {
        if (l->missing[i].seq == seq) {
            memmove(&l->missing[i], &l->missing[i + 1],
                    (l->n_missing - i - 1) * sizeof l->missing[0]);
            l->n_missing--;
            return TRUE;
        }
    }
    return FALSE;
}

/* Drops what is past hope and NACKs, in one RTCP packet, what is due. */
static void repair_send_nacks(struct router_source *s, struct layer *l, gint64 now)
{
    guint16 seqs[REPAIR_MISSING_MAX];
    gsize n = 0;
    guint kept = 0;
    for (guint i = 0; i < l->n_missing; i++) {
        struct repair_missing m = l->missing[i];
        gboolean due = m.tries == 0 || now - m.nacked_us >= REPAIR_RETRY_US;
        if (now - m.since_us > REPAIR_GIVE_UP_US || (due && m.tries >= REPAIR_TRIES))
            continue;
        if (due) {
            m.tries++;
            m.nacked_us = now;
            seqs[n++] = m.seq;
        }
        l->missing[kept++] = m;
    }
    l->n_missing = kept;
    guint32 ssrc = atomic_load(&l->ssrc);
    struct kumis_transport *up = s->peer->up;
    if (n == 0 || ssrc == 0 || up == NULL)
        return;
    guint8 buf[512];
    gssize len = kumis_rtcp_build_nack(buf, sizeof buf - 64, s->peer->rtcp_ssrc, ssrc, seqs, n);
    if (len > 0 && kumis_transport_send_rtcp(up, buf, (gsize)len, sizeof buf))
        atomic_fetch_add_explicit(&s->nacks_out, 1, memory_order_relaxed);
}

void router_source_repair(struct router_source *s, int layer, guint16 seq, gint64 now)
{
    struct layer *l = &s->layers[layer];
    if (!l->seq_started) {
        l->seq_started = TRUE;
        l->highest_seq = seq;
        return;
    }
    gint16 ahead = (gint16)(guint16)(seq - l->highest_seq);
    if (ahead > 0) {
        if (ahead > REPAIR_MAX_JUMP)
            l->n_missing = 0;
        else
            for (guint16 q = (guint16)(l->highest_seq + 1); q != seq; q++)
                missing_add(l, q, now);
        l->highest_seq = seq;
    } else if (ahead < 0 && missing_remove(l, seq)) {
        atomic_fetch_add_explicit(&s->repaired, 1, memory_order_relaxed);
    }
    if (l->n_missing > 0)
        repair_send_nacks(s, l, now);
}

/* The source and layer an RTX packet repairs: by its SSRC once learned, else by the mid and
 * repaired-rid extensions (RFC 8852 §3.2; Chromium sends them until our reports name the
 * stream), a single-layer source needing the mid only. */
static struct router_source *rtx_match(struct router_peer *peer, const guint8 *data,
                                       const struct kumis_rtp_header *h, int *layer)
{
    GPtrArray *sources = peer->sources;
    for (guint i = 0; sources && i < sources->len; i++) {
        struct router_source *s = g_ptr_array_index(sources, i);
        if (s->d.rtx_pt < 0)
            continue;
        for (guint l = 0; l < s->d.n_layers; l++) {
            if (atomic_load_explicit(&s->layers[l].rtx_ssrc, memory_order_relaxed) == h->ssrc) {
                *layer = (int)l;
                return s;
            }
        }
    }
    for (guint i = 0; sources && i < sources->len; i++) {
        struct router_source *s = g_ptr_array_index(sources, i);
        char mid[32], rrid[16];
        if (s->d.rtx_pt != h->payload_type || !s->d.ext_mid ||
            kumis_rtp_ext_string(data, h, s->d.ext_mid, mid, sizeof mid) < 0 ||
            strcmp(mid, s->mid) != 0)
            continue;
        gboolean has_rrid =
            s->d.ext_rrid && kumis_rtp_ext_string(data, h, s->d.ext_rrid, rrid, sizeof rrid) > 0;
        for (guint l = 0; l < s->d.n_layers; l++) {
            if (has_rrid ? strcmp(rrid, s->layers[l].rid) == 0 : s->d.n_layers == 1) {
                atomic_store(&s->layers[l].rtx_ssrc, h->ssrc);
                *layer = (int)l;
                return s;
            }
        }
    }
    return NULL;
}

int router_repair_unwrap_rtx(struct router_peer *peer, guint8 *data, gsize *len,
                             struct kumis_rtp_header *h, struct router_source **source, int *layer)
{
    GPtrArray *sources = peer->sources;
    gboolean rtx = FALSE;
    for (guint i = 0; sources && i < sources->len && !rtx; i++) {
        const struct router_source *s = g_ptr_array_index(sources, i);
        rtx = s->d.rtx_pt >= 0 && s->d.rtx_pt == h->payload_type;
    }
    if (!rtx)
        return 0;
    struct router_source *s = rtx_match(peer, data, h, layer);
    guint32 ssrc = s ? atomic_load(&s->layers[*layer].ssrc) : 0;
    /* Unknown, or a padding-only probe. */
    if (ssrc == 0 || !kumis_rtp_from_rtx(data, len, h, s->d.pt, ssrc))
        return -1;
    *source = s;
    return 1;
}
