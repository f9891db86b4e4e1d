/* kumis — a worker's video packets held per track until the end of their frame, then
 * forwarded subscriber by subscriber (router_batch_add() in router_internal.h says why).
 *
 * Measured before (perf annotate, fanout N = 100): a tenth of the workers' time went to the
 * first load of each subscriber's state for every packet (the sink, its transport, its SRTP
 * state, its NACK cache slot): a frame's packets arrive ~2 ms apart, and in between the other
 * subscribers' state and the kernel's sockets push it out of the caches. Nothing leaves sooner
 * for being forwarded at once: the send queue holds a subscriber's packets until the frame's
 * marker anyway (media/sender.h). */
#include "media/router_internal.h"

#include "media/packet_cache.h"
#include "media/rtp.h"
#include "media/sender.h"
#include "media/transport.h"
#include "media/worker.h"

#define BATCH_MAX     16                   /* packets; a keyframe leaves in several batches */
#define BATCH_HOLD_US KUMIS_SENDER_HOLD_US /* when the marker does not come (lost, late) */

struct batch_item {
    struct kumis_packet_body *body; /* a reference */
    struct kumis_rtp_header h;
    int layer;
    gboolean keyframe;
};

struct router_batch {
    struct sink_set *set; /* a reference; NULL: the batch is free */
    guint group;
    gint64 deadline_us;
    guint n;
    struct batch_item items[BATCH_MAX];
};

static void batch_release(struct router_batch *b)
{
    for (guint i = 0; i < b->n; i++)
        kumis_packet_body_unref(b->items[i].body);
    b->n = 0;
    router_set_unref(b->set);
    b->set = NULL;
}

/* Every subscriber gets the batch's packets in order before the next subscriber's turn; its
 * burst leaves with the marker, or after the last packet when the batch was cut short. */
static void batch_flush(struct router_batch *b, gboolean cut_short)
{
    GPtrArray *sinks = b->set->groups[b->group].sinks;
    for (guint i = 0; i < sinks->len; i++) {
        struct router_sink *sink = g_ptr_array_index(sinks, i);
        for (guint k = 0; k < b->n; k++) {
            const struct batch_item *it = &b->items[k];
            gsize len;
            const guint8 *data = kumis_packet_body_data(it->body, &len);
            router_sink_forward(sink, it->layer, it->keyframe, it->body, data, &it->h,
                                cut_short && k + 1 == b->n);
        }
    }
    batch_release(b);
}

/* Arms the drain at the earliest deadline, if that is sooner than it is armed for (a wake-up
 * for nothing afterwards is cheaper than re-arming at every flush: GLib wakes the context each
 * time a ready time changes). */
static void batch_arm(struct router_worker *rw, gint64 deadline_us)
{
    if (rw->batch_wake >= 0 && rw->batch_wake <= deadline_us)
        return;
    rw->batch_wake = deadline_us;
    g_source_set_ready_time(rw->drain, deadline_us);
}

static struct router_batch *batch_for(struct router_worker *rw, struct sink_set *set, guint group,
                                      gint64 now)
{
    struct router_batch *free_batch = NULL;
    for (guint i = 0; i < rw->n_batches; i++) {
        struct router_batch *b = &rw->batches[i];
        if (b->set == set)
            return b;
        if (b->set == NULL) {
            if (free_batch == NULL)
                free_batch = b;
        } else if (b->set->owner == set->owner) {
            /* The track's subscribers changed: what waits goes to the ones it was for, and
             * before anything newer. */
            batch_flush(b, TRUE);
            if (free_batch == NULL)
                free_batch = b;
        }
    }
    if (free_batch == NULL) {
        rw->batches = g_renew(struct router_batch, rw->batches, rw->n_batches + 1);
        free_batch = &rw->batches[rw->n_batches++];
        free_batch->set = NULL;
        free_batch->n = 0;
    }
    free_batch->set = router_set_ref(set);
    free_batch->group = group;
    free_batch->deadline_us = now + BATCH_HOLD_US;
    batch_arm(rw, free_batch->deadline_us);
    return free_batch;
}

void router_batch_add(struct router_worker *rw, struct sink_set *set, guint group,
                      struct kumis_packet_body *body, int layer, gboolean keyframe,
                      const struct kumis_rtp_header *h)
{
    struct router_batch *b = batch_for(rw, set, group, g_get_monotonic_time());
    b->items[b->n++] = (struct batch_item){kumis_packet_body_ref(body), *h, layer, keyframe};
    if (h->marker)
        batch_flush(b, FALSE);
    else if (b->n == BATCH_MAX)
        batch_flush(b, TRUE);
}

void router_batch_flush_due(struct router_worker *rw)
{
    if (rw->batch_wake < 0)
        return;
    gint64 now = g_get_monotonic_time();
    gint64 next = -1;
    for (guint i = 0; i < rw->n_batches; i++) {
        struct router_batch *b = &rw->batches[i];
        if (b->set == NULL)
            continue;
        if (b->deadline_us <= now)
            batch_flush(b, TRUE);
        else if (next < 0 || b->deadline_us < next)
            next = b->deadline_us;
    }
    /* GLib keeps dispatching a source whose ready time has passed until it is changed. */
    if (next != rw->batch_wake) {
        rw->batch_wake = next;
        g_source_set_ready_time(rw->drain, next);
    }
}

void router_batch_clear(struct router_worker *rw)
{
    for (guint i = 0; i < rw->n_batches; i++)
        if (rw->batches[i].set != NULL)
            batch_release(&rw->batches[i]);
    g_clear_pointer(&rw->batches, g_free);
    rw->n_batches = 0;
    rw->batch_wake = -1;
}
