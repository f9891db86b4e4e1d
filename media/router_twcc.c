/* kumis — transport-wide congestion control feedback to publishers
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01). A publisher's browser numbers every
 * packet it sends on the connection (media, RTX, padding probes) in one header extension; we
 * tell it when each arrived, and its delay-based bandwidth estimate sees a queue building on
 * its uplink before packets are lost. With receiver reports alone it only learnt of loss: a
 * speaker on a 500 kbit/s uplink then hovered at the cap with 5-10 % loss and the attendees
 * decoded next to nothing (e2e/sfu-weak-uplink). */
#include "media/router_internal.h"

#include "media/rtcp.h"
#include "media/rtp.h"

#include <string.h>

/* How often feedback goes out while packets come (libwebrtc's receivers: 50-250 ms). */
#define TWCC_INTERVAL_US 50000

static guint8 peer_twcc_ext(struct router_peer *peer)
{
    for (guint i = 0; peer->sources && i < peer->sources->len; i++) {
        const struct router_source *s = g_ptr_array_index(peer->sources, i);
        if (s->d.ext_twcc)
            return s->d.ext_twcc;
    }
    return 0;
}

static guint32 peer_media_ssrc(struct router_peer *peer)
{
    for (guint i = 0; peer->sources && i < peer->sources->len; i++) {
        const struct router_source *s = g_ptr_array_index(peer->sources, i);
        guint32 ssrc = atomic_load_explicit(&s->layers[0].ssrc, memory_order_relaxed);
        if (ssrc)
            return ssrc;
    }
    return 0;
}

/* Sends what the window holds and starts the next one after it. */
static void twcc_flush(struct router_peer *peer, gint64 now)
{
    struct router_twcc *tw = &peer->twcc;
    if (tw->n == 0)
        return;
    struct kumis_twcc_status status[ROUTER_TWCC_WINDOW];
    for (guint i = 0; i < tw->n; i++) {
        status[i].seq = (guint16)(tw->base + i);
        status[i].received = tw->arrival_us[i] != 0;
        status[i].arrival_us = tw->arrival_us[i];
    }
    guint8 buf[ROUTER_TWCC_WINDOW * 3 + 128];
    gssize len = kumis_rtcp_build_twcc(buf, sizeof buf - 64, peer->rtcp_ssrc, peer_media_ssrc(peer),
                                       status, tw->n, tw->fb_count++);
    /* -1: two arrivals more than ~8 s apart; that window is dropped, the next starts fresh. */
    if (len > 0 && peer->up != NULL && kumis_transport_get_state(peer->up) == KUMIS_TRANSPORT_READY)
        if (kumis_transport_send_rtcp(peer->up, buf, (gsize)len, sizeof buf))
            atomic_fetch_add_explicit(&peer->twcc_sent, 1, memory_order_relaxed);
    tw->base = (guint16)(tw->base + tw->n);
    memset(tw->arrival_us, 0, tw->n * sizeof tw->arrival_us[0]);
    tw->n = 0;
    tw->last_sent_us = now;
}

void router_twcc_on_packet(struct router_peer *peer, const guint8 *data,
                           const struct kumis_rtp_header *h, gint64 now)
{
    guint8 ext = peer_twcc_ext(peer);
    guint16 seq;
    if (ext == 0 || !kumis_rtp_ext_twcc_seq(data, h, ext, &seq))
        return;
    struct router_twcc *tw = &peer->twcc;
    if (!tw->started) {
        tw->started = TRUE;
        tw->base = seq;
        tw->last_sent_us = now;
    }
    gint off = (gint16)(guint16)(seq - tw->base);
    if (off < 0)
        return; /* reported as lost already; a late packet is the estimator's loss */
    if (off >= ROUTER_TWCC_WINDOW) {
        twcc_flush(peer, now);
        off = (gint16)(guint16)(seq - tw->base);
        if (off < 0 || off >= ROUTER_TWCC_WINDOW) {
            tw->base = seq; /* a jump (a restart, or a hostile peer): start over here */
            off = 0;
        }
    }
    tw->arrival_us[off] = now;
    tw->n = MAX(tw->n, (guint)off + 1);
    if (now - tw->last_sent_us >= TWCC_INTERVAL_US)
        twcc_flush(peer, now);
}
