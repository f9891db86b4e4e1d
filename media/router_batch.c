/* kumis — the router's side of media/burst.h: a worker's video packets wait for the end of
 * their frame, then go out subscriber by subscriber.
 *
 * Measured before (perf annotate, fanout N = 100): a tenth of the workers' time went to the
 * first load of each subscriber's state for every packet (the sink, its transport, its SRTP
 * state, its NACK cache slot): a frame's packets arrive ~2 ms apart, and in between the other
 * subscribers' state and the kernel's sockets push it out of the caches. Nothing leaves later
 * for waiting: the send queue held a subscriber's packets until the frame's marker anyway
 * (media/sender.h). */
#include "media/router_internal.h"

#include "media/burst.h"
#include "media/transport.h"

static void *batch_set_ref(void *set)
{
    return router_set_ref(set);
}

static void batch_set_unref(void *set)
{
    router_set_unref(set);
}

/* Every subscriber gets the burst's packets in order before the next one's turn; its queue
 * leaves with the marker, or after the last packet when the burst was cut short. */
static void batch_flush(void *user_data, void *key, guint group,
                        const struct kumis_burst_packet *packets, guint n, gboolean cut_short)
{
    (void)user_data;
    const struct sink_set *set = key;
    GPtrArray *sinks = set->groups[group].sinks;
    gint64 now = g_get_monotonic_time();
    for (guint i = 0; i < sinks->len; i++) {
        struct router_sink *sink = g_ptr_array_index(sinks, i);
        for (guint k = 0; k < n; k++) {
            const struct kumis_burst_packet *p = &packets[k];
            gsize len;
            const guint8 *data = kumis_packet_body_data(p->body, &len);
            router_sink_forward(sink, p->layer, p->keyframe, p->body, data, &p->h,
                                cut_short && k + 1 == n, now);
        }
    }
}

static const struct kumis_bursts_funcs batch_funcs = {batch_set_ref, batch_set_unref, batch_flush};

void router_batch_init(struct router_worker *rw)
{
    rw->bursts = kumis_bursts_new(&batch_funcs, rw);
    rw->batch_wake = -1;
}

/* Re-arms the drain only when a deadline comes sooner than it is armed for: GLib wakes the
 * context each time a ready time changes outside a dispatch, and a wake-up for nothing once a
 * frame is cheaper. */
static void batch_arm(struct router_worker *rw)
{
    gint64 next = kumis_bursts_deadline(rw->bursts);
    if (next >= 0 && (rw->batch_wake < 0 || next < rw->batch_wake)) {
        rw->batch_wake = next;
        g_source_set_ready_time(rw->drain, next);
    }
}

void router_batch_add(struct router_worker *rw, struct sink_set *set, guint group,
                      struct kumis_packet_body *body, int layer, gboolean keyframe,
                      const struct kumis_rtp_header *h)
{
    kumis_bursts_add(rw->bursts, set, set->owner, group, body, h, layer, keyframe,
                     g_get_monotonic_time());
    batch_arm(rw);
}

void router_batch_flush_due(struct router_worker *rw)
{
    if (rw->batch_wake < 0)
        return;
    kumis_bursts_flush_due(rw->bursts, g_get_monotonic_time());
    gint64 next = kumis_bursts_deadline(rw->bursts);
    /* GLib keeps dispatching a source whose ready time has passed until it is changed. */
    if (next != rw->batch_wake) {
        rw->batch_wake = next;
        g_source_set_ready_time(rw->drain, next);
    }
}

void router_batch_clear(struct router_worker *rw)
{
    g_clear_pointer(&rw->bursts, kumis_bursts_free);
    rw->batch_wake = -1;
}
