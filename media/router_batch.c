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
#include "media/worker.h"

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
        router_sinks_prefetch(sinks, i);
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

void router_batch_init(struct router_worker *rw, guint n_workers)
{
    rw->bursts = kumis_bursts_new(&batch_funcs, rw);
    rw->handover = g_new(struct handover, n_workers);
    rw->n_handover = n_workers;
    for (guint i = 0; i < n_workers; i++)
        rw->handover[i] = (struct handover){.due_us = -1, .waiting = 0};
}

void router_batch_add(struct router_worker *rw, struct sink_set *set, guint group,
                      struct kumis_packet_body *body, int layer, gboolean keyframe,
                      const struct kumis_rtp_header *h)
{
    /* No timer to arm: the drain's prepare reads kumis_bursts_deadline() before the worker
     * waits (a GLib ready time set here would write the context's eventfd each time). */
    kumis_bursts_add(rw->bursts, set, set->owner, group, body, h, layer, keyframe,
                     g_get_monotonic_time());
}

static void handover_wake(struct handover *ho, struct router_worker *to)
{
    ho->due_us = -1;
    ho->waiting = 0;
    if (inbox_signal(&to->inbox))
        g_main_context_wakeup(kumis_worker_get_context(to->worker));
}

void router_handover_push(struct router_worker *from, struct router_worker *to,
                          struct inbox_item *item, gboolean ends_burst, gint64 now)
{
    inbox_push(&to->inbox, item);
    struct handover *ho = &from->handover[to->index];
    if (!ends_burst && ++ho->waiting < KUMIS_BURST_MAX) {
        if (ho->due_us < 0)
            ho->due_us = now + KUMIS_BURST_HOLD_US;
        return;
    }
    handover_wake(ho, to);
}

gint64 router_batch_deadline(const struct router_worker *rw)
{
    gint64 next = kumis_bursts_deadline(rw->bursts);
    for (guint i = 0; i < rw->n_handover; i++) {
        gint64 due = rw->handover[i].due_us;
        if (due >= 0 && (next < 0 || due < next))
            next = due;
    }
    return next;
}

void router_batch_run_due(struct router_worker *rw, gint64 now)
{
    kumis_bursts_flush_due(rw->bursts, now);
    struct router_worker *all = rw - rw->index;
    for (guint i = 0; i < rw->n_handover; i++) {
        struct handover *ho = &rw->handover[i];
        if (ho->due_us < 0 || ho->due_us > now)
            continue;
        if (atomic_load(&all[i].inbox.pending) > 0)
            handover_wake(ho, &all[i]);
        else
            *ho = (struct handover){.due_us = -1, .waiting = 0}; /* it looked by itself */
    }
}

void router_batch_clear(struct router_worker *rw)
{
    g_clear_pointer(&rw->bursts, kumis_bursts_free);
    g_clear_pointer(&rw->handover, g_free);
    rw->n_handover = 0;
}
