/* kumis — a worker's packets on their way to many subscribers: the hand-over to the other
 * workers (their inboxes and when to wake them), the bursts of media/burst.h (a worker's video
 * packets wait for the end of their frame, then go out subscriber by subscriber), and the
 * prefetching in the loops over subscribers.
 *
 * Measured before (perf annotate, fanout N = 100): a tenth of the workers' time went to the
 * first load of each subscriber's state for every packet (the sink, its transport, its SRTP
 * state, its NACK cache slot): a frame's packets arrive ~2 ms apart, and in between the other
 * subscribers' state and the kernel's sockets push it out of the caches. Nothing leaves later
 * for waiting: the send queue held a subscriber's packets until the frame's marker anyway
 * (media/sender.h). */
#include "media/router_internal.h"

#include <stdatomic.h>
#include <stddef.h>

#include "media/burst.h"
#include "media/inbox.h"
#include "media/keyframe_run.h"
#include "media/packet_cache.h"
#include "media/rtp.h"
#include "media/transport.h"
#include "media/worker.h"

#define DRAIN_BATCH 64 /* inbox items taken per dispatch */

/* A packet handed to another worker: one per destination worker. */
struct fwd {
    struct inbox_item link; /* first: the inbox item is the struct */
    struct sink_set *set;
    guint group;
    int layer;
    gboolean keyframe;
    struct kumis_packet_body *body; /* the packet, kept on by the subscribers' caches */
};

/* The fields a packet reads come before the loss estimator (the second half of the struct is
 * for receiver reports). */
static void prefetch_sink(const struct router_sink *sink)
{
    for (gsize at = 0; at < offsetof(struct router_sink, loss); at += 64)
        __builtin_prefetch((const char *)sink + at);
}

/* What a sink's next packet will read, in five stages, each from what the stage before
 * fetched: 5 ahead the sink, 4 ahead its transport and NACK cache, 3 ahead its SRTP session
 * and the cache slots it will fill, 2 ahead the session's keys and per-SSRC table, 1 ahead the
 * cipher context and SSRC states behind them. */
#define PREFETCH_STAGES 5

static void prefetch_stage(GPtrArray *sinks, guint at, guint stage)
{
    if (at >= sinks->len)
        return;
    const struct router_sink *sink = g_ptr_array_index(sinks, at);
    switch (stage) {
    case 5:
        prefetch_sink(sink);
        break;
    case 4:
        kumis_transport_prefetch(sink->down);
        if (sink->cache)
            kumis_packet_cache_prefetch_head(sink->cache);
        break;
    case 3:
        kumis_transport_prefetch_srtp(sink->down, 0);
        if (sink->cache)
            kumis_packet_cache_prefetch(sink->cache, (guint16)(sink->rw.out_highest_seq + 1));
        break;
    case 2:
        kumis_transport_prefetch_srtp(sink->down, 1);
        break;
    default:
        kumis_transport_prefetch_srtp(sink->down, 2);
        break;
    }
}

void router_sinks_prefetch(GPtrArray *sinks, guint i)
{
    if (i == 0) { /* the loop's start: sink k gets the stages above k, fetched ahead */
        for (guint stage = PREFETCH_STAGES; stage >= 2; stage--)
            for (guint k = 1; k < stage; k++)
                prefetch_stage(sinks, k, stage);
    }
    for (guint stage = PREFETCH_STAGES; stage >= 1; stage--)
        prefetch_stage(sinks, i + stage, stage);
}

static void *batch_set_ref(void *set)
{
    return router_set_ref(set);
}

static void batch_set_unref(void *set)
{
    router_set_unref(set);
}

/* A subscriber that has no layer yet (it just became ready) starts on the keyframe in flight
 * when this burst continues it (media/keyframe_run.h): the run's packets first, then the
 * burst's as for everyone. */
static void batch_join_run(struct router_sink *sink, guint worker,
                           const struct kumis_burst_packet *packets, guint n, gint64 now)
{
    if (sink->cur_layer >= 0 || sink->source->runs == NULL ||
        kumis_transport_get_state(sink->down) != KUMIS_TRANSPORT_READY)
        return;
    int layer = router_sink_target_layer(sink, now);
    if (layer < 0)
        return;
    const struct kumis_burst_packet *next = NULL;
    for (guint k = 0; k < n && next == NULL; k++)
        if (packets[k].layer == layer)
            next = &packets[k];
    if (next == NULL)
        return;
    struct kumis_keyframe_run *run = router_source_run(sink->source, worker, layer);
    guint count = kumis_keyframe_run_joinable(run, &next->h, next->keyframe, now);
    for (guint i = 0; i < count; i++) {
        gsize len;
        const guint8 *data = kumis_packet_body_data(run->bodies[i], &len);
        struct kumis_rtp_header h;
        if (!kumis_rtp_parse(data, len, &h)) /* cannot fail: parsed on its way in */
            return;
        router_sink_forward(sink, layer, i == 0, run->bodies[i], data, &h, 0, FALSE, now);
    }
    if (count > 0 && sink->cur_layer == layer)
        atomic_fetch_add_explicit(&sink->keyframe_joins, 1, memory_order_relaxed);
}

/* Every subscriber gets the burst's packets in order before the next one's turn; its queue
 * leaves with the marker, or after the last packet when the burst was cut short. Then the
 * burst extends the keyframe runs this worker keeps for subscribers to come. */
static void batch_flush(void *user_data, void *key, guint group,
                        const struct kumis_burst_packet *packets, guint n, gboolean cut_short)
{
    const struct router_worker *rw = user_data;
    const struct sink_set *set = key;
    GPtrArray *sinks = set->groups[group].sinks;
    gint64 now = g_get_monotonic_time();
    guint8 pads[KUMIS_BURST_MAX];
    g_assert(n <= KUMIS_BURST_MAX);
    kumis_burst_pads(packets, n, pads);
    for (guint i = 0; i < sinks->len; i++) {
        router_sinks_prefetch(sinks, i);
        struct router_sink *sink = g_ptr_array_index(sinks, i);
        batch_join_run(sink, rw->index, packets, n, now);
        for (guint k = 0; k < n; k++) {
            const struct kumis_burst_packet *p = &packets[k];
            gsize len;
            const guint8 *data = kumis_packet_body_data(p->body, &len);
            router_sink_forward(sink, p->layer, p->keyframe, p->body, data, &p->h, pads[k],
                                cut_short && k + 1 == n, now);
        }
    }
    if (sinks->len == 0)
        return;
    struct router_source *source = ((struct router_sink *)g_ptr_array_index(sinks, 0))->source;
    if (source->runs == NULL)
        return;
    for (guint k = 0; k < n; k++)
        kumis_keyframe_run_note(router_source_run(source, rw->index, packets[k].layer),
                                packets[k].body, &packets[k].h, packets[k].keyframe, now);
}

static const struct kumis_bursts_funcs batch_funcs = {batch_set_ref, batch_set_unref, batch_flush};

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

static void router_handover_push(struct router_worker *from, struct router_worker *to,
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

static gint64 router_batch_deadline(const struct router_worker *rw)
{
    gint64 next = kumis_bursts_deadline(rw->bursts);
    for (guint i = 0; i < rw->n_handover; i++) {
        gint64 due = rw->handover[i].due_us;
        if (due >= 0 && (next < 0 || due < next))
            next = due;
    }
    return next;
}

static void router_batch_run_due(struct router_worker *rw, gint64 now)
{
    kumis_bursts_flush_due(rw->bursts, now);
    for (guint i = 0; i < rw->n_handover; i++) {
        struct handover *ho = &rw->handover[i];
        if (ho->due_us < 0 || ho->due_us > now)
            continue;
        struct router_worker *to = router_worker_at(rw->router, i);
        if (atomic_load(&to->inbox.pending) > 0)
            handover_wake(ho, to);
        else
            *ho = (struct handover){.due_us = -1, .waiting = 0}; /* it looked by itself */
    }
}

static void fwd_free(struct fwd *f)
{
    router_set_unref(f->set);
    kumis_packet_body_unref(f->body);
    g_free(f);
}

static void fwd_process(struct fwd *f)
{
    struct kumis_rtp_header h;
    gsize len;
    const guint8 *data = kumis_packet_body_data(f->body, &len);
    if (kumis_rtp_parse(data, len, &h)) {
        if (f->set->video) {
            router_batch_add(f->set->groups[f->group].rw, f->set, f->group, f->body, f->layer,
                             f->keyframe, &h);
        } else {
            gint64 now = g_get_monotonic_time();
            GPtrArray *sinks = f->set->groups[f->group].sinks;
            for (guint i = 0; i < sinks->len; i++) {
                router_sinks_prefetch(sinks, i);
                router_sink_forward(g_ptr_array_index(sinks, i), f->layer, f->keyframe, NULL, data,
                                    &h, 0, FALSE, now);
            }
        }
    }
    fwd_free(f);
}

void router_handover_packet(struct router_worker *from, struct sink_set *set, guint group,
                            int layer, gboolean keyframe, const guint8 *data, gsize len,
                            const struct kumis_rtp_header *h, gint64 now)
{
    struct fwd *f = g_new(struct fwd, 1);
    f->set = router_set_ref(set);
    f->group = group;
    f->layer = layer;
    f->keyframe = keyframe;
    f->body = kumis_packet_body_new(data, len);
    router_handover_push(from, set->groups[group].rw, &f->link, !set->video || h->marker, now);
}

/* The drain runs when the inbox holds packets or a deadline of router_batch.c is due; the
 * deadline is read here, before each wait, rather than set as a GLib ready time. */
static gboolean drain_prepare(GSource *source, gint *timeout)
{
    struct router_worker *rw = *(struct router_worker **)(source + 1);
    *timeout = -1;
    inbox_acknowledge(&rw->inbox);
    if (atomic_load(&rw->inbox.pending) > 0)
        return TRUE;
    gint64 due = router_batch_deadline(rw);
    if (due < 0)
        return FALSE;
    gint64 left = due - g_source_get_time(source);
    if (left <= 0)
        return TRUE;
    *timeout = (gint)((left + 999) / 1000);
    return FALSE;
}

static gboolean drain_check(GSource *source)
{
    struct router_worker *rw = *(struct router_worker **)(source + 1);
    if (atomic_load(&rw->inbox.pending) > 0)
        return TRUE;
    gint64 due = router_batch_deadline(rw);
    return due >= 0 && due <= g_source_get_time(source);
}

static gboolean drain_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    (void)cb;
    (void)data;
    struct router_worker *rw = *(struct router_worker **)(source + 1);
    for (int i = 0; i < DRAIN_BATCH; i++) {
        struct inbox_item *item = inbox_pop(&rw->inbox);
        if (item == NULL)
            break;
        fwd_process((struct fwd *)item);
    }
    router_batch_run_due(rw, g_get_monotonic_time());
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs drain_funcs = {drain_prepare, drain_check, drain_dispatch, NULL, NULL, NULL};

void router_batch_init(struct router_worker *rw, guint n_workers)
{
    inbox_init(&rw->inbox);
    rw->bursts = kumis_bursts_new(&batch_funcs, rw);
    rw->handover = g_new(struct handover, n_workers);
    rw->n_handover = n_workers;
    for (guint i = 0; i < n_workers; i++)
        rw->handover[i] = (struct handover){.due_us = -1, .waiting = 0};
    rw->drain = g_source_new(&drain_funcs, sizeof(GSource) + sizeof(void *));
    *(struct router_worker **)(rw->drain + 1) = rw;
    /* Not above libnice's sources: GLib dispatches only the highest ready priority, and under
     * load the inbox is never empty, so a higher drain starved libnice's STUN consent checks
     * until it declared consent lost on the receiving worker. */
    g_source_set_priority(rw->drain, G_PRIORITY_DEFAULT);
    g_source_attach(rw->drain, kumis_worker_get_context(rw->worker));
}

void router_batch_clear(struct router_worker *rw)
{
    g_source_destroy(rw->drain);
    g_clear_pointer(&rw->drain, g_source_unref);
    for (struct inbox_item *it; (it = inbox_pop(&rw->inbox)) != NULL;)
        fwd_free((struct fwd *)it);
    g_clear_pointer(&rw->bursts, kumis_bursts_free);
    g_clear_pointer(&rw->handover, g_free);
    rw->n_handover = 0;
}
