/* kumis — a transport's packet path out: SRTP protect in place, then the worker's batched
 * sender (media/sender.h) on the selected pair's socket, or libnice before that. */
#include <string.h>

#include "media/srtp_session.h"
#include "media/transport_internal.h"
#include "media/worker.h"

/* How a datagram leaves: at once, or queued on the worker's sender with the rest of its burst
 * (media/sender.h), the burst ending with it or not. */
enum transport_send_mode {
    TRANSPORT_SEND_NOW,
    TRANSPORT_SEND_QUEUE,
    TRANSPORT_SEND_QUEUE_END,
};

static void transport_count_sent(struct kumis_transport *t, gsize len, gboolean rtcp)
{
    STAT_ADD(t, packets_out, 1);
    STAT_ADD(t, bytes_out, len);
    if (rtcp)
        STAT_ADD(t, rtcp_out, 1);
    else
        STAT_ADD(t, rtp_out, 1);
}

/* Protects in place, then sends: straight to the selected pair's socket through the worker's
 * sender when READY on a plain UDP pair, else through libnice. A datagram the kernel refuses
 * later counts in send_failed too (kumis_transport_get_stats). */
static gboolean transport_send(struct kumis_transport *t, guint8 *buf, gsize len, gsize capacity,
                               gboolean rtcp, enum transport_send_mode mode)
{
    if (g_atomic_int_get(&t->state) != KUMIS_TRANSPORT_READY || t->srtp == NULL) {
        STAT_ADD(t, send_not_ready, 1);
        return FALSE;
    }
    gboolean ok = rtcp ? kumis_srtp_session_protect_rtcp(t->srtp, buf, &len, capacity)
                       : kumis_srtp_session_protect_rtp(t->srtp, buf, &len, capacity);
    if (ok && t->target.set) {
        struct kumis_sender *sender = kumis_worker_get_sender(t->worker);
        if (mode == TRANSPORT_SEND_NOW || !kumis_sender_queue(sender, &t->target, buf, len)) {
            if (!kumis_sender_send(sender, &t->target, buf, len))
                return FALSE; /* counted in the target's dropped, part of send_failed */
        } else if (mode == TRANSPORT_SEND_QUEUE_END) {
            kumis_sender_flush_target(sender, &t->target);
        }
    } else if (ok) {
        ok = nice_agent_send(t->agent, t->stream_id, TRANSPORT_COMPONENT, len,
                             (const gchar *)buf) == (gint)len;
    }
    if (!ok) {
        STAT_ADD(t, send_failed, 1);
        return FALSE;
    }
    transport_count_sent(t, len, rtcp);
    return TRUE;
}

gboolean kumis_transport_send_rtp(struct kumis_transport *transport, guint8 *buf, gsize len,
                                  gsize capacity)
{
    return transport_send(transport, buf, len, capacity, FALSE, TRANSPORT_SEND_NOW);
}

gboolean kumis_transport_queue_rtp(struct kumis_transport *transport, guint8 *buf, gsize len,
                                   gsize capacity, gboolean end_of_burst)
{
    return transport_send(transport, buf, len, capacity, FALSE,
                          end_of_burst ? TRANSPORT_SEND_QUEUE_END : TRANSPORT_SEND_QUEUE);
}

guint8 *kumis_transport_reserve_rtp(struct kumis_transport *transport)
{
    if (g_atomic_int_get(&transport->state) != KUMIS_TRANSPORT_READY || transport->srtp == NULL ||
        !transport->target.set)
        return NULL;
    return kumis_sender_reserve(kumis_worker_get_sender(transport->worker));
}

gboolean kumis_transport_commit_rtp(struct kumis_transport *transport, guint8 *slot, gsize len,
                                    gboolean end_of_burst)
{
    struct kumis_transport *t = transport;
    struct kumis_sender *sender = kumis_worker_get_sender(t->worker);
    if (!kumis_srtp_session_protect_rtp(t->srtp, slot, &len, KUMIS_TRANSPORT_SLOT_SIZE) ||
        !kumis_sender_commit(sender, &t->target, len)) {
        kumis_sender_cancel(sender);
        STAT_ADD(t, send_failed, 1);
        return FALSE;
    }
    if (end_of_burst)
        kumis_sender_flush_target(sender, &t->target);
    transport_count_sent(t, len, FALSE);
    return TRUE;
}

void kumis_transport_cancel_rtp(struct kumis_transport *transport)
{
    kumis_sender_cancel(kumis_worker_get_sender(transport->worker));
}

void kumis_transport_prefetch(const struct kumis_transport *transport)
{
    for (gsize at = 0; at < sizeof *transport; at += 64)
        __builtin_prefetch((const char *)transport + at);
}

void kumis_transport_prefetch_srtp(const struct kumis_transport *transport, guint level)
{
    if (transport->srtp == NULL)
        return;
    if (level > 0)
        kumis_srtp_session_prefetch_keys(transport->srtp, level > 1);
    else
        kumis_srtp_session_prefetch(transport->srtp);
}

gboolean kumis_transport_flush_is_batched(struct kumis_transport *transport)
{
    return kumis_sender_flush_is_batched(kumis_worker_get_sender(transport->worker));
}

void kumis_transport_flush_rtp(struct kumis_transport *transport)
{
    kumis_sender_flush_target(kumis_worker_get_sender(transport->worker), &transport->target);
}

gboolean kumis_transport_send_rtcp(struct kumis_transport *transport, guint8 *buf, gsize len,
                                   gsize capacity)
{
    return transport_send(transport, buf, len, capacity, TRUE, TRANSPORT_SEND_NOW);
}
